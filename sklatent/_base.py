"""Private base of the torch-backed estimators: the row-block seam.

Every estimator's work on rows goes through two operations, each routing
numpy arrays (and other array-likes), torch tensors and dask arrays once:

- :meth:`TorchTransformer._map_rows`, a map over row blocks: a transform,
  written batch by batch into a new output of the caller's kind or into the
  caller's ``out``, or a lazy dask array for a dask input;
- :meth:`TorchTransformer._reduce_rows`, a reduction over row blocks: the
  statistics of each batch, merged (on dask's workers for a dask input).

An estimator supplies the pure pieces: a function of one batch's tensors (its
transform, or its statistics), the merge of two statistics, and the solve
that turns merged statistics into fitted attributes. Which batch sizes
(:func:`~sklatent._backend.batch_rows`), which device, which dtypes and which
kind of array is decided here and nowhere else; nothing torch lives on the
estimator.
"""

from functools import partial

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from . import _backend, _dask


class TorchTransformer(TransformerMixin, BaseEstimator):
    """Validation, device, dtype, and the row-block seam shared by the estimators.

    Subclasses have ``device`` and ``batch_size`` parameters.
    """

    def _device(self, X):
        """The :class:`torch.device` this call computes on, for input ``X``."""
        return _backend.resolve_device(self.device, X)

    def _check_input(self, X, *, reset):
        """Validate ``X`` once: in memory, or a dask array from its shape.

        Returns
        -------
        ndarray, torch.Tensor or dask.array.Array
            Floating point (float32 or float64).
        """
        if _backend.is_dask_array(X):
            return _dask.check_input(self, X, reset=reset)
        return _backend.check_array_or_tensor(self, X, reset=reset)

    def _check_pair_input(self, X, y, *, reset):
        """Validate row-aligned ``X`` and a target ``y`` (a 1-D ``y`` is a column).

        Returns
        -------
        X, Y : ndarray, torch.Tensor or dask.array.Array
            Both in memory, or both dask arrays with the same row chunks.
        """
        if _dask.any_dask(X, y):
            return _dask.check_pairs(self, X, y, reset=reset)
        X = _backend.check_array_or_tensor(self, X, reset=reset)
        return X, _backend.check_target(y, name="y")

    @staticmethod
    def _readable_rows(X, strategy):
        """What an anchor strategy reads of validated ``X``: numpy rows.

        A dask ``X`` gives a reader that computes only the rows it is indexed
        with (see :class:`sklatent._dask.RowReader`).
        """
        if _backend.is_dask_array(X):
            return _dask.RowReader(X, strategy)
        return _backend.as_numpy(X)

    def _map_rows(self, X, compute, *, n_features_out, row_bytes, out=None):
        """The map over row blocks: ``compute`` of each batch of ``X``, as one output.

        Parameters
        ----------
        X : ndarray, torch.Tensor or dask.array.Array
            Validated input (:meth:`_check_input`).
        compute : callable
            ``compute(x, dest)`` returns one batch's result for the tensor
            ``x`` (on :meth:`_device`, in ``X``'s dtype); ``dest`` is a tensor
            over the batch's output rows to write into, or None. For a dask
            ``X`` it goes into the graph as it is: it holds the fitted state
            as tensors made when it was built, so refitting the estimator
            afterwards does not change the lazy result.
        n_features_out : int
            Output columns.
        row_bytes : int
            Memory one row needs while it is processed.
        out : ndarray or torch.Tensor or None
            The caller's output, or None for a new one of the caller's kind.

        Returns
        -------
        ndarray, torch.Tensor or dask.array.Array
            numpy for array-likes, a tensor on ``X``'s device for a tensor, a
            lazy dask array (same row chunks) for a dask array.
        """
        options = {
            "n_features_out": n_features_out,
            "row_bytes": row_bytes,
            "batch_size": self.batch_size,
            "device": self._device(X),
        }
        if not _backend.is_dask_array(X):
            return map_rows(X, compute, out=out, **options)
        _dask.check_no_out(out)
        _check_default_output(self)
        block = partial(_checked, partial(map_rows, compute=compute, **options))
        return _dask.map_blocks(block, X, n_features_out=n_features_out)

    def _reduce_rows(self, chunk, merge, *arrays, row_bytes, device=None):
        """The reduction over row blocks: ``chunk`` of each batch, merged.

        Parameters
        ----------
        chunk : callable
            ``chunk(*tensors)`` returns the statistics of one batch of rows of
            ``arrays`` (tensors on ``device``, each in its array's dtype).
        merge : callable
            ``merge(a, b)`` combines the statistics of two disjoint batches,
            in any grouping.
        *arrays : ndarray, torch.Tensor or dask.array.Array
            Validated, row-aligned inputs; dask arrays with the same row
            chunks are reduced block by block on dask's workers.
        row_bytes : int
            Memory one row (of all arrays) needs while it is processed.
        device : torch.device, default=None
            Where the statistics are computed; None is :meth:`_device`.

        Returns
        -------
        object
            The merged statistics of all the rows.
        """
        options = {
            "chunk": chunk,
            "merge": merge,
            "row_bytes": row_bytes,
            "batch_size": self.batch_size,
            "device": device or self._device(arrays[0]),
        }
        if _dask.any_dask(*arrays):
            block = partial(_checked, partial(reduce_rows, **options))
            return _dask.reduce_blocks(block, merge, *arrays)
        return reduce_rows(*arrays, **options)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def map_rows(X, compute, *, n_features_out, row_bytes, batch_size, device, out=None):
    """Run ``compute`` over row batches of in-memory ``X`` into an output array.

    See :meth:`TorchTransformer._map_rows`; this is its in-memory part, which
    also runs on each block of a dask array.
    """
    dtype = _backend.torch_dtype(X)
    shape = (X.shape[0], n_features_out)
    if out is None:
        out = _backend.empty_like_input(X, shape, dtype)
    else:
        _backend.check_out(out, X, shape, dtype)
    view = _backend.output_view(out, device)
    batches = _backend.row_batches(
        X.shape[0], batch_size, row_bytes=row_bytes, device=device
    )
    for rows in batches:
        x = _backend.to_tensor(X[rows], device=device, dtype=dtype)
        dest = _backend.output_rows(view, rows)
        result = compute(x, dest)
        if dest is None:
            _backend.write_rows(out, rows, result)
    return out


