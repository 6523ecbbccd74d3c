r"""Moments of row chunks, merged exactly, and the rule for constant features.

Statistics are accumulated in float64 (on CPU and CUDA; MPS has no float64,
so callers accumulate on the CPU there, see :func:`statistics_device`) and
merged with Chan et al.'s parallel update, so that any chunking of the rows
gives the statistics of the whole to float tolerance.

For least squares, the chunks are not reduced to a Gram matrix
:math:`X^\top X`, whose condition number is the square of the data's: each
chunk keeps the triangular factor :math:`R` of its centred rows
(:math:`X_c = Q R`) and :math:`Q^\top Y_c`, and chunks are merged by a QR
decomposition of the stacked factors (TSQR). Solving from the factor is as
accurate as ``numpy.linalg.lstsq`` on the rows themselves.

References
----------
T. F. Chan, G. H. Golub, R. J. LeVeque. "Updating formulae and a pairwise
algorithm for computing sample variances." COMPSTAT 1982.
J. Demmel, L. Grigori, M. Hoemmen, J. Langou. "Communication-optimal parallel
and sequential QR and LU factorizations." SIAM J. Sci. Comput. 34(1), 2012.
"""

from typing import NamedTuple

import torch

_EPS64 = torch.finfo(torch.float64).eps


def statistics_device(device):
    """Where float64 statistics of data on ``device`` are accumulated.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    torch.device
        ``device``, or the CPU for devices without float64 (MPS).
    """
    return torch.device("cpu") if device.type == "mps" else device


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
    count, mean, m2, _ = _centred(S)
    return count, mean, m2


def _centred(S):
    """``(count, mean, m2, centred S)`` in float64, centring ``S`` once.

    One new array: the float64 copy of ``S``, centred in place (a fresh
    array per chunk, on top of the conversion, cost a third of the GEMM).
    """
    device = statistics_device(S.device)
    centred = S.to(device=device, dtype=torch.float64, copy=True)
    mean = centred.mean(0)
    centred -= mean
    return S.shape[0], mean, (centred * centred).sum(0), centred


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


def pool_moments(count, mean, m2, n_groups):
    """Moments of groups of columns, each group's entries pooled as one sample.

    The columns are ``n_groups`` consecutive groups of equal width ``k``; the
    pooled moments of a group are those of its ``count * k`` entries, by the
    law of total variance over its columns (exact, like :func:`merge_moments`).

    Parameters
    ----------
    count : int
        Rows the column moments were taken over.
    mean, m2 : torch.Tensor of shape (n_groups * k,)
        Column means and sums of squared deviations (:func:`column_moments`).
    n_groups : int
        Number of groups.

    Returns
    -------
    count : int
        ``count * k``, the entries of a group.
    mean, m2 : torch.Tensor of shape (n_groups,)
        Mean and sum of squared deviations of each group's entries.
    """
    mean, m2 = mean.reshape(n_groups, -1), m2.reshape(n_groups, -1)
    pooled_mean = mean.mean(1)
    pooled_m2 = m2.sum(1) + count * (mean - pooled_mean[:, None]).square().sum(1)
    return count * mean.shape[1], pooled_mean, pooled_m2


def constant_features(var, mean, n_samples, *, relative_floor=True):
    r"""Mask of the features that carry no signal, judged one by one in float64.

    A feature is constant when either

    - its variance is within float64 rounding of its mean, as scikit-learn's
      ``_is_constant_feature`` decides: :math:`\sigma^2 \le n \epsilon \sigma^2
      + (n \mu \epsilon)^2` (a dead dimension of a real encoder, constant up to
      ~1e-30 around a non-zero value); or
    - its standard deviation is below float64 resolution next to the largest
      of its space, :math:`\sigma \le \epsilon \max_j \sigma_j` (a dead
      dimension of ~1e-30 around zero), which no float computation can tell
      from rounding noise.

    Neither test compares a feature with the storage dtype's resolution, so a
    float32 feature of standard deviation 1e-4 next to one of 1e3 is live, and
    the mask is monotone in :math:`\sigma` for a fixed mean.

    Parameters
    ----------
    var : torch.Tensor of shape (m,), float64
        Variances (or mean squares, about zero, for uncentred data).
    mean : torch.Tensor of shape (m,), float64
        Means (zeros for uncentred data).
    n_samples : int
        Rows the moments were computed on.
    relative_floor : bool, default=True
        Apply the second test, which compares the entries of ``var`` with one
        another; False when they are not features of one space (the rows of a
        batch, say).

    Returns
    -------
    torch.Tensor of shape (m,), bool
    """
    var = var.to(torch.float64)
    rounding = n_samples * _EPS64 * var + (n_samples * mean.to(var) * _EPS64) ** 2
    constant = var <= rounding
    if relative_floor and var.numel():
        std = var.clamp(min=0).sqrt()
        constant |= std <= _EPS64 * std.max()
    return constant


