r"""Functional maps between the spectral bases of two point clouds.

A *functional map* (Ovsjanikov et al., 2012) is the matrix :math:`C` that
carries functions on one set of points to functions on another, written in a
spectral basis of each (:mod:`.spectral`): a function :math:`f = \Phi_X a` on
``X`` becomes :math:`\Phi_Y C a` on ``Y``. A one-to-one correspondence gives
:math:`C = \Phi_Y^\top \Pi \Phi_X`, small (``k x k``) and near orthogonal
when the two graphs are alike; conversely a few functions known on both sides
(descriptors) determine :math:`C`, and :math:`C` gives the correspondence.
Latent functional maps (Fumero et al., 2024) compare embedding spaces this
way, with descriptors built from a few known pairs.

- :func:`solve_functional_map`: :math:`C` from paired descriptors, with
  Laplacian and descriptor-operator commutativity (Nogneng & Ovsjanikov,
  2017), in closed form;
- :func:`point_map`, :func:`mutual_point_pairs`: correspondences read off
  :math:`C`;
- :func:`zoomout`: spectral upsampling of :math:`C` (Melzi et al., 2019).

Bases are the orthonormal eigenvectors of :func:`.spectral.spectral_basis`.
Functions are compared with the *uniform mass* of each set (every point
weighs :math:`1/n`), so that two sets of different sizes compare: the basis
orthonormal for that mass is :math:`\sqrt{n}\,\Phi`, a function's
coefficients are :math:`\Phi^\top f / \sqrt{n}` and a point's spectral
embedding is its row of :math:`\sqrt{n}\,\Phi`.

References
----------
M. Ovsjanikov, M. Ben-Chen, J. Solomon, A. Butscher, L. Guibas. "Functional
maps: a flexible representation of maps between shapes." SIGGRAPH 2012.
D. Nogneng, M. Ovsjanikov. "Informative descriptor preservation via
commutativity for shape matching." Eurographics 2017.
S. Melzi, J. Ren, E. Rodolà, A. Sharma, P. Wonka, M. Ovsjanikov. "ZoomOut:
spectral upsampling for efficient shape correspondence." SIGGRAPH Asia 2019.
M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà. "Latent
functional maps: a spectral framework for representation alignment." NeurIPS
2024.
"""

import math

import torch

from .similarity import nearest_rows

LAPLACIAN_WEIGHT = 1e-3
r"""Default weight :math:`\alpha` of Laplacian commutativity (Fumero et al.)."""

COMMUTATIVITY_WEIGHT = 1e-1
r"""Default weight :math:`\beta` of descriptor-operator commutativity
(Fumero et al.)."""

SEARCH_ROWS = 128
"""Rows of one set compared with all of the other at once by the searches of
:func:`point_map` and :func:`zoomout`, at most: in a spectral embedding of
20 to 50 features a block of scores is written and read once, so blocks that
stay in the caches (128 rows against 5,000) run 1.5 to 2 times faster on a
CPU than the 2,048 rows of the general policy."""


def _unit_columns(F):
    """Columns of ``F`` divided by their norms; zero columns stay zero."""
    norms = torch.linalg.vector_norm(F, dim=0, keepdim=True)
    return F / torch.where(norms > 0, norms, torch.ones_like(norms))


def multiplication_operators(basis, F, *, block_rows):
    r"""The operators :math:`S_i = \Phi^\top \operatorname{diag}(f_i) \Phi`.

    Multiplying a function by :math:`f_i`, written in the basis. Summed over
    blocks of rows: memory grows with ``block_rows`` times :math:`k^2`.

    Parameters
    ----------
    basis : torch.Tensor of shape (n, k)
        Orthonormal columns.
    F : torch.Tensor of shape (n, q)
        The functions, one a column.
    block_rows : int
        Rows summed at once.

    Returns
    -------
    torch.Tensor of shape (q, k, k)
        Symmetric matrices.
    """
    n, k = basis.shape
    S = basis.new_zeros((F.shape[1], k * k))
    for start in range(0, n, max(1, block_rows)):
        rows = basis[start : start + block_rows]
        products = (rows.unsqueeze(2) * rows.unsqueeze(1)).reshape(len(rows), k * k)
        S += F[start : start + block_rows].T @ products
    return S.reshape(-1, k, k)


