"""Dask arrays in and out of the estimators and the reduction metrics.

Everything dask-specific lives here, and nothing here knows an estimator:
:mod:`sklatent._base` routes a dask input of the estimators' row-block seam
to :func:`map_blocks` (a transform) or :func:`reduce_blocks` (a fit's
statistics), with the function each block runs; the metrics call
:func:`reduce_blocks` and :func:`weighted_mean` with their own chunk
statistics. Nothing here computes a similarity, a moment or a map: each block
runs the in-memory code path on the workers, and partial results are merged
by the function that merges them in memory, in a tree of tasks, so that rows
never travel to the client.

- A transform is lazy: :meth:`dask.array.Array.map_blocks` over row chunks,
  with the output's ``chunks``, ``dtype`` and ``meta`` known in advance.
  Chunks that split the feature axis are first merged into one feature chunk
  (the kernels need whole rows).
- A fit is a reduction: per-block sufficient statistics, merged pairwise.
  Only the anchor rows (indices drawn from the row count) are gathered.

dask is an optional dependency (``pip install "sklatent[dask]"``), imported
only when one of these functions runs.
"""

import importlib
from functools import partial

import numpy as np

from . import _backend, _validation
from ._sklearn_compat import validate_data

is_dask_array = _backend.is_dask_array

EXTRA_HINT = 'Install it with: pip install "sklatent[{extra}]".'


def import_optional(module, *, extra):
    """Import an optional dependency, or say which extra installs it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"dask.array"``.
    extra : str
        The sklatent extra that installs it, e.g. ``"dask"``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        When the module cannot be imported; the message names the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is needed for this, but it is not installed. "
            + EXTRA_HINT.format(extra=extra)
        ) from exc


def any_dask(*arrays):
    """Whether any of ``arrays`` is a dask array."""
    return any(is_dask_array(X) for X in arrays)


def _dask():
    return import_optional("dask", extra="dask")


def _da():
    return import_optional("dask.array", extra="dask")


# --- input checks -----------------------------------------------------------


def _as_matrix(X, *, name, rows=None):
    """``X`` as a 2-D dask array with one feature chunk, row chunks ``rows``.

    A 1-D array is one column (as for targets). Numpy input becomes a dask
    array with the given row chunks, so that it pairs block by block.
    """
    da = _da()
    if not is_dask_array(X):
        X = _backend.check_target(X, name=name)
        return da.from_array(X, chunks=(rows or X.shape[0], -1))
    X = _backend.one_column(X)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D dask array; got {X.ndim} dimension(s). "
            "Reshape it to (n_samples, n_features)."
        )
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError(
            f"{name} is a dask array with unknown chunk sizes (rows filtered by "
            f"a mask, for example). Call {name}.compute_chunk_sizes() first, so "
            "that its rows can be counted and aligned."
        )
    if np.dtype(X.dtype).kind not in "biuf":
        raise ValueError(
            f"{name} has dtype {X.dtype}; a dask array of numbers is needed."
        )
    if rows is not None and X.chunks[0] != tuple(rows):
        X = X.rechunk({0: rows})
    return X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X


def _output_dtype(X):
    """The dtype rule of :func:`sklatent._backend.float_dtype` for a dask array."""
    dtype = np.dtype(X.dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def check_input(estimator, X, *, reset):
    """Validate a dask ``X`` against ``estimator`` without computing it.

    The feature count and names are checked (or set, with ``reset=True``) by
    scikit-learn's ``validate_data`` from the array's shape alone; values are
    checked block by block when the blocks are computed.

    Returns
    -------
    dask.array.Array
        ``X`` with one feature chunk, (lazily) in the dtype its blocks compute
        in: float32 for float32 and narrower floats, else float64.
    """
    X = _as_matrix(X, name="X")
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    return X.astype(_output_dtype(X))


def check_no_out(out):
    """Refuse ``out=`` for a dask input, whose output is lazy."""
    if out is not None:
        raise ValueError(
            "out= is not supported for dask input: the output is a lazy dask "
            "array. Write it where you want with dask, e.g. "
            "dask.array.to_zarr(result, path) or dask.array.store(result, out)."
        )


# --- map and reduce ---------------------------------------------------------


def map_blocks(function, X, *, n_features_out):
    """Lazy ``function`` of each row block of a dask ``X``.

    Parameters
    ----------
    function : callable
        ``function(block)`` returns the output rows of one numpy block. It
        goes into the graph once.
    X : dask.array.Array of shape (n_samples, n_features)
        Validated input (see :func:`check_input`).
    n_features_out : int
        Columns of the output.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features_out)
        Same row chunks as ``X``, one feature chunk, of ``X``'s dtype.
    """
    dtype = _output_dtype(X)
    function = _dask().delayed(function, pure=True)
    return X.map_blocks(
        _apply,
        function,
        dtype=dtype,
        chunks=(X.chunks[0], (n_features_out,)),
        meta=np.empty((0, 0), dtype=dtype),
    )


def _apply(block, function):
    """One block's result, as a numpy array."""
    return np.asarray(function(block))


