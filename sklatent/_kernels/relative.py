"""The relative projection: similarity blocks, aggregation, sparsity, norms.

:class:`~sklatent.RelativeTransformer` (over row batches) and
:class:`~sklatent.nn.RelativeProjection` (inside a forward pass) both call
:func:`relative_projection`, so they compute the same thing.
"""

import torch

from .moments import constant_features
from .similarity import SIMILARITIES, unit_rows

STAGES = ("blocks", "normalize", "output")


def keep_top_k(S, k, power=None):
    """Keep each row's ``k`` largest entries and set the others to zero.

    Parameters
    ----------
    S : torch.Tensor of shape (n, m)
        Similarities.
    k : int
        Entries kept per row; ``k >= m`` keeps everything.
    power : float, default=None
        If given, kept entries are raised to this power, keeping their sign
        (``sign(s) * |s| ** power``), as ASIF sharpens its sparse vectors.

    Returns
    -------
    torch.Tensor of shape (n, m)
    """
    if k < S.shape[1]:
        values, columns = torch.topk(S, k, dim=1)
        S = torch.zeros_like(S).scatter_(1, columns, values)
    if power is not None:
        S = S.sign() * S.abs().pow(power)
    return S


def layer_normalize(R):
    """Standardise each row over its own entries; a constant row becomes zeros.

    A row is constant by the rule of
    :func:`~._kernels.moments.constant_features` (its variance within float64
    rounding of its mean), judged in float64 on the row alone.

    Parameters
    ----------
    R : torch.Tensor of shape (n, m)

    Returns
    -------
    torch.Tensor of shape (n, m)
    """
    R64 = R.to(torch.float64)
    mean = R64.mean(dim=1, keepdim=True)
    var = R64.var(dim=1, unbiased=False, keepdim=True)
    constant = constant_features(var, mean, R.shape[1], relative_floor=False)
    # where() before sqrt(): the gradient of sqrt at a zero variance is infinite.
    std = torch.where(constant, 1.0, var).sqrt().to(R.dtype)
    return torch.where(constant, 0.0, (R - mean.to(R.dtype)) / std)


def resolve_similarities(similarity):
    """``[(name, function), ...]`` for a ``similarity`` parameter.

    Parameters
    ----------
    similarity : str, callable or list of those
        Names of :data:`SIMILARITIES` and callables ``(X, A) -> (n, k)``.

    Returns
    -------
    list of tuple
        One ``(name, function)`` per similarity; a callable is named after its
        ``__name__`` (``sim<i>`` when that is not an identifier).

    Raises
    ------
    ValueError
        For an empty list, an unknown name, or a similarity listed twice.
    """
    entries = similarity
    if isinstance(entries, str) or callable(entries):
        entries = [entries]
    if len(entries) == 0:
        raise ValueError("similarity is an empty list; give at least one.")
    resolved = []
    for i, entry in enumerate(entries):
        if callable(entry):
            name = getattr(entry, "__name__", "")
            resolved.append((name if name.isidentifier() else f"sim{i}", entry))
        elif entry in SIMILARITIES:
            resolved.append((entry, SIMILARITIES[entry]))
        else:
            raise ValueError(
                f"Unknown similarity {entry!r}; use one of {sorted(SIMILARITIES)} "
                "or a callable."
            )
    names = [name for name, _ in resolved]
    if len(set(names)) < len(names):
        raise ValueError(f"similarity lists a similarity twice: {names}.")
    return resolved


