"""Validation of embedding matrices outside an estimator (metrics, diagnostics).

The rules of :func:`sklatent._backend.check_array_or_tensor` without an
estimator's ``n_features_in_``: 2-D, at least one row and one column, finite,
floating; a tensor is checked on its own device and never copied to the host.
"""

import numpy as np
import torch
from sklearn.utils import check_array

from ._backend import check_tensor_values, float_dtype


def check_matrix(X, name):
    """Validate one embedding matrix outside an estimator.

    The rules of :func:`~sklatent._backend.check_array_or_tensor` without
    ``n_features_in_``: 2-D, at least one row and one column, finite,
    floating (float32 and narrower floats become float32, integers float64). A tensor is
    checked on its own device, detached, and never copied to the host.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Input data.
    name : str
        The name used in error messages.

    Returns
    -------
    ndarray or torch.Tensor
        Validated input, floating point.
    """
    ndim = X.ndim if hasattr(X, "ndim") else np.ndim(X)
    if ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, of shape (n_samples, n_features); got a "
            f"{ndim}-D input. Reshape a single feature with {name}.reshape(-1, 1)."
        )
    if not isinstance(X, torch.Tensor):
        return check_array(X, dtype=float_dtype(X), input_name=name)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found array with shape {tuple(X.shape)} as input {name}; "
            "at least one row and one column are required."
        )
    return check_tensor_values(X.detach(), name)


def check_pair(X, Y, *, function, min_rows=1, same_features=False):
    """Validate row-aligned ``X`` and ``Y`` (row ``i`` of each is one item).

    Parameters
    ----------
    X, Y : {array-like, torch.Tensor} of shape (n_samples, n_features_x/y)
        The two matrices, each checked by :func:`check_matrix`.
    function : str
        The caller's name, for error messages.
    min_rows : int, default=1
        Rows the caller needs at least.
    same_features : bool, default=False
        Whether ``X`` and ``Y`` must have the same number of columns (vectors
        of one space).

    Returns
    -------
    X, Y : ndarray or torch.Tensor
        Validated inputs.
    """
    X = check_matrix(X, "X")
    Y = check_matrix(Y, "Y")
    check_pair_shapes(
        X.shape,
        Y.shape,
        function=function,
        min_rows=min_rows,
        same_features=same_features,
    )
    return X, Y


def check_pair_shapes(x_shape, y_shape, *, function, min_rows=1, same_features=False):
    """The shape rules of :func:`check_pair`, for any 2-D array (dask included).

    Parameters
    ----------
    x_shape, y_shape : tuple of int
        Shapes of ``X`` and ``Y``.
    function : str
        The caller's name, for error messages.
    min_rows : int, default=1
        Rows the caller needs at least.
    same_features : bool, default=False
        Whether ``X`` and ``Y`` must have the same number of columns.
    """
    if x_shape[0] != y_shape[0]:
        raise ValueError(
            "X and Y must have the same number of rows (row i of each is the "
            f"same item); got X with {x_shape[0]} rows and Y with {y_shape[0]}."
        )
    if x_shape[0] < min_rows:
        raise ValueError(
            f"{function} needs at least {min_rows} rows; got {x_shape[0]}."
        )
    if same_features and x_shape[1] != y_shape[1]:
        raise ValueError(
            f"X has {x_shape[1]} features but Y has {y_shape[1]}; {function} "
            "compares vectors of one space. Translate X into Y's space first "
            "(e.g. with sklatent.LatentTranslator), or compare the spaces with "
            "linear_cka, which accepts different dimensions."
        )
