"""Fused L1 and L-infinity distances: one compiled loop, no (n, k, d) tensor.

L1 and L-infinity distances have no GEMM form: their cost is ``n * k * d``
subtract-abs-accumulate steps. ``torch.cdist`` runs them on a CPU at 1-3 G
pair-dimensions per second, far below what the cores' SIMD units allow.
Here the broadcast-reduce ``|x[:, None, :] - a[None, :, :]|.sum(-1)`` (or
``.amax(-1)``) is compiled by ``torch.compile`` (TorchInductor: C++ with
OpenMP and vector intrinsics on the CPU, Triton on CUDA) into one loop that
never materialises the difference tensor.

Anchors are processed in groups of :data:`GROUP`: the compiled loop then keeps
``GROUP`` independent accumulators that share each load of ``x``, instead of
one accumulator whose latency bounds the loop. Its speed against
``torch.cdist`` is measured in docs/performance.md.

Compiling takes seconds (docs/performance.md has the measured cost), so it is
only worth it once a process has done enough L1 / L-infinity work: calls are
served by ``torch.cdist`` until the work seen for a distance, dtype and device
reaches :data:`COMPILE_AFTER_WORK` pair-dimensions; the next call compiles the
kernel in the caller's thread and uses it, as do all later calls. There is no
background thread: a process can exit at any time without a compile running
behind its back, and a forked child (:func:`os.register_at_fork`) starts with
fresh locks and a fresh pool of inductor's compile threads, never waiting on
a compile (or a compile thread) of its parent. A process that needs
the compiled kernel at once calls :func:`warm_up` first (or
:func:`compiled_distance`, which compiles whatever the problem size). While
one thread compiles, other threads calling :func:`distance` are served by
``torch.cdist`` instead of waiting.

The compiled path is an optimisation only. The eager ``torch.cdist`` path
runs instead when

- the environment variable ``SKLATENT_DISABLE_COMPILE`` is set (to anything
  but ``""``, ``"0"``, ``"false"`` or ``"no"``);
- the problem is small (fewer than :data:`MIN_COMPILED_WORK` pair-dimensions),
  where compiling would cost more than it saves;
- fewer than :data:`COMPILE_AFTER_WORK` pair-dimensions have been seen for
  that distance, dtype and device, and the kernel is not compiled yet;
- another thread is compiling the kernel right now;
- the inputs need gradients, are not float32/float64, are not on a CPU or
  CUDA device, or are already being traced by ``torch.compile``;
- compiling or running the compiled kernel fails (no C++ compiler, no Triton,
  an unsupported platform): the failure is reported once with a
  :class:`CompileFallbackWarning` and the compiled path is not tried again in
  this process for that distance, dtype and device.

Both paths agree within float rounding (the sums are accumulated in another
order; maxima are exact). Nothing here changes global state: no thread
settings, no dynamo or inductor configuration. The compiled kernel's OpenMP
loop uses ``torch.get_num_threads()`` threads, so ``torch.set_num_threads``
and ``threadpoolctl`` limits apply to it as to any torch operation; like any
multi-threaded torch operation, it needs ``torch.set_num_threads(1)`` in a
child forked after the parent used it (spawned children need nothing).
"""

import math
import os
import sys
import threading
import types
import warnings

import torch
import torch.nn.functional as F

from .._sklearn_compat import user_stacklevel

GROUP = 4
"""Anchors per group: independent accumulators in the compiled loop."""

MIN_COMPILED_WORK = 2**24
"""Pair-dimensions (``n * k * d``) below which ``torch.cdist`` is used."""

COMPILE_AFTER_WORK = 2**33
"""Pair-dimensions served by ``torch.cdist`` before the kernel is compiled.

Seconds of ``torch.cdist`` work on a CPU: the work after which compiling (a
one-off cost, docs/performance.md) starts to pay off."""

DISABLE_ENV = "SKLATENT_DISABLE_COMPILE"

_FLOATS = (torch.float32, torch.float64)


class CompileFallbackWarning(UserWarning):
    """The fused kernel could not be compiled; ``torch.cdist`` is used instead."""


def _l1_groups(x, groups):
    """L1 distances of rows ``x`` (n, d) to anchor ``groups`` (m, GROUP, d)."""
    return torch.stack(
        [(x[:, None, :] - groups[None, :, g, :]).abs().sum(-1) for g in range(GROUP)],
        dim=-1,
    ).flatten(1)


def _linf_groups(x, groups):
    """L-infinity distances of rows ``x`` (n, d) to anchor ``groups``."""
    return torch.stack(
        [(x[:, None, :] - groups[None, :, g, :]).abs().amax(-1) for g in range(GROUP)],
        dim=-1,
    ).flatten(1)


