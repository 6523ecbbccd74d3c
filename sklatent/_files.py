"""Files written whole or not at all: the one atomic-write helper of sklatent.

Every file sklatent writes (cached datasets, translated stores, bridges,
reports, FAISS transforms) is written to a temporary file next to its
destination, which replaces the destination only once it is complete: a
reader never sees a partial file, and an interrupted write leaves the old
file (or nothing) in place.
"""

import contextlib
import os
import tempfile

TEMPORARY_PREFIX = ".sklatent-"
"""Prefix of the temporary files (hidden, next to their destination)."""


@contextlib.contextmanager
def atomic_path(path, *, suffix=""):
    """A temporary path next to ``path``, moved onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or path-like
        The destination.
    suffix : str, default=""
        Suffix of the temporary file (some writers need an extension).

    Yields
    ------
    str
        The temporary file's path (it exists, empty). Write it inside the
        block; on success it replaces ``path``, on any exception (an
        interrupt included) it is removed and the exception propagates.
    """
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(data)
