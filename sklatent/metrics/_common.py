"""Plumbing shared by the metrics: parameter validation, dtypes, scaling, warnings.

Parameters are checked by scikit-learn's ``validate_params`` (re-exported
here from :mod:`sklatent._sklearn_compat`, which holds every private
scikit-learn import); arrays and tensors by
:func:`sklatent._validation.check_pair`.
"""

import math
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.exceptions import UndefinedMetricWarning

from .. import _backend
from .._kernels.powers import exponent_of
from .._sklearn_compat import Interval, user_stacklevel, validate_params

__all__ = ["validate_params"]

PAIR = {"X": ["array-like"], "Y": ["array-like"]}
"""``validate_params`` constraints of the two embedding matrices."""

PLUMBING = {
    "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "device": [str],
}
"""``validate_params`` constraints of ``batch_size`` and ``device``."""


def check_k(k, n_candidates):
    """Check a neighbourhood size against the rows it chooses from."""
    if k is not None and k > n_candidates:
        raise ValueError(
            f"k={k} is larger than the number of candidate rows "
            f"({n_candidates}); pass k <= {n_candidates}."
        )
    return k


def compute_dtype(*arrays):
    """float64 if any input is float64, else float32."""
    for array in arrays:
        if _backend.torch_dtype(array) == torch.float64:
            return torch.float64
    return torch.float32


def max_abs(Z):
    """Largest absolute entry of validated ``Z``, read a block of rows at a time."""
    largest = 0.0
    row_bytes = 8 * Z.shape[1]
    for batch in _backend.row_batches(Z.shape[0], None, row_bytes=row_bytes):
        block = Z[batch]
        if isinstance(block, torch.Tensor):
            largest = max(largest, float(block.abs().amax()))
        else:
            largest = max(largest, float(np.abs(block).max()))
    return largest


_MAX_EXPONENT = np.finfo(np.float64).maxexp - 1


def power_of_two_scale(largest):
    """The power of two that brings ``largest`` into [0.5, 1).

    Multiplying by it is exact (barring underflow of entries ~1e-300 times
    smaller), so scale-invariant metrics may compute on scaled data: squares
    and products of entries can then neither overflow nor underflow. For a
    subnormal ``largest`` (below 2**-1022) the factor would exceed the
    largest float64; it stops at 2**1023, which still brings ``largest``
    above 2**-52 (exactly: subnormals gain bits when scaled up).
    """
    return math.ldexp(1.0, min(-exponent_of(largest, ordinary=None), _MAX_EXPONENT))


def rows(Z, batch, *, scale, device, dtype):
    """Rows ``batch`` of ``Z`` as a tensor on ``device``, multiplied by ``scale``."""
    block = _backend.to_tensor(Z[batch], device=device, dtype=dtype)
    return block * scale if scale != 1.0 else block


def undefined(message):
    """Warn that a metric is undefined on this input and return NaN."""
    warnings.warn(message, UndefinedMetricWarning, stacklevel=user_stacklevel())
    return float("nan")
