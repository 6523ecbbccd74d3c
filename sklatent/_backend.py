"""Device and dtype resolution, input validation, numpy <-> torch, row chunking.

Estimators call these helpers; kernels never do. Fitted state stays in numpy:
tensors built here live only for the duration of one call.
"""

import sys

import numpy as np
import torch
from sklearn import get_config
from sklearn.utils import check_array, gen_batches

from ._kernels.relative import nonfinite_kind
from ._sklearn_compat import validate_data

_DEVICE_HINT = "Use device='auto' to fall back to the CPU when it is absent."


def resolve_device(device, X=None):
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``. ``"auto"``
        picks the device of ``X`` when ``X`` is a tensor, else CUDA when it is
        available, else the CPU. An explicit accelerator that is not available
        is an error: only ``"auto"`` falls back.
    X : array-like or torch.Tensor, default=None
        The data about to be processed.

    Returns
    -------
    torch.device
    """
    if device == "auto":
        if isinstance(X, torch.Tensor):
            return _computing_device(X.device, "the input tensor's device")
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda', "
            "'cuda:N', 'mps' or 'auto'."
        ) from exc
    _computing_device(resolved, f"device={device!r}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available. "
                + _DEVICE_HINT
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available. " + _DEVICE_HINT
        )
    return resolved


def _computing_device(device, what):
    """``device``, unless it holds no data (``"meta"``): then a ValueError."""
    if device.type == "meta":
        raise ValueError(
            f"{what} names the 'meta' device, whose tensors hold no values, so "
            "there is nothing to compute on; use 'cpu', 'cuda', 'cuda:N', 'mps' "
            "or 'auto' "
            "with tensors that hold data."
        )
    return device


def check_array_or_tensor(estimator, X, *, reset, name="X"):
    """Validate ``X`` once, at the top of a public method.

    Numpy arrays, lists, pandas and polars frames and memory maps go through
    scikit-learn's ``validate_data`` (finite, 2-D, ``n_features_in_``, feature
    names), keeping float32 as float32. A torch tensor is validated in place on
    its own device, with the same rules and messages, and is never copied to
    the host.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator whose ``n_features_in_`` is set (``reset=True``) or
        checked (``reset=False``).
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Input data.
    reset : bool
        True in ``fit``, False afterwards.
    name : str, default="X"
        The name used in error messages.

    Returns
    -------
    X : ndarray or torch.Tensor
        Validated input, floating point.
    """
    if not isinstance(X, torch.Tensor):
        return validate_data(estimator, X, reset=reset, dtype=float_dtype(X))
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D tensor instead. Reshape your data "
            "with X.reshape(-1, 1) if it has a single feature or X.reshape(1, -1) "
            "if it contains a single sample."
        )
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum "
            f"of 1 is required by {type(estimator).__name__}."
        )
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    return check_tensor_values(X, name)


def check_target(Y, *, name="y"):
    """Validate target embeddings: a 2-D float array, a 1-D one as one column.

    Parameters
    ----------
    Y : {array-like, torch.Tensor} of shape (n_samples, n_targets) or (n_samples,)
        Target embeddings; a tensor stays on its device.
    name : str, default="y"
        The name used in error messages.

    Returns
    -------
    Y : ndarray or torch.Tensor of shape (n_samples, n_targets)
    """
    if not isinstance(Y, torch.Tensor):
        Y = check_array(Y, input_name=name, ensure_2d=False, dtype=float_dtype(Y))
    elif Y.ndim not in (1, 2):
        raise ValueError(f"{name} must be a 1-D or 2-D tensor; got {Y.ndim}D.")
    else:
        Y = check_tensor_values(Y, name)
    return one_column(Y)


def one_column(Y):
    """A 1-D target is one column, as in scikit-learn's PLS; 2-D stays as it is.

    Parameters
    ----------
    Y : {array-like, torch.Tensor, dask.array.Array}
        Target embeddings, of shape (n_samples,) or (n_samples, n_targets).

    Returns
    -------
    ndarray, torch.Tensor or dask.array.Array
        ``Y`` itself when it is not 1-D; else a view of shape (n_samples, 1)
        (an array-like other than a tensor or dask array becomes numpy).
    """
    if np.ndim(Y) != 1:
        return Y
    if not (isinstance(Y, (np.ndarray, torch.Tensor)) or is_dask_array(Y)):
        Y = np.asarray(Y)
    return Y.reshape(-1, 1)


def is_dask_array(X):
    """Whether ``X`` is a :class:`dask.array.Array`, without importing dask.

    An object cannot be a dask array unless dask is already imported, so the
    check is free for every other input.
    """
    array = sys.modules.get("dask.array")
    return array is not None and isinstance(X, array.Array)


def itemsize(X):
    """Bytes per element that validated ``X`` computes in: 4 for float32, else 8.

    Parameters
    ----------
    X : ndarray, torch.Tensor or dask.array.Array
        Validated data (or anything with a numpy or torch ``dtype``).

    Returns
    -------
    int
    """
    return 4 if X.dtype in (np.float32, torch.float32) else 8


def float_dtype(X):
    """The dtype rule for array-likes: what ``check_array`` should convert to.

    float64 stays float64; float32 and narrower floats (float16) compute and
    come out in float32, the narrowest dtype the kernels use; anything else
    (integers, booleans, objects) becomes float64, scikit-learn's habit.
    Tensors follow the same rule (see :func:`check_tensor_values`).

    Parameters
    ----------
    X : array-like
        Input before validation.

    Returns
    -------
    dtype or list of dtype
        The ``dtype`` argument for :func:`sklearn.utils.check_array`.
    """
    dtype = getattr(X, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 4:
        return np.float32
    return [np.float64, np.float32]


def check_finite(X, name):
    """Raise a ValueError naming NaN or infinity when a tensor holds one.

    Parameters
    ----------
    X : torch.Tensor
        Floating-point data on any device (read detached).
    name : str
        The name used in error messages.
    """
    kind = nonfinite_kind(X)
    if kind is not None:
        raise ValueError(
            f"Input {name} contains {'NaN' if kind == 'NaN' else 'infinity'}."
        )


def check_tensor_values(X, name):
    """Reject complex and non-finite tensors; apply the dtype rule.

    float64 stays float64, float32 and narrower floats (float16, bfloat16)
    become float32, integers and booleans float64, as :func:`float_dtype`
    does for arrays.

    Parameters
    ----------
    X : torch.Tensor
        Data on any device.
    name : str
        The name used in error messages.

    Returns
    -------
    torch.Tensor
        ``X``, as float32 or float64.
    """
    if X.is_complex():
        raise ValueError("Complex data not supported.")
    _computing_device(X.device, f"Input {name}")
    if X.dtype not in (torch.float32, torch.float64):
        X = X.to(torch.float32 if X.is_floating_point() else torch.float64)
    check_finite(X, name)
    return X


def as_numpy(X):
    """Return ``X`` as a numpy array, copying a tensor to the host if needed.

    A bfloat16 tensor, which numpy cannot hold, becomes float32.

    Parameters
    ----------
    X : ndarray or torch.Tensor
        Validated data.

    Returns
    -------
    ndarray
    """
    if isinstance(X, torch.Tensor):
        X = X.detach()
        if X.dtype == torch.bfloat16:
            # numpy has no bfloat16; float32 holds every bfloat16 exactly
            # (the dtype rule of float_dtype for narrow floats).
            X = X.float()
        return X.cpu().numpy()
    return np.asarray(X)


def torch_dtype(X):
    """Return the torch dtype matching validated floating data ``X``.

    Parameters
    ----------
    X : ndarray or torch.Tensor
        Validated floating-point data.

    Returns
    -------
    torch.dtype
    """
    if isinstance(X, torch.Tensor):
        return X.dtype
    return torch.float32 if X.dtype == np.float32 else torch.float64


def to_tensor(array, *, device, dtype):
    """Move a numpy array (or tensor) to ``device`` as ``dtype``.

    Read-only arrays (memory maps opened read-only, for instance) are copied
    before the handover to torch, which requires writable memory.

    Parameters
    ----------
    array : ndarray or torch.Tensor
        Data to move.
    device : torch.device
        Target device.
    dtype : torch.dtype
        Target dtype.

    Returns
    -------
    torch.Tensor
    """
    if not isinstance(array, torch.Tensor):
        array = torch.from_numpy(np.require(array, requirements=["C", "W"]))
    return array.to(device=device, dtype=dtype)


CPU_BATCH_BYTES = 2**26
"""Work per batch on the CPU when ``batch_size`` is None: about 64 MiB."""

CPU_MIN_BATCH_ROWS = 2048
"""Rows per CPU batch at least (``working_memory`` permitting)."""


def batch_rows(n_rows, batch_size, *, row_bytes, device=None, max_rows=None):
    """Rows per batch: the one batch-size policy of sklatent.

    An explicit ``batch_size`` wins. Otherwise a batch gets as many rows as
    scikit-learn's ``working_memory`` allows for ``row_bytes`` per row (see
    :func:`sklearn.set_config`); on the CPU, where a GEMM runs near full
    speed from a few thousand rows on, at most about 64 MiB of work and at
    least 2,048 rows within that budget, rounded down to a multiple of 16
    (the measurements behind these sizes are in docs/performance.md, "What
    the library does").

    Parameters
    ----------
    n_rows : int
        Rows to cover.
    batch_size : int or None
        The caller's ``batch_size`` parameter.
    row_bytes : int
        Memory one row needs while it is processed.
    device : torch.device, default=None
        Where the rows are processed; None is the CPU.
    max_rows : int, default=None
        A cap on the automatic size (a block of scores far larger than the
        caches gains nothing).

    Returns
    -------
    int
        At least 1.
    """
    if batch_size is not None:
        return max(1, int(batch_size))
    memory = get_config()["working_memory"] * 2**20
    budget = max(1, int(memory // max(1, row_bytes)))
    rows = budget
    if device is None or device.type == "cpu":
        rows = min(
            budget, max(CPU_MIN_BATCH_ROWS, CPU_BATCH_BYTES // max(1, row_bytes))
        )
        # A multiple of 16 rows starts every batch of an aligned output on a
        # 64-byte boundary (see output_rows).
        rows = max(rows - rows % 16, min(rows, 16))
    if max_rows is not None:
        rows = min(rows, max_rows)
    return max(1, min(rows, max(1, n_rows)))


def row_batches(n_rows, batch_size, *, row_bytes, device=None, max_rows=None):
    """Yield slices covering ``range(n_rows)`` in batches of :func:`batch_rows`.

    Parameters
    ----------
    n_rows : int
        Number of rows to cover.
    batch_size : int or None
        Rows per batch, or None for the policy of :func:`batch_rows`.
    row_bytes : int
        Memory one row needs while it is processed.
    device : torch.device, default=None
        Where the rows are processed; None is the CPU.
    max_rows : int, default=None
        A cap on the automatic size.

    Yields
    ------
    slice
    """
    size = batch_rows(
        n_rows, batch_size, row_bytes=row_bytes, device=device, max_rows=max_rows
    )
    yield from gen_batches(n_rows, size)


def empty_like_input(X, shape, dtype):
    """Allocate an output array of the caller's kind for input ``X``.

    Parameters
    ----------
    X : ndarray or torch.Tensor
        The validated input; a tensor gives a tensor on its own device.
    shape : tuple of int
        Output shape.
    dtype : torch.dtype
        Output dtype.

    Returns
    -------
    ndarray or torch.Tensor
    """
    if isinstance(X, torch.Tensor):
        return torch.empty(shape, dtype=dtype, device=X.device)
    # A numpy view of a torch allocation: aligned to 64 bytes as tensors are
    # (numpy places large arrays 16 bytes past a page boundary) and on
    # ordinary pages (numpy asks for transparent huge pages); both slowed the
    # GEMM writing into the output (docs/performance.md, "Outputs allocated
    # like torch's").
    return torch.empty(shape, dtype=dtype).numpy()


ALIGNMENT = 64
"""Bytes to which torch aligns its CPU tensors, and so sklatent's outputs."""


def check_out(out, X, shape, dtype):
    """Check a caller-supplied output array before anything is written to it.

    Parameters
    ----------
    out : ndarray or torch.Tensor
        The caller's output: a writable numpy array or memmap for an array
        input, a tensor on ``X``'s device for a tensor input.
    X : ndarray or torch.Tensor
        The validated input, which ``out`` must not overlap.
    shape : tuple of int
        The output's shape.
    dtype : torch.dtype
        The output's dtype.

    Raises
    ------
    ValueError
        Naming what does not fit: kind, shape, dtype, device, read-only
        memory, or memory shared with ``X``.
    """
    like = empty_like_input(X, (0, shape[1]), dtype)
    if not isinstance(out, type(like)):
        raise ValueError(
            f"out must be a {type(like).__name__} for this X; got "
            f"{type(out).__name__}. Pass a numpy array (or np.memmap) for "
            "array-like X and a tensor for a tensor X."
        )
    if tuple(out.shape) != tuple(shape) or out.dtype != like.dtype:
        raise ValueError(
            f"out has shape {tuple(out.shape)} and dtype {out.dtype}; the output "
            f"needs shape {tuple(shape)} and dtype {like.dtype}."
        )
    if isinstance(out, torch.Tensor):
        if out.device != like.device:
            raise ValueError(
                f"out is on {out.device} but the output belongs on {like.device}, "
                "X's device."
            )
        shared = _byte_ranges_overlap(out, X)
    else:
        if not out.flags.writeable:
            raise ValueError("out is read-only; open a memmap with mode='w+' or 'r+'.")
        shared = np.may_share_memory(out, X)
    if shared:
        raise ValueError(
            "out shares memory with X, whose rows would be overwritten before "
            "they are read; pass a separate array."
        )


def _byte_ranges_overlap(a, b):
    """Whether two tensors on one device may share memory.

    Compares the address ranges they span, so that views of one buffer made
    separately (two ``torch.from_numpy`` of overlapping numpy views, say) are
    caught although their storages differ.
    """

    def span(t):
        extent = sum(
            (size - 1) * stride
            for size, stride in zip(t.shape, t.stride(), strict=True)
        )
        start = t.data_ptr()
        return start, start + (extent + 1) * t.element_size()

    if a.numel() == 0 or b.numel() == 0:
        return False
    (a_start, a_stop), (b_start, b_stop) = span(a), span(b)
    return a_start < b_stop and b_start < a_stop


def tracks_gradients(X):
    """Whether autograd records operations on ``X`` (so nothing may go in place).

    Parameters
    ----------
    X : ndarray or torch.Tensor

    Returns
    -------
    bool
    """
    return isinstance(X, torch.Tensor) and X.requires_grad and torch.is_grad_enabled()


def output_view(out, device):
    """A tensor on ``device`` sharing ``out``'s memory, so kernels write in place.

    Parameters
    ----------
    out : ndarray or torch.Tensor
        Output allocated by :func:`empty_like_input` or checked by
        :func:`check_out`.
    device : torch.device
        Where the computation runs.

    Returns
    -------
    torch.Tensor or None
        ``out`` itself (a tensor on ``device`` that autograd does not
        track), a zero-copy tensor over a C-contiguous numpy ``out`` when
        computing on the CPU, else None: the results must then be copied with
        :func:`write_rows`.
    """
    if isinstance(out, torch.Tensor):
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        return out if out.device == device and not tracks_gradients(out) else None
    if device.type == "cpu" and out.flags.c_contiguous:
        return torch.from_numpy(out)
    return None


def output_rows(view, rows):
    """Rows ``rows`` of an :func:`output_view` for a kernel to write into, or None.

    None too for CPU rows that do not start on a 64-byte boundary (a caller's
    ``out`` made by numpy, say): computing those into a fresh tensor and
    copying the rows with :func:`write_rows` is faster than a GEMM writing
    there (docs/performance.md, "Outputs allocated like torch's").

    Parameters
    ----------
    view : torch.Tensor or None
        From :func:`output_view`.
    rows : slice
        The batch's rows.

    Returns
    -------
    torch.Tensor or None
    """
    if view is None:
        return None
    dest = view[rows]
    if dest.device.type == "cpu" and dest.data_ptr() % ALIGNMENT:
        return None
    return dest


def write_rows(out, rows, result):
    """Copy a result tensor into rows ``rows`` of the output ``out``.

    Parameters
    ----------
    out : ndarray or torch.Tensor
        Output allocated by :func:`empty_like_input` (or given by the caller).
    rows : slice
        Destination rows.
    result : torch.Tensor
        Computed rows, on any device.
    """
    if isinstance(out, torch.Tensor):
        out[rows] = result.to(out.device)
    else:
        out[rows] = result.cpu().numpy()