def reduce_blocks(function, merge, *arrays):
    """``function`` on each row block of ``arrays``, merged in a tree of tasks.

    Parameters
    ----------
    function : callable
        ``function(*blocks)`` returns a partial result of one row block (numpy
        blocks of each array, the same rows).
    merge : callable
        ``merge(a, b)`` combines two partial results of disjoint rows.
    *arrays : dask.array.Array
        Arrays with the same row chunks and one feature chunk.

    Returns
    -------
    object
        The merged result, computed with the active scheduler (a
        ``distributed.Client`` when one is set as default).
    """
    dask = _dask()
    columns = [array.to_delayed().ravel() for array in arrays]
    parts = [dask.delayed(function)(*blocks) for blocks in zip(*columns, strict=True)]
    merge = dask.delayed(merge)
    while len(parts) > 1:
        pairs = [merge(a, b) for a, b in zip(parts[::2], parts[1::2], strict=False)]
        parts = pairs + parts[len(pairs) * 2 :]
    return dask.compute(parts[0])[0]


def weighted_mean(function, X, Y):
    """Mean over rows of a per-row quantity whose block means ``function`` gives.

    ``function(x, y)`` returns the mean over the rows of one block; blocks are
    weighted by their row counts.
    """
    total, count = reduce_blocks(partial(_weighted, function), _add, X, Y)
    return total / count


def _weighted(function, x, y):
    return function(x, y) * x.shape[0], x.shape[0]


def _add(a, b):
    return tuple(u + v for u, v in zip(a, b, strict=True))


class RowReader:
    """The anchor strategies' view of a dask ``X``: rows computed on demand.

    Has ``shape`` and ``dtype`` and computes only the rows it is indexed
    with, so strategies that draw indices from the row count (random,
    stratified, given indices) gather just the anchors. Strategies that read
    every row (k-means, farthest point) get a clear error instead.
    """

    def __init__(self, X, strategy):
        self._X = X
        self._strategy = strategy
        self.shape = X.shape
        self.dtype = _output_dtype(X)
        self.ndim = 2

    def __getitem__(self, rows):
        rows = np.asarray(rows)
        order = np.argsort(rows, kind="stable")
        block = _backend.check_target(self._X[rows[order]].compute(), name="X")
        result = np.empty_like(block)
        result[order] = block
        return result

    def __array__(self, dtype=None, copy=None):
        raise ValueError(
            f"anchors={self._strategy!r} reads every row of X, which a dask array "
            "does not hold in memory. Use anchors='random' (or 'stratified'), "
            "drawn from the row count, or choose the anchors on a sample that "
            "fits in memory (sklatent.anchors.select_anchors) and pass their "
            "row indices in X as anchors=."
        )


# --- estimators -------------------------------------------------------------


def compute_labels(y):
    """Class labels ``y`` in memory (one number a row), computed if dask."""
    return y.compute() if is_dask_array(y) else y


def check_pairs(estimator, X, y, *, reset):
    """Validate row-aligned ``X`` and ``y`` when either is a dask array.

    Returns
    -------
    X, Y : dask.array.Array
        Two 2-D dask arrays with the same row chunks and one feature chunk, in
        the dtypes their blocks compute in.
    """
    if is_dask_array(X):
        X = check_input(estimator, X, reset=reset)
    else:
        X = _backend.check_array_or_tensor(estimator, X, reset=reset)
        X = _as_matrix(_backend.as_numpy(X), name="X")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            "X and y must hold the same items row by row (parallel pairs), "
            f"but X has {X.shape[0]} rows and y has {y.shape[0]}."
        )
    Y = _as_matrix(y, name="y", rows=X.chunks[0])
    return X, Y.astype(_output_dtype(Y))


# --- metrics ----------------------------------------------------------------


def check_metric_pair(X, Y, *, function, min_rows=1, same_features=False):
    """Validate a pair for a reduction metric when either is a dask array.

    The rules of :func:`sklatent._validation.check_pair`, from the shapes alone;
    values are checked block by block on the workers.

    Returns
    -------
    X, Y : dask.array.Array
        Same row chunks, one feature chunk each.
    """
    X = _as_matrix(X, name="X")
    _validation.check_pair_shapes(
        X.shape,
        Y.shape,
        function=function,
        min_rows=min_rows,
        same_features=same_features,
    )
    return X, _as_matrix(Y, name="Y", rows=X.chunks[0])
