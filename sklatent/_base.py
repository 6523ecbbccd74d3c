"""Private base of the torch-backed estimators: device, dtype, row batches, out=.

Both :class:`~sklatent.RelativeTransformer` and
:class:`~sklatent.LatentTranslator` stream their input through torch kernels
the same way: validated rows go to the device in batches (one batch-size
policy, :func:`~sklatent._backend.batch_rows`), each batch's result is written
into the output (a new array of the caller's kind, or the caller's ``out``),
and nothing torch lives on the estimator.
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from . import _backend


class TorchTransformer(TransformerMixin, BaseEstimator):
    """Streaming, ``out=``, device and dtype plumbing shared by the estimators.

    Subclasses have ``device`` and ``batch_size`` parameters.
    """

    def _device(self, X):
        """The :class:`torch.device` this call computes on, for input ``X``."""
        return _backend.resolve_device(self.device, X)

    def _batches(self, X, *, row_bytes, dtype=None):
        """Yield ``(rows, tensor)`` for each row batch of ``X`` on the device.

        Parameters
        ----------
        X : ndarray or torch.Tensor
            Validated input.
        row_bytes : int
            Memory one row needs while it is processed (batch-size policy).
        dtype : torch.dtype, default=None
            The tensors' dtype; None keeps ``X``'s floating dtype.
        """
        device = self._device(X)
        dtype = dtype or _backend.torch_dtype(X)
        for rows in _backend.row_batches(
            X.shape[0], self.batch_size, row_bytes=row_bytes, device=device
        ):
            yield rows, _backend.to_tensor(X[rows], device=device, dtype=dtype)

    def _write_output(self, X, n_features_out, out, compute, *, row_bytes):
        """Run ``compute`` over row batches of ``X`` into an output array.

        Parameters
        ----------
        X : ndarray or torch.Tensor
            Validated input.
        n_features_out : int
            Output columns.
        out : ndarray or torch.Tensor or None
            The caller's output, checked here, or None for a new one of the
            caller's kind (numpy for array-likes, a tensor on ``X``'s device
            for a tensor).
        compute : callable
            ``compute(x, dest)`` returns a batch's result; ``dest`` is a
            tensor over the batch's output rows to write into when the
            output can be viewed in place (else None).
        row_bytes : int
            Memory one row needs while it is processed.

        Returns
        -------
        ndarray or torch.Tensor
            The output.
        """
        dtype = _backend.torch_dtype(X)
        shape = (X.shape[0], n_features_out)
        if out is None:
            out = _backend.empty_like_input(X, shape, dtype)
        else:
            _backend.check_out(out, X, shape, dtype)
        view = _backend.output_view(out, self._device(X))
        for rows, x in self._batches(X, row_bytes=row_bytes):
            dest = _backend.output_rows(view, rows)
            result = compute(x, dest)
            if dest is None:
                _backend.write_rows(out, rows, result)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def check_magnitude(x, limit, *, what):
    """Raise a ValueError when values of ``x`` exceed ``limit`` in magnitude.

    Parameters
    ----------
    x : torch.Tensor or ndarray
        Data about to enter a kernel.
    limit : float
        The largest safe absolute value.
    what : str
        What overflows, for the message (e.g. "the 'dot' similarity").
    """
    if not np.isfinite(limit) or x.shape[0] == 0 or x.shape[1] == 0:
        return
    low, high = torch.aminmax(torch.as_tensor(x))
    largest = max(float(high), -float(low))
    if largest > limit:
        raise ValueError(
            f"Input values reach {largest:.3g} in magnitude, but {what} "
            f"overflows above {limit:.3g} in {_dtype_name(x)}. Rescale the data "
            "(and the anchors) first, or pass float64 data."
        )


def _dtype_name(x):
    return str(x.dtype).rsplit(".", 1)[-1]
