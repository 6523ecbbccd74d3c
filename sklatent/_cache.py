"""The data cache of :mod:`sklatent.datasets`: where it lives, how files are written
and read back.

Files are ``.npz`` archives written atomically. A file read back is checked
against what its loader expects (names, shapes, dtypes, finite values): a
truncated, empty, foreign or damaged file is reported by name with a
:class:`RuntimeWarning` and rebuilt, never passed on.
"""

import hashlib
import logging
import os
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ._files import atomic_path
from ._sklearn_compat import user_stacklevel

_logger = logging.getLogger("sklatent.datasets")

#: What reading a damaged ``.npz`` file can raise: a truncated or foreign file
#: (BadZipFile, EOFError), a damaged member (zlib.error, a bad CRC), a bad array
#: header or an object array (ValueError), an unreadable file (OSError).
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def get_data_home(data_home=None):
    """Return the folder where sklatent caches its datasets, creating it if needed.

    Datasets computed by sklatent (such as trained embeddings) are stored there, so
    they are computed once per machine rather than once per call.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable
        ``SKLATENT_DATA_HOME`` is used if set and not empty, else
        ``$XDG_CACHE_HOME/sklatent``, else ``~/.cache/sklatent``. A leading
        ``~`` is expanded. The empty string is refused.

    Returns
    -------
    pathlib.Path
        The cache folder; it exists on return.

    Raises
    ------
    ValueError
        If ``data_home`` is the empty string.

    See Also
    --------
    load_digits_embeddings : Parallel embeddings cached in this folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklatent.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(get_data_home(tmp + "/cache").name)
    cache
    """
    if data_home is not None and not os.fspath(data_home).strip():
        raise ValueError(
            f"data_home={os.fspath(data_home)!r} names no folder, so the cache "
            "would land in the working directory: pass a folder, '.' for the "
            "working directory, or None for the default."
        )
    if data_home is None:
        data_home = os.environ.get("SKLATENT_DATA_HOME") or None
    if data_home is None:
        cache = os.environ.get("XDG_CACHE_HOME") or Path("~", ".cache")
        data_home = Path(cache, "sklatent")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _report(message, verbose):
    """Print ``message`` to stderr if ``verbose``, else log it at INFO level."""
    if verbose:
        print(message, file=sys.stderr)
    else:
        _logger.info(message)


def _save_atomic(path, **arrays):
    """Write ``arrays`` to ``path`` as .npz so readers never see a partial file."""
    with atomic_path(path, suffix=".tmp") as tmp, open(tmp, "wb") as file:
        np.savez(file, **arrays)


def fingerprint(header, parts):
    """A short hash (16 hex digits) of ``header`` and a sequence of byte strings.

    It names a cached file after exactly what was encoded, so that other
    inputs, another encoder or another recipe (all in ``header`` or
    ``parts``) never read a stale file.
    """
    digest = hashlib.sha256(header.encode())
    for part in parts:
        digest.update(b"\0" + bytes(part))
    return digest.hexdigest()[:16]


def _read_cached(path, check, *, refresh=False):
    """The arrays cached at ``path``, or None when they must be computed.

    ``check(arrays)`` says why the arrays (a dict) are not the expected ones,
    or returns None; :func:`_expect` makes one from names, shapes and dtypes.
    None is returned when ``refresh`` is set, when the file does not exist,
    or, with a warning naming the file, when it cannot be read or fails the
    check; the caller then rebuilds and overwrites it.
    """
    if refresh or not path.exists():
        return None
    try:
        arrays = _read_npz(path)
    except _READ_ERRORS as exc:
        problem = f"cannot be read ({type(exc).__name__}: {exc})"
    else:
        problem = check(arrays)
    if problem is None:
        return arrays
    warnings.warn(
        f"The cached file {path} {problem}: it is damaged or was written by "
        "something else. It is rebuilt now (refresh=True, or --refresh on the "
        "command line, rebuilds every file).",
        RuntimeWarning,
        stacklevel=user_stacklevel(),
    )
    return None


def _read_npz(path):
    """The arrays of the ``.npz`` file at ``path``, as a dict; the file is closed."""
    with open(path, "rb") as handle:
        loaded = np.load(handle, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded:
            return {name: loaded[name] for name in loaded.files}


def _expect(expected):
    """A check for :func:`_read_cached`: exactly these finite arrays.

    ``expected`` maps each array name to its ``(shape, dtype)``.
    """

    def check(arrays):
        if set(arrays) != set(expected):
            return f"holds arrays {sorted(arrays)} instead of {sorted(expected)}"
        for name, (shape, dtype) in expected.items():
            array = arrays[name]
            if array.shape != tuple(shape) or array.dtype != dtype:
                return (
                    f"holds {name!r} of shape {array.shape} and dtype "
                    f"{array.dtype} instead of {tuple(shape)} and {np.dtype(dtype)}"
                )
            if not np.isfinite(array).all():
                return f"holds NaN or infinite values in {name!r}"
        return None

    return check


def _load_or_train(path, build, train, *, refresh, verbose, label):
    """A module from its cached parameters at ``path``, or ``train()`` and cache it.

    Returns ``(module, trained)``; ``build()`` makes an untrained module of the
    same architecture to load cached parameters into. A damaged file is
    reported and retrained (see :func:`_read_cached`).
    """
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state
        module = build()
    state = module.state_dict()
    expected = {
        key: (tuple(value.shape), value.numpy().dtype) for key, value in state.items()
    }
    cached = _read_cached(path, _expect(expected), refresh=refresh)
    if cached is not None:
        module.load_state_dict({k: torch.from_numpy(v) for k, v in cached.items()})
        _report(f"loaded {label} from {path}", verbose)
        return module.eval(), False
    module = train()
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    _save_atomic(path, **state)
    return module, True
