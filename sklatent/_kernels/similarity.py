"""Similarities of rows to anchors: every distance and cosine, computed once.

Every function takes tensors and returns tensors on the same device and in the
same dtype; nothing here knows scikit-learn. Similarities follow one
convention: larger means more similar, so distances are returned negated.
Similarity kernels take an optional ``out`` to write into (and then work in
place); without it they do nothing in place, so gradients flow.

Numerical policy, for float32 data far from the origin as real encoders give:

- norms are computed without overflow or underflow (rows are rescaled by
  their largest entry when a plain norm is not finite or may have lost
  precision), so cosine is exactly scale invariant and a row is a zero vector
  only when its entries are all zero;
- squared Euclidean distances are expanded as
  :math:`\\lVert x\\rVert^2 - 2 x\\cdot a + \\lVert a\\rVert^2` on data centred on
  the anchors' mean (distances are translation invariant), and every entry
  small next to the squared norms, where the expansion cancels, is recomputed
  exactly as :math:`\\lVert x - a\\rVert^2`; gradients are finite everywhere,
  zero at a zero distance, as ``torch.cdist`` gives.
"""

import math

import torch

from . import fused as _fused

CANCELLATION = 1 / 32
r"""Squared distances at most this fraction of :math:`\lVert x\rVert^2 +
\lVert a\rVert^2` (centred) are recomputed exactly: below it the expansion's
rounding error would exceed a relative :math:`\sqrt{d}\,\epsilon / (2 \cdot
\text{CANCELLATION})` of the result."""

_FIXUP_ELEMENTS = 2**22
"""Entries times features recomputed at once by the exact fix-up."""


def row_norms(X, *, keepdim=False):
    """Euclidean norm of each row, without overflow or underflow.

    A plain norm is computed first; only rows whose norm is not finite or is
    small enough for the squares to have underflowed are recomputed after
    dividing them by their largest absolute entry.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    keepdim : bool, default=False
        Return shape (n, 1) instead of (n,).

    Returns
    -------
    torch.Tensor of shape (n,) or (n, 1)
        Zero exactly for rows of zeros.
    """
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    finfo = torch.finfo(X.dtype)
    suspect = ~torch.isfinite(norms) | (norms < math.sqrt(finfo.tiny) / finfo.eps)
    if X.shape[0] and bool(suspect.any()):
        largest = X.abs().amax(dim=1, keepdim=True)
        largest = torch.where(largest > 0, largest, torch.ones_like(largest))
        rescaled = torch.linalg.vector_norm(X / largest, dim=1, keepdim=True) * largest
        norms = torch.where(suspect, rescaled, norms)
    return norms if keepdim else norms.squeeze(1)


def unit_rows(X):
    """Rows of ``X`` divided by their norms; zero rows stay zero.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)

    Returns
    -------
    torch.Tensor of shape (n, d)
    """
    return X / _nonzero(row_norms(X, keepdim=True))


def _nonzero(norms):
    """Norms with zeros replaced by one, so that zero rows divide to zero."""
    return torch.where(norms > 0, norms, torch.ones_like(norms))


def cosine_similarity(X, A, *, out=None):
    r"""Cosine similarity of each row of ``X`` to each anchor in ``A``.

    .. math:: S_{ij} = \frac{x_i \cdot a_j}{\lVert x_i\rVert \, \lVert a_j\rVert}

    One GEMM of ``X`` with the unit anchors, whose rows are then divided by
    the norms of ``X``'s rows. A zero row (in ``X`` or ``A``), and only a row
    of zeros, has similarity 0 to everything, never NaN: the result is
    unchanged when ``X`` or ``A`` is multiplied by any positive number.

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
    norms = _nonzero(row_norms(X, keepdim=True))
    S = torch.mm(X, unit_rows(A).T, out=out)
    return S / norms if out is None else S.div_(norms)


def paired_cosine(X, Y):
    """Cosine of each row of ``X`` with the same row of ``Y``.

    Parameters
    ----------
    X, Y : torch.Tensor of shape (n, d)
        Row-aligned; a zero row has cosine 0 with anything.

    Returns
    -------
    torch.Tensor of shape (n,)
    """
    return (unit_rows(X) * unit_rows(Y)).sum(dim=1)


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


def squared_euclidean(X, A, *, out=None):
    r"""Squared Euclidean distances :math:`D_{ij} = \lVert x_i - a_j\rVert^2`.

    One GEMM on data centred on the anchors' mean, then an exact recomputation
    of the entries where the expansion cancels (see the module docstring):
    each entry's relative error is within the bound given by
    :data:`CANCELLATION`, also for float32 data far from the origin, and a row
    equal to an anchor gives exactly zero.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    A : torch.Tensor of shape (k, d)
    out : torch.Tensor of shape (n, k), default=None
        Where to write the result.

    Returns
    -------
    torch.Tensor of shape (n, k)
        Non-negative; ``out`` when given.
    """
    if A.shape[0] == 0:
        return torch.mm(X, A.T, out=out)
    center = A.mean(dim=0)
    Xc, Ac = X - center, A - center
    x_squares = torch.linalg.vector_norm(Xc, dim=1).square().unsqueeze(1)
    a_squares = torch.linalg.vector_norm(Ac, dim=1).square()
    squares = torch.addmm(a_squares, Xc, Ac.T, alpha=-2.0, out=out)
    squares = squares + x_squares if out is None else squares.add_(x_squares)
    # Only rows whose smallest entry is below the largest threshold of the
    # row can hold an entry to recompute; the test costs one read of the
    # block, the full comparison is made on those rows alone.
    largest = (x_squares.squeeze(1) + a_squares.max()) * CANCELLATION
    suspects = (squares.amin(dim=1) <= largest).nonzero().squeeze(1)
    threshold = (x_squares[suspects] + a_squares) * CANCELLATION
    rows, columns = torch.nonzero(squares[suspects] <= threshold, as_tuple=True)
    rows = suspects[rows]
    step = max(1, _FIXUP_ELEMENTS // max(1, X.shape[1]))
    for start in range(0, rows.numel(), step):
        r, c = rows[start : start + step], columns[start : start + step]
        exact = (Xc[r] - Ac[c]).square().sum(dim=1)
        if out is None:
            squares = squares.index_put((r, c), exact)
        else:
            squares[r, c] = exact
    # Every entry is now non-negative: a negative one, where the expansion
    # cancelled, lies below its threshold and was recomputed exactly.
    return squares


def euclidean_similarity(X, A, *, out=None):
    r"""Negative Euclidean distance, :math:`S_{ij} = -\lVert x_i - a_j\rVert_2`.

    The square root of :func:`squared_euclidean`, so as accurate; its
    gradient is finite everywhere and zero where a row equals an anchor.

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
    D = squared_euclidean(X, A, out=out)
    if out is not None:
        return D.sqrt_().neg_()
    positive = D > 0
    return -torch.where(positive, torch.where(positive, D, 1).sqrt(), 0)