def safe_scale(scale, constant):
    """Replace the scales of constant features by 1, so dividing is harmless.

    Parameters
    ----------
    scale : torch.Tensor of shape (m,)
        Non-negative scales (standard deviations).
    constant : torch.Tensor of shape (m,), bool
        From :func:`constant_features`.

    Returns
    -------
    torch.Tensor of shape (m,)
    """
    return torch.where(constant, torch.ones_like(scale), scale)


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
        Centred cross-products :math:`X_c^\top Y_c`.
    gram : torch.Tensor of shape (d_x, d_x) or None
        Centred Gram matrix :math:`X_c^\top X_c`; None when not requested.
    factor : torch.Tensor of shape (r, d_x) or None
        Upper triangular :math:`R` with :math:`X_c = Q R`, ``r <= d_x``; None
        when not requested.
    projected : torch.Tensor of shape (r, d_y) or None
        :math:`Q^\top Y_c`, with the same ``Q``.
    """

    count: int
    mean_x: torch.Tensor
    mean_y: torch.Tensor
    m2_x: torch.Tensor
    m2_y: torch.Tensor
    cross: torch.Tensor
    gram: torch.Tensor | None
    factor: torch.Tensor | None
    projected: torch.Tensor | None


def cross_moments(X, Y, *, gram=False, factor=False):
    """Count, means and centred (co)moments of row-aligned ``X`` and ``Y``.

    Accumulated in float64, whatever the inputs' dtype: a float32 product of
    centred rows carries a relative error of ~1e-7 per entry, which an
    ill-conditioned Procrustes or least-squares problem amplifies by its
    condition number (5e-4 in ``coef_`` on data with scales over six
    decades). Merge chunks with :func:`merge_cross_moments`.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d_x)
        Source rows.
    Y : torch.Tensor of shape (n, d_y)
        Target rows, aligned with ``X``.
    gram : bool, default=False
        Also return the centred Gram matrix of ``X``, from which
        :func:`gram_factor` makes the QR factor of a well-conditioned ``X``
        at a third of the cost of the ``factor`` option.
    factor : bool, default=False
        Also return the QR factor of the centred ``X`` and the projection of
        the centred ``Y`` on it, which least squares needs and Procrustes does
        not.

    Returns
    -------
    CrossMoments
        The statistics of the chunk.
    """
    count, mean_x, m2_x, Xc = _centred(X)
    _, mean_y, m2_y, Yc = _centred(Y)
    r = projected = None
    if factor:
        q, r = torch.linalg.qr(Xc)
        projected = q.T @ Yc
        cross = r.T @ projected
    else:
        cross = Xc.T @ Yc
    gram_x = Xc.T @ Xc if gram else None
    return CrossMoments(count, mean_x, mean_y, m2_x, m2_y, cross, gram_x, r, projected)


def gram_factor(gram, cross, *, rtol):
    r"""The QR factor of ``X`` from :math:`X^\top X` (Cholesky QR), when accurate.

    With :math:`D` the square roots of the Gram matrix's diagonal, the
    Cholesky factor :math:`L` of the equilibrated :math:`A = D^{-1} X^\top X
    D^{-1}` gives :math:`R = L^\top D` (so :math:`R^\top R = X^\top X`) and
    :math:`Z = Q^\top Y = L^{-1} D^{-1} X^\top Y`: two products of the rows
    instead of a Householder QR, and Gram matrices of chunks merge by
    addition where factors need a QR (cheaper; docs/performance.md). A least
    squares solution from them carries a relative error of order
    :math:`\kappa(A)\,\epsilon_{64}`, the square of the condition number of
    the (column-scaled) rows, where Householder's carries
    :math:`\kappa(A)^{1/2}\epsilon_{64}` (plus, for both, a term in
    :math:`\kappa(A)` times the relative residual, which dominates when the
    map explains the pairs only in part). So the factor is returned only when
    the upper bound :math:`\lVert A\rVert_\infty \lVert L^{-1}\rVert_F^2
    \ge \kappa(A)` times :math:`\epsilon_{64}` is at most ``rtol``.

    Parameters
    ----------
    gram : torch.Tensor of shape (d_x, d_x), float64
        :math:`X_c^\top X_c`.
    cross : torch.Tensor of shape (d_x, d_y), float64
        :math:`X_c^\top Y_c`.
    rtol : float
        The largest relative error the factorisation may add.

    Returns
    -------
    tuple of (factor, projected), or None
        ``factor`` of shape (d_x, d_x), upper triangular, and ``projected``
        of shape (d_x, d_y); None when ``X`` is rank deficient or too ill
        conditioned for ``rtol`` (factor the rows by Householder QR then:
        ``cross_moments(..., factor=True)``).
    """
    scale = gram.diagonal().sqrt()
    if not bool((scale > 0).all()):
        return None
    equilibrated = gram / torch.outer(scale, scale)
    lower, info = torch.linalg.cholesky_ex(equilibrated)
    if int(info):
        return None
    eye = torch.eye(lower.shape[0], dtype=lower.dtype, device=lower.device)
    inverse = torch.linalg.solve_triangular(lower, eye, upper=False)
    bound = equilibrated.abs().sum(1).max() * inverse.square().sum()
    if not bool(bound * _EPS64 <= rtol):
        return None
    return lower.T * scale, inverse @ (cross / scale.unsqueeze(1))


def stack_factors(factors, projections, extra_x=None, extra_y=None):
    r"""One QR factor for the rows behind several: TSQR's merge step.

    Given factors :math:`R_i` and projections :math:`Z_i = Q_i^\top Y_i` of
    disjoint row blocks, returns those of all the rows together, plus an
    optional extra row ``(extra_x, extra_y)``.

    Parameters
    ----------
    factors : list of torch.Tensor of shape (r_i, d_x)
    projections : list of torch.Tensor of shape (r_i, d_y)
    extra_x : torch.Tensor of shape (d_x,), default=None
    extra_y : torch.Tensor of shape (d_y,), default=None

    Returns
    -------
    factor : torch.Tensor of shape (r, d_x)
    projected : torch.Tensor of shape (r, d_y)
    """
    if extra_x is not None:
        factors = [*factors, extra_x.unsqueeze(0)]
        projections = [*projections, extra_y.unsqueeze(0)]
    q, r = torch.linalg.qr(torch.cat(factors))
    return r, q.T @ torch.cat(projections)


def merge_cross_moments(first, second):
    r"""Merge two :class:`CrossMoments` of disjoint chunks (Chan et al.'s update).

    The centred cross products (and Gram matrices) gain the same correction
    as the variances in :func:`merge_moments`:
    :math:`\frac{n_a n_b}{n}\,\delta_x^\top \delta_y`,
    where the deltas are the differences of the chunk means; the QR factors
    gain the row :math:`\sqrt{n_a n_b / n}\,\delta` (:func:`stack_factors`).

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
    r = projected = None
    if first.factor is not None and second.factor is not None:
        r, projected = stack_factors(
            [first.factor, second.factor],
            [first.projected, second.projected],
            weight**0.5 * delta_x,
            weight**0.5 * delta_y,
        )
    return CrossMoments(n, mean_x, mean_y, m2_x, m2_y, cross, gram, r, projected)