def similarity_block(function, x, A, *, out=None):
    """``function(x, A)``, checked to be a tensor of shape (rows, anchors).

    Parameters
    ----------
    function : callable
        A built-in similarity (which may write into ``out``) or the user's.
    x : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where a built-in similarity writes its result.

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    if function in SIMILARITIES.values():
        return function(x, A, out=out)
    S = function(x, A)
    expected = (x.shape[0], A.shape[0])
    if not isinstance(S, torch.Tensor) or tuple(S.shape) != expected:
        shape = f" of shape {tuple(S.shape)}" if hasattr(S, "shape") else ""
        raise ValueError(
            f"The similarity {getattr(function, '__name__', function)!r} returned "
            f"a {type(S).__name__}{shape} for {expected[0]} rows and "
            f"{expected[1]} anchors; a similarity callable must return a "
            f"torch.Tensor of shape {expected}."
        )
    kind = nonfinite_kind(S)
    if kind is not None:
        raise ValueError(
            f"The similarity {getattr(function, '__name__', function)!r} returned "
            f"{kind} values for finite inputs; a similarity callable must return "
            "finite similarities (guard its divisions and logarithms)."
        )
    return S


def nonfinite_kind(X):
    """``"NaN"`` or ``"infinite"`` when ``X`` holds such a value, else None.

    A finite sum proves every element finite, at the cost of one reduction;
    only a non-finite sum pays for the element-wise scans behind the answer.

    Parameters
    ----------
    X : torch.Tensor
        Floating-point values on any device (read detached).

    Returns
    -------
    str or None
    """
    X = X.detach()
    if bool(torch.isfinite(X.sum())) or bool(torch.isfinite(X).all()):
        return None
    return "NaN" if bool(torch.isnan(X).any()) else "infinite"


def relative_projection(
    x,
    A,
    functions,
    *,
    center=None,
    block_mean=None,
    block_scale=None,
    aggregation="concat",
    top_k=None,
    top_k_power=None,
    normalize=None,
    mean=None,
    scale=None,
    stage="output",
    out=None,
):
    """Relative vectors of rows ``x`` with respect to anchors ``A``.

    In order: centre (subtract ``center`` from rows and anchors), similarity
    blocks, block standardisation and aggregation, ``top_k`` and
    ``top_k_power``, normalisation.

    Parameters
    ----------
    x : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
        Anchors, not centred.
    functions : list of callable
        Similarity functions; the blocks are concatenated in this order.
    center : torch.Tensor of shape (d,), default=None
    block_mean, block_scale : sequence of float, default=None
        Per-similarity standardisation before a ``"sum"`` or ``"mean"``
        aggregation; None concatenates.
    aggregation : {"concat", "sum", "mean"}, default="concat"
    top_k : int, default=None
    top_k_power : float, default=None
    normalize : {"l2", "layer", "standard"} or None, default=None
    mean, scale : torch.Tensor of shape (n_features_out,), default=None
        Column statistics for ``normalize="standard"``.
    stage : {"blocks", "normalize", "output"}, default="output"
        Stop at the raw (concatenated) blocks, before the normalisation, or
        go to the end.
    out : torch.Tensor of shape (n, n_features_out), default=None
        Where to write the result. A single built-in similarity writes there
        directly, and is finished there in place when nothing follows it.

    Returns
    -------
    torch.Tensor
        ``out`` when given.
    """
    if center is not None:
        x, A = x - center, A - center
    single = len(functions) == 1
    tracked = torch.is_grad_enabled() and (x.requires_grad or A.requires_grad)
    direct = out if single and not tracked else None
    blocks = [similarity_block(function, x, A, out=direct) for function in functions]
    if stage == "blocks" or block_mean is None:
        R = blocks[0] if single else torch.cat(blocks, dim=1)
    else:
        R = sum(
            (block - float(m)) / float(s)
            for block, m, s in zip(blocks, block_mean, block_scale, strict=True)
        )
        if aggregation == "mean":
            R = R / len(blocks)
    if stage != "blocks":
        if top_k is not None or top_k_power is not None:
            R = keep_top_k(R, top_k or R.shape[1], top_k_power)
        if stage == "output" and normalize == "l2":
            R = unit_rows(R)
        elif stage == "output" and normalize == "layer":
            R = layer_normalize(R)
        elif stage == "output" and normalize == "standard":
            R = (R - mean) / scale
    if out is not None and R is not out:
        out.copy_(R)
        return out
    return R