def reduce_rows(*arrays, chunk, merge, row_bytes, batch_size, device):
    """Merged ``chunk`` statistics of the row batches of in-memory ``arrays``.

    See :meth:`TorchTransformer._reduce_rows`; this is its in-memory part,
    which also runs on each block of dask arrays.
    """
    statistics = None
    batches = _backend.row_batches(
        arrays[0].shape[0], batch_size, row_bytes=row_bytes, device=device
    )
    for rows in batches:
        tensors = (
            _backend.to_tensor(a[rows], device=device, dtype=_backend.torch_dtype(a))
            for a in arrays
        )
        part = chunk(*tensors)
        statistics = part if statistics is None else merge(statistics, part)
    return statistics


def _checked(function, *blocks):
    """``function`` of dask blocks, once their values are validated (numpy)."""
    names = ("X", "y")
    return function(
        *(_backend.check_target(b, name=n) for b, n in zip(blocks, names, strict=False))
    )


def _check_default_output(estimator):
    config = getattr(estimator, "_sklearn_output_config", {}).get("transform")
    if config not in (None, "default"):
        raise ValueError(
            f"set_output(transform={config!r}) does not apply to dask input, whose "
            "output is a lazy dask array. Use set_output(transform='default'), or "
            "convert the result with dask.dataframe.from_dask_array."
        )


def check_magnitude(x, limit, *, what):
    """Raise a ValueError when values of ``x`` leave the range a kernel handles.

    Parameters
    ----------
    x : torch.Tensor or ndarray
        Data about to enter a kernel.
    limit : float
        The largest safe absolute value.
    what : str
        What overflows, for the message (e.g. "the 'dot' similarity").
    """
    if x.shape[0] == 0 or x.shape[1] == 0 or not np.isfinite(limit):
        return
    low, high = torch.aminmax(torch.as_tensor(x).detach())
    largest = max(float(high), -float(low))
    if largest > limit:
        raise ValueError(
            f"Input values reach {largest:.3g} in magnitude, but {what} "
            f"overflows above {limit:.3g} in {_dtype_name(x)}. Rescale the data "
            "(and the anchors) first"
            + ("." if _dtype_name(x) == "float64" else ", or pass float64 data.")
        )


def _dtype_name(x):
    return str(x.dtype).rsplit(".", 1)[-1]
