r"""The inverse relative projection: cosine relative vectors back to absolute ones.

A cosine relative vector is :math:`r = \hat A \hat x`, where the rows of
:math:`\hat A` (k, d) are the unit anchors and :math:`\hat x` is the unit
sample (both centred first when the projection centres). The direction of
:math:`x` is recovered by least squares, :math:`z = \hat A^{+} r`, exactly when
:math:`\hat A` has rank :math:`d` (Maiorca et al., 2024); a norm statistic and
the centre then place it back in the space.
"""

import torch

from .similarity import unit_rows
from .solvers import least_squares


def anchor_pseudo_inverse(A, *, center=None, alpha=0.0):
    r"""Pseudo-inverse :math:`\hat A^{+}` of the unit (optionally centred) anchors.

    With ``alpha > 0``, the ridge-regularised inverse
    :math:`(\hat A^\top \hat A + \alpha \sigma_1^2 I)^{-1} \hat A^\top`,
    where :math:`\sigma_1` is the largest singular value of :math:`\hat A`:
    directions the anchors barely determine are damped instead of amplifying
    the noise of relative vectors computed in another space.

    Computed from the QR factorisation :math:`\hat A = Q R` and
    :func:`~._kernels.solvers.least_squares` on :math:`R W = Q^\top`, so the
    condition number is that of the anchors, not its square. It runs in the
    anchors' dtype, so that directions the anchors determine only to within
    their rounding (such as a dead feature of float32 data, after a
    rotation) count as undetermined rather than amplified. When the anchors
    span fewer than :math:`d` directions (``k < d`` or degenerate anchors), the
    result is the minimum-norm least-squares inverse.

    Parameters
    ----------
    A : torch.Tensor of shape (k, d)
        Anchors, not centred.
    center : torch.Tensor of shape (d,), default=None
        Subtracted from the anchors first.
    alpha : float, default=0.0
        Ridge penalty, relative to :math:`\sigma_1^2`.

    Returns
    -------
    torch.Tensor of shape (d, k)
        :math:`\hat A^{+}`, in ``A``'s dtype.
    """
    if center is not None:
        A = A - center.to(A.dtype)
    Q, factor = torch.linalg.qr(unit_rows(A))
    if alpha > 0:
        alpha = alpha * float(torch.linalg.matrix_norm(factor, ord=2)) ** 2
    pinv, _ = least_squares(factor, Q.T, n_rows=A.shape[0], alpha=alpha)
    return pinv


def inverse_relative_projection(
    R, pinv, *, norm, center=None, mean=None, scale=None, power=None
):
    r"""Absolute vectors whose cosine relative vectors are the rows of ``R``.

    Undoes, in reverse order, a column standardisation (``mean``, ``scale``)
    and a signed power (``power``), then computes the direction
    :math:`z = \hat A^{+} r`, gives it the length ``norm`` and adds ``center``:

    .. math:: x = \mathrm{norm} \cdot \frac{\hat A^{+} r}
              {\lVert \hat A^{+} r \rVert} + c

    A row whose direction is zero (such as a zero relative vector) maps to
    ``center`` (or zero).

    Parameters
    ----------
    R : torch.Tensor of shape (n, k)
        Cosine relative vectors.
    pinv : torch.Tensor of shape (d, k)
        :func:`anchor_pseudo_inverse` of the anchors, in ``R``'s dtype.
    norm : float
        Length given to every recovered direction.
    center : torch.Tensor of shape (d,), default=None
        Added back last.
    mean, scale : torch.Tensor of shape (k,), default=None
        Column standardisation to undo (``R * scale + mean``).
    power : float, default=None
        Exponent of a signed power to undo (``sign(r) * |r| ** (1 / power)``).

    Returns
    -------
    torch.Tensor of shape (n, d)
    """
    if mean is not None:
        R = R * scale + mean
    if power is not None:
        R = R.sign() * R.abs().pow(1 / power)
    X = unit_rows(R @ pinv.T) * norm
    return X if center is None else X + center
