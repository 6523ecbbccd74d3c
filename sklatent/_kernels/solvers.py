"""Solvers that turn sufficient statistics into a map between spaces."""

import torch

from .moments import stack_factors


def procrustes(cross, *, allow_reflection=True, rtol=None):
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
    rtol : float, default=None
        When given, first try :math:`R = M (M^\top M)^{-1/2}` from the
        eigendecomposition of the smaller Gram matrix of ``cross`` (faster
        than its SVD on the CPU; docs/performance.md); it is kept when its
        error, of order :math:`\kappa(M)^2 \epsilon` (against the SVD's
        :math:`\kappa(M) \epsilon`), is at most ``rtol``, and the SVD is
        used otherwise.

    Returns
    -------
    W : torch.Tensor of shape (d_x, d_y)
        The map, with orthonormal rows (``d_x <= d_y``) or columns.
    rank : int
        Number of singular values of ``cross`` above ``max(d_x, d_y) * eps``
        times the largest: the directions the data determine. Below
        ``min(d_x, d_y)``, the map of the other directions is arbitrary.
    """
    square = cross.shape[0] == cross.shape[1]
    if rtol is not None:
        W = _gram_polar(cross, flip=not allow_reflection and square, rtol=rtol)
        if W is not None:
            return W, min(cross.shape)
    U, s, Vh = torch.linalg.svd(cross, full_matrices=False)
    if not allow_reflection and square and torch.linalg.det(U @ Vh) < 0:
        U = U.clone()
        U[:, -1] = -U[:, -1]
    return U @ Vh, _rank(s, max(cross.shape))


def _gram_polar(cross, *, flip, rtol):
    r"""The polar factor :math:`M V \Lambda^{-1/2} V^\top`, or None.

    :math:`M^\top M = V \Lambda V^\top` for the tall one of ``cross`` and
    its transpose. Kept only when :math:`\lambda_{max} \epsilon \le
    \texttt{rtol}\,\lambda_{min}`: the eigenvalues are then accurate to
    that relative error, and so is the map. ``flip`` (Kabsch) negates the
    direction of the smallest singular value when :math:`\det M < 0`.
    """
    tall = cross.shape[0] >= cross.shape[1]
    M = cross if tall else cross.T
    eigenvalues, V = torch.linalg.eigh(M.T @ M)  # ascending
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    eps = torch.finfo(M.dtype).eps
    if not bool((smallest > 0) & (largest * eps <= rtol * smallest)):
        return None
    gain = eigenvalues.rsqrt()
    if flip and torch.linalg.det(M) < 0:
        gain[0] = -gain[0]
    W = (M @ V) @ (gain.unsqueeze(1) * V.T)
    return W if tall else W.T


def least_squares(factor, projected, *, n_rows, alpha=0.0):
    r"""Solve :math:`\min_W \lVert X W - Y\rVert_F^2 + \alpha \lVert W\rVert_F^2`.

    From the QR factor :math:`X = Q R` and :math:`Z = Q^\top Y`
    (:mod:`~._kernels.moments`), the problem is
    :math:`\min_W \lVert R W - Z\rVert_F^2 + \alpha \lVert W\rVert_F^2`,
    solved through the SVD :math:`R = U \Sigma V^\top`:
    :math:`W = V \operatorname{diag}\big(\sigma / (\sigma^2 + \alpha)\big)
    U^\top Z`. The condition number is the data's, not its square as with
    the normal equations. Without a penalty, singular values at most
    ``max(n_rows, d) * eps`` times the largest are treated as zero, as
    ``numpy.linalg.lstsq`` does, which gives the minimum-norm solution
    :math:`W = X^{+} Y` when :math:`X` is rank deficient. When a cheap bound
    on the condition number proves :math:`R` of full rank, the solution is
    found by back substitution instead of the SVD (the same solution, at a
    fraction of the cost; docs/performance.md).

    Parameters
    ----------
    factor : torch.Tensor of shape (r, d_x)
        :math:`R`.
    projected : torch.Tensor of shape (r, d_y)
        :math:`Z = Q^\top Y`.
    n_rows : int
        Rows of :math:`X`, for the rank cutoff.
    alpha : float, default=0.0
        Ridge penalty.

    Returns
    -------
    W : torch.Tensor of shape (d_x, d_y)
        The solution.
    rank : int
        Number of singular values above the cutoff; below ``d_x`` an
        unpenalised solution is not unique and the minimum-norm one is given.
    """
    size = max(n_rows, factor.shape[1])
    if alpha <= 0:
        solution = _full_rank_solve(factor, projected, size)
        if solution is not None:
            return solution, factor.shape[1]
    U, s, Vh = torch.linalg.svd(factor, full_matrices=False)
    rank = _rank(s, size)
    if alpha > 0:
        gain = s / (s.square() + alpha)
    else:
        kept = torch.arange(s.numel(), device=s.device) < rank
        gain = torch.where(kept, 1 / torch.where(kept, s, 1), 0)
    return Vh.T @ (gain.unsqueeze(1) * (U.T @ projected)), rank


def _full_rank_solve(factor, projected, size):
    r""":math:`R^{-1} Z` by back substitution when :math:`R` surely has full rank.

    ``factor`` is first made square and upper triangular by a QR
    decomposition when it is not (columns of constant features removed, say;
    fewer rows than columns cannot have full rank). Full rank is certain when
    :math:`\lVert R\rVert_F \lVert R^{-1}\rVert_F`, an upper bound on the
    condition number, is below half the reciprocal of ``size * eps``: every
    singular value is then above the cutoff of :func:`_rank`, and the unique
    solution is the one the SVD would give, at a fraction of its cost.
    Returns None otherwise.
    """
    rows, columns = factor.shape
    if rows < columns or columns == 0:
        return None
    if rows > columns or not torch.equal(factor, factor.triu()):
        factor, projected = stack_factors([factor], [projected])
    eye = torch.eye(columns, dtype=factor.dtype, device=factor.device)
    inverse = torch.linalg.solve_triangular(factor, eye, upper=True)
    bound = torch.linalg.matrix_norm(factor) * torch.linalg.matrix_norm(inverse)
    if not bool(bound * size * torch.finfo(factor.dtype).eps < 0.5):
        return None
    return torch.linalg.solve_triangular(factor, projected, upper=True)


def _rank(singular_values, size):
    """Singular values above ``size * eps`` times the largest (sorted input)."""
    if singular_values.numel() == 0:
        return 0
    finfo = torch.finfo(singular_values.dtype)
    cutoff = size * finfo.eps * singular_values[0]
    return int((singular_values > max(float(cutoff), finfo.tiny)).sum())
