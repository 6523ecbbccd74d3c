"""Files written whole or not at all: the one atomic-write helper of sklatent.

Every file sklatent writes (cached datasets, translated stores, bridges,
reports, FAISS transforms) is written to a hidden temporary file next to its
destination, which replaces the destination only once it is complete: a
reader never sees a partial file, and an interrupted write leaves the old
file (or nothing) in place. The temporary file is removed on any exception
(Ctrl-C and, in the command line, SIGTERM included); one left behind by a
process that was killed outright (``kill -9``) is removed by the next write
of the same destination, which warns about it. A new file gets the mode the
umask gives (as ``open`` would), a replaced one keeps its mode.
"""

import contextlib
import errno
import os
import stat
import tempfile
import warnings

TEMPORARY_TAG = ".sklatent-tmp-"
"""Between a destination's name and the writer's process id in a temporary
file's name: ``.NAME.sklatent-tmp-PID-RANDOM``."""


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(path):
    """Remove temporary files of ``path`` whose writer is no longer running.

    Parameters
    ----------
    path : str or path-like
        A destination of :func:`atomic_path`.

    Returns
    -------
    list of str
        The files removed.
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    prefix = f".{name}{TEMPORARY_TAG}"
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if not entry.name.startswith(prefix):
                continue
            pid = entry.name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.path)
    return removed


def _mode_for(path):
    """The mode a new ``path`` gets: the replaced file's, else 0o666 less the umask."""
    with contextlib.suppress(FileNotFoundError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path, *, suffix=""):
    """A temporary path next to ``path``, moved onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or path-like
        The destination. A folder is refused before anything is written.
    suffix : str, default=""
        Suffix of the temporary file (some writers need an extension).

    Yields
    ------
    str
        The temporary file's path (it exists, empty). Write it inside the
        block; on success it replaces ``path``, on any exception (an
        interrupt included) it is removed and the exception propagates. An
        ``OSError`` about the temporary file names ``path`` instead.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", path)
    for stale in remove_stale_temporaries(path):
        warnings.warn(
            f"removed {stale}, a temporary file an interrupted run left behind",
            RuntimeWarning,
            stacklevel=3,
        )
    folder, name = os.path.split(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{name}{TEMPORARY_TAG}{os.getpid()}-", suffix=suffix, dir=folder
        )
        os.close(fd)
        os.chmod(tmp, _mode_for(path))
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(exc, OSError) and exc.filename == tmp:
                exc.filename = path
        raise


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(data)
