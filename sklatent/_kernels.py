"""Torch kernels: similarities to anchors, sparsification, moments, solvers.

Every function here takes tensors and returns tensors on the same device and
in the same dtype; nothing here knows scikit-learn. Similarities follow one
convention: larger means more similar, so distances are returned negated.
Similarity kernels take an optional ``out`` to write into (and then work in
place); without it they do nothing in place, so gradients flow.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F

from . import _fused

_TINY_NORM = 1e-12
"""Norms are clipped here before dividing, as ``torch.nn.functional.normalize`` does."""


def cosine_similarity(X, A, *, out=None):
    r"""Cosine similarity of each row of ``X`` to each anchor in ``A``.

    .. math:: S_{ij} = \frac{x_i \cdot a_j}{\lVert x_i\rVert \, \lVert a_j\rVert}

    One GEMM of ``X`` with the unit anchors, whose rows are then divided by
    the norms of ``X``'s rows. A zero row (in ``X`` or ``A``) has
    similarity 0 to everything, never NaN.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where to write the result (``torch.mm``'s ``out``), then work on it in
        place. Without ``out`` nothing is done in place, so gradients flow.

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``out`` when given.
    """
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True).clamp(min=_TINY_NORM)
    S = torch.mm(X, F.normalize(A, dim=1).T, out=out)
    return S / norms if out is None else S.div_(norms)


def dot_similarity(X, A, *, out=None):
    r"""Inner product of each row of ``X`` with each anchor: :math:`S = X A^\top`.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where to write the result.

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``out`` when given.
    """
    return torch.mm(X, A.T, out=out)


def euclidean_similarity(X, A, *, out=None):
    r"""Negative Euclidean distance, :math:`S_{ij} = -\lVert x_i - a_j\rVert_2`.

    Computed with one GEMM, :math:`\lVert x\rVert^2 - 2 x\cdot a +
    \lVert a\rVert^2`, clipped at zero. Near-zero distances therefore carry an
    absolute error of about the square root of the dtype's resolution times
    the squared norms (~1e-7 in float64 for unit-scale data).

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where to write the result.

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``out`` when given.
    """
    squared_norms = _squared_norms(X).unsqueeze(1)
    S = torch.addmm(_squared_norms(A), X, A.T, alpha=-2.0, out=out)
    if out is None:
        return (S + squared_norms).clamp(min=0).sqrt().neg()
    return S.add_(squared_norms).clamp_(min=0).sqrt_().neg_()


def _squared_norms(X):
    """Squared norm of each row, in one pass and without an ``X * X`` copy."""
    return torch.linalg.vector_norm(X, dim=1).square()


def l1_similarity(X, A, *, out=None):
    r"""Negative Manhattan distance, :math:`S_{ij} = -\sum_f |x_{if} - a_{jf}|`.

    Runs a fused, compiled loop (``sklatent._fused``) that accumulates over
    features without ever building the (rows, anchors, features) difference
    tensor, or ``torch.cdist`` for small problems and where compiling is
    unavailable; both agree within float rounding.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where to write the result.

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``out`` when given.
    """
    return torch.neg(_fused.distance(X, A, 1), out=out)


def linf_similarity(X, A, *, out=None):
    r"""Negative Chebyshev distance, :math:`S_{ij} = -\max_f |x_{if} - a_{jf}|`.

    Computed as :func:`l1_similarity`, without a (rows, anchors, features)
    tensor.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where to write the result.

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``out`` when given.
    """
    return torch.neg(_fused.distance(X, A, float("inf")), out=out)


SIMILARITIES = {
    "cosine": cosine_similarity,
    "dot": dot_similarity,
    "euclidean": euclidean_similarity,
    "l1": l1_similarity,
    "linf": linf_similarity,
}


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


def column_moments(S):
    """Count, mean and sum of squared deviations of each column of ``S``.

    Accumulated in float64; merge chunks with :func:`merge_moments`.

    Parameters
    ----------
    S : torch.Tensor of shape (n, m)

    Returns
    -------
    count : int
    mean : torch.Tensor of shape (m,), float64
    m2 : torch.Tensor of shape (m,), float64
    """
    S = S.to(torch.float64)
    mean = S.mean(0)
    return S.shape[0], mean, ((S - mean) ** 2).sum(0)


def merge_moments(first, second):
    """Merge two ``(count, mean, m2)`` triples (Chan et al.'s parallel update).

    Parameters
    ----------
    first, second : tuple
        Triples as returned by :func:`column_moments`; ``first`` may be None.

    Returns
    -------
    tuple
        The moments of the union of both chunks.
    """
    if first is None:
        return second
    n_a, mean_a, m2_a = first
    n_b, mean_b, m2_b = second
    n = n_a + n_b
    delta = mean_b.to(mean_a.device) - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b.to(m2_a.device) + delta**2 * (n_a * n_b / n)
    return n, mean, m2


def safe_scale(scale, eps):
    """Replace negligible scales by 1 so that dividing by them is harmless.

    A scale is negligible when it is at most ``10 * eps`` times the largest
    scale: constant features of real encoders often have a standard deviation
    of ~1e-30 rather than exactly zero, and dividing by it would turn rounding
    noise into signal.

    Parameters
    ----------
    scale : torch.Tensor of shape (m,)
        Non-negative scales (standard deviations).
    eps : float
        Resolution of the data's dtype (``torch.finfo(dtype).eps``).

    Returns
    -------
    torch.Tensor of shape (m,)
    """
    negligible = scale <= 10 * eps * scale.max().clamp(
        min=torch.finfo(scale.dtype).tiny
    )
    return torch.where(negligible, torch.ones_like(scale), scale)


# ---------------------------------------------------------------------------
# Translation: sufficient statistics of parallel pairs, and the solvers that
# turn them into a map. Used by LatentTranslator.
# ---------------------------------------------------------------------------


class CrossMoments(NamedTuple):
    r"""Sufficient statistics of row-aligned chunks ``X`` and ``Y``, in float64.

    Parameters
    ----------
    count : int
        Number of rows.
    mean_x, mean_y : torch.Tensor of shape (d_x,) and (d_y,)
        Column means.
    m2_x, m2_y : torch.Tensor of shape (d_x,) and (d_y,)
        Sums of squared deviations from the column means.
    cross : torch.Tensor of shape (d_x, d_y)
        Centred cross-products :math:`\sum_i (x_i - \bar x)^\top
        (y_i - \bar y)`.
    gram : torch.Tensor of shape (d_x, d_x) or None
        The same for ``X`` with itself; None when not requested.
    """

    count: int
    mean_x: torch.Tensor
    mean_y: torch.Tensor
    m2_x: torch.Tensor
    m2_y: torch.Tensor
    cross: torch.Tensor
    gram: torch.Tensor | None


def cross_moments(X, Y, *, gram=False):
    """Count, means and centred (co)moments of row-aligned ``X`` and ``Y``.

    Accumulated in float64; merge chunks with :func:`merge_cross_moments`.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d_x)
        Source rows.
    Y : torch.Tensor of shape (n, d_y)
        Target rows, aligned with ``X``.
    gram : bool, default=False
        Also return the centred Gram matrix of ``X``, which least squares
        needs and Procrustes does not.

    Returns
    -------
    CrossMoments
        The statistics of the chunk.
    """
    count, mean_x, m2_x = column_moments(X)
    _, mean_y, m2_y = column_moments(Y)
    Xc = X.to(torch.float64) - mean_x
    Yc = Y.to(torch.float64) - mean_y
    return CrossMoments(
        count,
        mean_x,
        mean_y,
        m2_x,
        m2_y,
        Xc.T @ Yc,
        Xc.T @ Xc if gram else None,
    )


def merge_cross_moments(first, second):
    r"""Merge two :class:`CrossMoments` of disjoint chunks (Chan et al.'s update).

    The centred cross products gain the same correction as the variances in
    :func:`merge_moments`: :math:`\frac{n_a n_b}{n}\,\delta_x^\top \delta_y`,
    where the deltas are the differences of the chunk means.

    Parameters
    ----------
    first, second : CrossMoments
        Statistics of two chunks; ``first`` may be None.

    Returns
    -------
    CrossMoments
        The statistics of the union of both chunks.
    """
    if first is None:
        return second
    n_a, n_b = first.count, second.count
    n, mean_x, m2_x = merge_moments(
        (n_a, first.mean_x, first.m2_x), (n_b, second.mean_x, second.m2_x)
    )
    _, mean_y, m2_y = merge_moments(
        (n_a, first.mean_y, first.m2_y), (n_b, second.mean_y, second.m2_y)
    )
    weight = n_a * n_b / n
    delta_x = second.mean_x - first.mean_x
    delta_y = second.mean_y - first.mean_y
    cross = first.cross + second.cross + weight * torch.outer(delta_x, delta_y)
    gram = None
    if first.gram is not None and second.gram is not None:
        gram = first.gram + second.gram + weight * torch.outer(delta_x, delta_x)
    return CrossMoments(n, mean_x, mean_y, m2_x, m2_y, cross, gram)


def negligible(scale, eps):
    """Mask of the scales that :func:`safe_scale` treats as negligible.

    Parameters
    ----------
    scale : torch.Tensor of shape (m,)
        Non-negative scales (standard deviations or root mean squares).
    eps : float
        Resolution of the data's dtype.

    Returns
    -------
    torch.Tensor of shape (m,), bool
        True where the scale is negligible.
    """
    return safe_scale(scale, eps) != scale


def procrustes(cross, *, allow_reflection=True):
    r"""Orthogonal Procrustes: the (semi-)orthogonal map that best aligns two sets.

    For :math:`M = X^\top Y` with thin SVD :math:`M = U \Sigma V^\top`, the
    map :math:`R = U V^\top` maximises :math:`\operatorname{tr}(R^\top M)`
    over matrices with orthonormal rows or columns (Schönemann, 1966). For a
    square ``cross`` this minimises :math:`\lVert X R - Y\rVert_F` over
    orthogonal ``R``; for a rectangular one it is the corresponding block of
    the solution for the zero-padded square problem.

    Parameters
    ----------
    cross : torch.Tensor of shape (d_x, d_y)
        Cross-product :math:`X^\top Y` of the (normalised) pairs.
    allow_reflection : bool, default=True
        If False and ``cross`` is square, flip the direction of the smallest
        singular value when needed so that :math:`\det R = +1` (Kabsch). A
        rectangular map has no determinant: any semi-orthogonal map is a
        block of a rotation of the zero-padded space, so there is nothing to
        constrain.

    Returns
    -------
    torch.Tensor of shape (d_x, d_y)
        The map, with orthonormal rows (``d_x <= d_y``) or columns.
    """
    U, _, Vh = torch.linalg.svd(cross, full_matrices=False)
    square = cross.shape[0] == cross.shape[1]
    if not allow_reflection and square and torch.linalg.det(U @ Vh) < 0:
        U = U.clone()
        U[:, -1] = -U[:, -1]
    return U @ Vh


def least_squares(gram, cross, *, alpha=0.0):
    r"""Solve the (regularised) normal equations :math:`(G + \alpha I) W = C`.

    Solved through the eigendecomposition of the symmetric positive
    semi-definite :math:`G = X^\top X` (its SVD), never an explicit inverse.
    Eigenvalues of :math:`G + \alpha I` below ``d * eps`` times the largest
    are treated as zero, which gives the minimum-norm least-squares solution
    :math:`W = X^{+} Y` when :math:`X` is rank deficient.

    Parameters
    ----------
    gram : torch.Tensor of shape (d_x, d_x)
        :math:`X^\top X` of the (normalised) inputs.
    cross : torch.Tensor of shape (d_x, d_y)
        :math:`X^\top Y`.
    alpha : float, default=0.0
        Ridge penalty.

    Returns
    -------
    torch.Tensor of shape (d_x, d_y)
        The solution :math:`W`.
    """
    values, vectors = torch.linalg.eigh(gram)
    values = values + alpha
    finfo = torch.finfo(values.dtype)
    cutoff = gram.shape[0] * finfo.eps * values.max().clamp(min=finfo.tiny)
    inverse = torch.where(values > cutoff, 1 / values, torch.zeros_like(values))
    return vectors @ (inverse[:, None] * (vectors.T @ cross))