_KERNELS = {1.0: _l1_groups, math.inf: _linf_groups}

# (p, dtype, device) -> compiled function, or None once compiling has failed.
_compiled = {}
# (p, dtype, device) -> pair-dimensions served by torch.cdist so far.
_seen = {}
# (p, dtype, device) -> the exception that made compiling fail, until reported.
_failures = {}
# (p, dtype, device) -> the lock held while that kernel is compiled.
_key_locks = {}
_warned = set()
_lock = threading.Lock()


def _reset_locks_in_child():
    """Fresh locks in a forked child: a parent's thread may have held one.

    Kernels compiled before the fork are kept; a compilation running in
    another thread of the parent did not survive the fork, so its kernel is
    compiled again in the child if needed.
    """
    global _lock, _key_locks
    _lock = threading.Lock()
    _key_locks = {}
    # torch's own after-fork hook forgets inductor's compile *process* pool,
    # not its thread pool, whose threads did not survive the fork: a compile
    # in the child would queue its work for them and wait forever.
    async_compile = sys.modules.get("torch._inductor.async_compile")
    if async_compile is not None:
        async_compile.AsyncCompile.pool.cache_clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_in_child)


def compile_disabled():
    """Whether ``SKLATENT_DISABLE_COMPILE`` asks for the eager path.

    Returns
    -------
    bool
    """
    value = os.environ.get(DISABLE_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no")


def eager_distance(X, A, p):
    """``torch.cdist(X, A, p)``: the reference path, and the fallback.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    p : {1, inf}

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return torch.cdist(X, A, p=p)


def distance(X, A, p):
    """L1 (``p=1``) or L-infinity (``p=inf``) distances of rows of ``X`` to ``A``.

    Runs the compiled kernel when it pays off and is available, else
    ``torch.cdist`` (see the module docstring for the rules). Neither path
    builds the (n, k, d) difference tensor.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    p : {1, inf}

    Returns
    -------
    torch.Tensor of shape (n, k)
        On the device and in the dtype of ``X``.
    """
    p = float(p)
    if p not in _KERNELS:
        raise ValueError(f"p must be 1 or inf; got {p}.")
    work = X.shape[0] * A.shape[0] * X.shape[1]
    if not _compilable(X, A) or work < MIN_COMPILED_WORK:
        return eager_distance(X, A, p)
    key = (p, X.dtype, X.device)
    if _compiled.get(key) is None and (
        not _should_compile(key, work) or _get_compiled(key, blocking=False) is None
    ):
        _report_failure(key)
        return eager_distance(X, A, p)
    return compiled_distance(X, A, p)


def _should_compile(key, work):
    """Count ``work`` for ``key``; whether to compile its kernel now.

    True once :data:`COMPILE_AFTER_WORK` pair-dimensions were served by
    ``torch.cdist`` before this call, unless compiling failed.
    """
    with _lock:
        seen = _seen.get(key, 0)
        _seen[key] = seen + work
    return key not in _compiled and seen >= COMPILE_AFTER_WORK


def warm_up(p, dtype, device):
    """Compile the kernel for ``(p, dtype, device)`` now, in the caller's thread.

    Waits for a compilation already running in another thread. After it,
    :func:`distance` uses the compiled kernel from its next call on.

    Parameters
    ----------
    p : {1, inf}
    dtype : torch.dtype
        ``torch.float32`` or ``torch.float64``.
    device : torch.device or str

    Returns
    -------
    bool
        Whether the compiled kernel is available (False after a failure,
        which is reported with a :class:`CompileFallbackWarning`).
    """
    key = (float(p), dtype, _index_device(torch.device(device)))
    function = _get_compiled(key)
    _report_failure(key)
    return function is not None


def _index_device(device):
    """``cuda`` as ``cuda:N``, as the tensors on it report their device."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _compilable(X, A):
    """Whether the compiled kernel may run on these tensors at all."""
    return (
        not _is_compiling()
        and not compile_disabled()
        and isinstance(X, torch.Tensor)
        and isinstance(A, torch.Tensor)
        and X.ndim == 2
        and A.ndim == 2
        and X.shape[1] == A.shape[1]
        and X.shape[1] > 0
        and X.dtype in _FLOATS
        and A.dtype == X.dtype
        and A.device == X.device
        and X.device.type in ("cpu", "cuda")
        and not (torch.is_grad_enabled() and (X.requires_grad or A.requires_grad))
    )


def _is_compiling():
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling and is_compiling())