def solve_functional_map(
    values_x,
    basis_x,
    values_y,
    basis_y,
    F_x,
    F_y,
    *,
    laplacian_weight=LAPLACIAN_WEIGHT,
    commutativity_weight=COMMUTATIVITY_WEIGHT,
    block_rows,
):
    r"""The functional map that carries the descriptors of ``X`` to those of ``Y``.

    With :math:`q` paired descriptors (column :math:`i` of ``F_x`` and of
    ``F_y`` is one function seen on each side), :math:`C` minimises

    .. math::

        \frac{1}{q} \lVert C A - B \rVert^2
        + \alpha \lVert \Lambda_Y C - C \Lambda_X \rVert^2
        + \frac{\beta}{q} \sum_{i=1}^{q} \lVert S^Y_i C - C S^X_i \rVert^2

    where :math:`A = \Phi_X^\top \hat F_X` and :math:`B = \Phi_Y^\top \hat
    F_Y` are the coefficients of the descriptors made unit vectors
    (:math:`\hat f = f / \lVert f \rVert` on each side), :math:`\Lambda` the
    eigenvalues divided by their largest, and :math:`S_i` the operators of
    multiplication by the descriptors scaled to a root mean square of one
    (:func:`multiplication_operators`). Every term is a mean over the
    descriptors and each descriptor weighs the same whatever the size of its
    pool, so adding descriptors refines the map rather than outweighing the
    regularisers. The energy is quadratic: its normal equations, of size
    :math:`k^2`, are solved directly (:math:`O(k^6)`; 20 x 20 maps are
    instantaneous, 50 x 50 take about a second).

    Parameters
    ----------
    values_x : torch.Tensor of shape (k,)
        Laplacian eigenvalues of ``X``'s basis.
    basis_x : torch.Tensor of shape (n_x, k)
        Orthonormal basis of ``X``.
    values_y : torch.Tensor of shape (k,)
    basis_y : torch.Tensor of shape (n_y, k)
    F_x : torch.Tensor of shape (n_x, q)
        Descriptors on ``X``.
    F_y : torch.Tensor of shape (n_y, q)
        The same descriptors on ``Y``.
    laplacian_weight : float, default=LAPLACIAN_WEIGHT
        :math:`\alpha`.
    commutativity_weight : float, default=COMMUTATIVITY_WEIGHT
        :math:`\beta`.
    block_rows : int
        Rows summed at once for the operators.

    Returns
    -------
    torch.Tensor of shape (k, k)
        :math:`C`, from coefficients on ``X`` to coefficients on ``Y``.
    """
    k, q = basis_x.shape[1], F_x.shape[1]
    given = basis_x.dtype
    dtype = torch.promote_types(given, torch.float64)
    basis_x, basis_y = basis_x.to(dtype), basis_y.to(dtype)
    F_x, F_y = _unit_columns(F_x.to(dtype)), _unit_columns(F_y.to(dtype))
    A, B = basis_x.T @ F_x, basis_y.T @ F_y
    eye = torch.eye(k, dtype=dtype, device=basis_x.device)
    # Row-major vec(C): vec(C M) = (I kron M^T) vec(C), vec(N C) = (N kron I) vec(C).
    H = torch.kron(eye, A @ A.T) / q
    top = torch.maximum(values_x.abs().max(), values_y.abs().max()).to(dtype)
    scale = torch.where(top > 0, top, torch.ones_like(top))
    gaps = (values_y.to(dtype)[:, None] - values_x.to(dtype)[None, :]) / scale
    H += torch.diag(laplacian_weight * gaps.square().reshape(-1))
    if commutativity_weight > 0:
        S_x = multiplication_operators(
            basis_x, F_x * math.sqrt(basis_x.shape[0]), block_rows=block_rows
        )
        S_y = multiplication_operators(
            basis_y, F_y * math.sqrt(basis_y.shape[0]), block_rows=block_rows
        )
        # sum_i kron(S_y_i, S_x_i), as one product of the stacked operators.
        cross = (S_y.reshape(q, k * k).T @ S_x.reshape(q, k * k)).reshape(k, k, k, k)
        cross = cross.permute(0, 2, 1, 3).reshape(k * k, k * k)
        squares_y = torch.einsum("iab,ibc->ac", S_y, S_y)
        squares_x = torch.einsum("iab,ibc->ac", S_x, S_x)
        H += (commutativity_weight / q) * (
            torch.kron(squares_y, eye) + torch.kron(eye, squares_x) - 2 * cross
        )
    rhs = (B @ A.T).reshape(-1) / q
    # A tiny ridge keeps the system solvable where no term constrains an
    # entry (fewer descriptors than basis functions, equal eigenvalues).
    ridge = 1e-12 * H.diagonal().abs().max().clamp_min(1.0)
    H += ridge * torch.eye(k * k, dtype=dtype, device=H.device)
    return torch.linalg.solve(H, rhs).reshape(k, k).to(given)