def l1_similarity(X, A, *, out=None):
    r"""Negative Manhattan distance, :math:`S_{ij} = -\sum_f |x_{if} - a_{jf}|`.

    Runs a fused, compiled loop (``sklatent._kernels.fused``) that accumulates over
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


def largest_safe_value(name, dtype, n_features):
    """The largest absolute input value for which a similarity stays finite.

    Cosine, L1 and L-infinity overflow only for values near the dtype's
    largest (a sum of ``n_features`` terms); the dot product and the squared
    distances behind the Euclidean one square the values and overflow first
    (about ``1e17`` in float32 for 768 features).

    Parameters
    ----------
    name : str
        A key of :data:`SIMILARITIES`.
    dtype : torch.dtype
        The computing dtype.
    n_features : int
        Width of the rows.

    Returns
    -------
    float
        A bound on ``max |x|`` over samples and anchors (``inf`` when any
        finite value is safe).
    """
    largest = torch.finfo(dtype).max
    if name == "dot":
        return math.sqrt(largest / (4 * max(1, n_features)))
    if name == "euclidean":
        # Centred entries are at most twice the largest value; 4x headroom for
        # the sum of the expansion's three terms.
        return math.sqrt(largest / (64 * max(1, n_features)))
    if name == "l1":
        return largest / (4 * max(1, n_features))
    # Cosine: |x . a / |a|| <= |x| <= sqrt(d) max |x|; L-infinity: 2 max |x|.
    return largest / (4 * math.sqrt(max(1, n_features)))


def nearest_rows(Q, C, k, *, block_rows, score=None, exclude_self=False):
    """The ``k`` largest scores of each row of ``Q`` against the rows of ``C``.

    Blocks of ``block_rows`` rows of ``Q`` are scored against all of ``C`` at
    once, so memory stays bounded by ``block_rows`` times ``len(C)``; only the
    ``k`` best of each row are kept.

    Parameters
    ----------
    Q : torch.Tensor of shape (n, d)
    C : torch.Tensor of shape (m, d)
        On ``Q``'s device.
    k : int
        Neighbours kept per row; ``min(k, m)`` (one fewer with
        ``exclude_self``) are returned.
    block_rows : int
        Rows of ``Q`` compared with all of ``C`` at once.
    score : callable, default=None
        ``score(block, C)`` gives the (rows, m) scores, larger meaning nearer:
        a similarity of :data:`SIMILARITIES`, or the product of rows (the
        cosine for unit rows) when None.
    exclude_self : bool, default=False
        ``Q`` and ``C`` are the same rows: row ``i`` is not its own neighbour.

    Returns
    -------
    values : torch.Tensor of shape (n, k)
        The scores, in decreasing order along each row.
    indices : torch.Tensor of shape (n, k), int64
        Their rows of ``C``.
    """
    k = min(k, C.shape[0] - int(exclude_self))
    values = Q.new_empty((Q.shape[0], k))
    indices = torch.empty((Q.shape[0], k), dtype=torch.int64, device=Q.device)
    block_rows = max(1, block_rows)
    for start in range(0, Q.shape[0], block_rows):
        stop = min(start + block_rows, Q.shape[0])
        block = Q[start:stop] @ C.T if score is None else score(Q[start:stop], C)
        if exclude_self:
            local = torch.arange(stop - start, device=Q.device)
            block[local, local + start] = -torch.inf
        # A max along the rows costs two thirds of topk's.
        found = block.max(dim=1, keepdim=True) if k == 1 else block.topk(k, dim=1)
        values[start:stop], indices[start:stop] = found
    return values, indices