def compiled_distance(X, A, p):
    """Distances through the compiled kernel, whatever the problem size.

    Falls back to :func:`eager_distance` (with a :class:`CompileFallbackWarning`)
    when compiling or running the compiled kernel fails.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    p : {1, inf}

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    p = float(p)
    n, d = X.shape
    k = A.shape[0]
    if n == 0 or k == 0:
        return X.new_empty((n, k))
    key = (p, X.dtype, X.device)
    function = _get_compiled(key)
    if function is None:
        _report_failure(key)
        return eager_distance(X, A, p)
    try:
        D = _call(function, *_pad(X, A))
    except Exception as exc:  # a recompilation can fail too: never fail here
        _compiled[key] = None
        _warn_once(key, exc)
        return eager_distance(X, A, p)
    if D.shape != (n, k):
        D = D[:n, :k].contiguous()
    return D


def _call(function, x, groups):
    # Gradients never flow through the compiled kernel (inputs that need them
    # take the eager path), and a fixed grad mode avoids a recompilation.
    with torch.no_grad():
        return function(x, groups)


def _pad(X, A):
    """Contiguous ``x`` and anchors grouped as (m, GROUP, d), padded as needed.

    Sizes 0 and 1 are specialised by ``torch.compile`` even with dynamic
    shapes, so each size-1 dimension would cost a compilation: single rows are
    repeated, a single feature gets a zero feature (which changes neither
    distance) and anchors are padded with zero rows to at least two full
    groups. Padded rows and columns are cut from the result.
    """
    x = X.contiguous()
    if x.shape[1] == 1:
        x = F.pad(x, (0, 1))
        A = F.pad(A, (0, 1))
    if x.shape[0] == 1:
        x = x.repeat(2, 1)
    k, d = A.shape
    padded = max(2 * GROUP, -(-k // GROUP) * GROUP)
    if padded != k:
        A = torch.cat([A, A.new_zeros((padded - k, d))])
    return x, A.contiguous().view(padded // GROUP, GROUP, d)


def _get_compiled(key, blocking=True):
    """The compiled kernel for ``(p, dtype, device)``, compiled here if needed.

    With ``blocking=False``, returns None at once when another thread is
    compiling that kernel, instead of waiting for it.

    None after a failure, whose exception waits in ``_failures`` for
    :func:`_report_failure`. Each key is compiled once, under its own lock:
    a caller that needs a kernel being compiled in another thread waits for
    it, and kernels of other keys compile meanwhile.
    """
    if key in _compiled:
        return _compiled[key]
    with _lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    if not key_lock.acquire(blocking=blocking):
        return None
    try:
        if key not in _compiled:
            try:
                _compiled[key] = _build(*key)
            except Exception as exc:  # compiling depends on the platform
                _failures[key] = exc
                _compiled[key] = None
        return _compiled[key]
    finally:
        key_lock.release()


def _report_failure(key):
    """Warn, in the caller's thread, of a failed compilation of ``key``, once."""
    exc = _failures.pop(key, None)
    if exc is not None:
        _warn_once(key, exc)


def _build(p, dtype, device):
    """Compile and warm up the kernel for one ``(p, dtype, device)``.

    ``dynamic=True`` compiles once for every shape (above size 1, see
    :func:`_pad`). The first call, which compiles, runs on synthetic inputs of
    distinct, moderate sizes, for two reasons: the code generator takes its
    loop parallelisation from the first call's sizes (a tiny first call would
    give a single-threaded kernel for good), and sizes equal at the first call
    share one symbol and so one specialised variant (``n == d``, say), while
    distinct sizes give the general variant that every later call reuses.

    Each key gets its own copy of the code object, since dynamo keeps at most
    ``recompile_limit`` variants per code object. ``fullgraph=True`` turns any
    trace problem into an error, which sends calls to the eager path, instead
    of a silent eager run of the broadcast that would build the (n, k, d)
    tensor.
    """
    kernel = _KERNELS[p]
    suffix = f"{str(dtype).rsplit('.', 1)[-1]}_{device.type}{device.index or ''}"
    code = kernel.__code__.replace(co_name=f"{kernel.__name__}_{suffix}")
    function = types.FunctionType(code, kernel.__globals__, code.co_name)
    function = torch.compile(function, dynamic=True, fullgraph=True)
    x = torch.zeros((1000, 96), dtype=dtype, device=device)
    groups = torch.zeros((130, GROUP, 96), dtype=dtype, device=device)
    _call(function, x, groups)
    return function


def _warn_once(key, exc):
    if key in _warned:
        return
    _warned.add(key)
    p, dtype, device = key
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    warnings.warn(
        f"Could not compile the fused {'L1' if p == 1 else 'L-infinity'} kernel "
        f"for {dtype} on {device} ({type(exc).__name__}: {reason}); using "
        f"torch.cdist, which is several times slower. Set {DISABLE_ENV}=1 to "
        "skip compiling and silence this warning.",
        CompileFallbackWarning,
        stacklevel=user_stacklevel(),
    )
