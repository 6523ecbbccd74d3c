"""Torch kernels: pairwise similarities to anchors, sparsification, moments.

Every function here takes tensors and returns tensors on the same device and
in the same dtype; nothing here knows scikit-learn. Similarities follow one
convention: larger means more similar, so distances are returned negated.
"""

import torch
import torch.nn.functional as F

# Elements of the (rows, anchors, features) temporary that L1 and L-infinity
# may hold at once; 2**22 float32 values are 16 MiB.
_ELEMENTWISE_BLOCK = 2**22


def cosine_similarity(X, A):
    r"""Cosine similarity of each row of ``X`` to each anchor in ``A``.

    .. math:: S_{ij} = \frac{x_i \cdot a_j}{\lVert x_i\rVert \, \lVert a_j\rVert}

    A zero row (in ``X`` or ``A``) has similarity 0 to everything, never NaN.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return F.normalize(X, dim=1) @ F.normalize(A, dim=1).T


def dot_similarity(X, A):
    r"""Inner product of each row of ``X`` with each anchor: :math:`S = X A^\top`.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return X @ A.T


def euclidean_similarity(X, A):
    r"""Negative Euclidean distance, :math:`S_{ij} = -\lVert x_i - a_j\rVert_2`.

    Computed with one GEMM, :math:`\lVert x\rVert^2 - 2 x\cdot a +
    \lVert a\rVert^2`, clipped at zero. Near-zero distances therefore carry an
    absolute error of about the square root of the dtype's resolution times
    the squared norms (~1e-7 in float64 for unit-scale data).

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    squared = torch.addmm(
        (X * X).sum(1, keepdim=True) + (A * A).sum(1), X, A.T, alpha=-2.0
    )
    return squared.clamp_(min=0).sqrt_().neg_()


def _blockwise_elementwise(X, A, reduce):
    """Apply ``reduce(|x - a|)`` over features, a bounded block at a time."""
    n, d = X.shape
    out = torch.empty((n, A.shape[0]), dtype=X.dtype, device=X.device)
    rows = max(1, _ELEMENTWISE_BLOCK // max(1, d * A.shape[0]))
    anchors = max(1, _ELEMENTWISE_BLOCK // max(1, d * min(n, rows)))
    for r in range(0, n, rows):
        x = X[r : r + rows, None, :]
        for c in range(0, A.shape[0], anchors):
            diff = (x - A[None, c : c + anchors, :]).abs_()
            out[r : r + rows, c : c + anchors] = reduce(diff)
    return out


def l1_similarity(X, A):
    r"""Negative Manhattan distance, :math:`S_{ij} = -\sum_f |x_{if} - a_{jf}|`.

    The (rows, anchors, features) difference tensor is never built whole: it is
    formed in blocks of at most ``2**22`` elements.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return _blockwise_elementwise(X, A, lambda diff: diff.sum(-1)).neg_()


def linf_similarity(X, A):
    r"""Negative Chebyshev distance, :math:`S_{ij} = -\max_f |x_{if} - a_{jf}|`.

    Built block by block, as :func:`l1_similarity`.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return _blockwise_elementwise(X, A, lambda diff: diff.amax(-1)).neg_()


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