def _embedding(basis):
    """The rows of the basis orthonormal for the uniform mass, sqrt(n) Phi."""
    return basis * math.sqrt(basis.shape[0])


def _nearest(Q, C, *, block_rows):
    r"""The nearest row of ``C`` to each row of ``Q``, in Euclidean distance.

    Ranks by :math:`2 q \cdot c - \lVert c \rVert^2`, the negated squared
    distance less :math:`\lVert q \rVert^2`, which is constant along a row:
    one product per block.
    """
    squares = C.square().sum(dim=1).neg_().unsqueeze(0)
    _, indices = nearest_rows(
        Q,
        C,
        1,
        block_rows=block_rows,
        score=lambda block, rows: torch.addmm(squares, block, rows.T, alpha=2.0),
    )
    return indices.squeeze(1)


def point_map(basis_x, basis_y, C, *, block_rows):
    r"""The row of ``X`` that each row of ``Y`` corresponds to, under ``C``.

    Row :math:`j` of ``Y`` goes to the row :math:`i` of ``X`` whose spectral
    embedding carried by :math:`C` is nearest to its own:
    :math:`\arg\min_i \lVert \sqrt{n_x}\,\Phi_X[i] C^\top - \sqrt{n_y}\,
    \Phi_Y[j] \rVert`, the point map whose pull-back best matches :math:`C`.

    Parameters
    ----------
    basis_x : torch.Tensor of shape (n_x, k)
    basis_y : torch.Tensor of shape (n_y, k)
    C : torch.Tensor of shape (k, k)
    block_rows : int
        Rows of ``Y`` compared with all of ``X`` at once.

    Returns
    -------
    torch.Tensor of shape (n_y,), int64
        Rows of ``X``.
    """
    return _nearest(
        _embedding(basis_y), _embedding(basis_x) @ C.T, block_rows=block_rows
    )


def mutual_point_pairs(basis_x, basis_y, C, *, block_rows):
    """Rows of ``X`` and ``Y`` that are each other's nearest under ``C``.

    :func:`point_map` from ``Y`` to ``X``, kept where the nearest row of
    ``Y`` to the carried embedding of that row of ``X`` is the row itself:
    one to one, and the surer part of the point map.

    Parameters
    ----------
    basis_x, basis_y, C, block_rows
        As for :func:`point_map` (blocks are taken from either set).

    Returns
    -------
    x : torch.Tensor of shape (p,), int64
        Rows of ``X``.
    y : torch.Tensor of shape (p,), int64
        Their partners in ``Y``, in increasing order.
    """
    carried, target = _embedding(basis_x) @ C.T, _embedding(basis_y)
    to_x = _nearest(target, carried, block_rows=block_rows)
    to_y = _nearest(carried, target, block_rows=block_rows)
    y = torch.nonzero(to_y[to_x] == torch.arange(len(to_x), device=to_x.device))
    y = y.squeeze(1)
    return to_x[y], y


def zoomout(basis_x, basis_y, C, *, step=1, block_rows):
    r"""Spectral upsampling of a functional map (ZoomOut, Melzi et al., 2019).

    From the ``k0 x k0`` map ``C``, alternately read the point map
    (:func:`point_map`) on the first :math:`k` basis functions and convert it
    back to a :math:`(k + \text{step}) \times (k + \text{step})` map,
    :math:`C = \sqrt{n_x / n_y}\, \Phi_Y^\top \Pi \Phi_X` (the map of the
    correspondence for the uniform masses), until every basis function is
    used. Each step costs one nearest-neighbour search between the sets.

    Parameters
    ----------
    basis_x : torch.Tensor of shape (n_x, k)
    basis_y : torch.Tensor of shape (n_y, k)
        At least as many columns as ``basis_x``; the first ``k`` are used.
    C : torch.Tensor of shape (k0, k0)
        The map to refine, ``k0 <= k``.
    step : int, default=1
        Basis functions added at each iteration.
    block_rows : int
        Rows compared with all rows of the other set at once.

    Returns
    -------
    torch.Tensor of shape (k, k)
    """
    k = basis_x.shape[1]
    ratio = math.sqrt(basis_x.shape[0] / basis_y.shape[0])
    size = C.shape[0]
    while size < k:
        rows_x = point_map(
            basis_x[:, :size], basis_y[:, :size], C, block_rows=block_rows
        )
        size = min(size + step, k)
        C = ratio * basis_y[:, :size].T @ basis_x[rows_x, :size]
    return C
