"""Torch kernels, tested alone on tensors."""

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy.stats import ortho_group

from sklatent import _kernels
from sklatent._kernels import functional_map, solvers, spectral
from sklatent._kernels.similarity import CANCELLATION


def _pairs(n=120, d_x=8, d_y=8, noise=0.0, seed=0):
    """Source embeddings and an affine image of them, with optional noise."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d_x)) * rng.uniform(0.5, 3, size=d_x) + 4
    A = rng.normal(size=(d_x, d_y))
    Y = X @ A + rng.normal(size=d_y) + noise * rng.normal(size=(n, d_y))
    return X, Y


def test_moments_merge_equals_whole():
    S = torch.randn(50, 4, dtype=torch.float64)
    merged = None
    for chunk in torch.split(S, [1, 17, 32]):
        merged = _kernels.merge_moments(merged, _kernels.column_moments(chunk))
    count, mean, m2 = merged
    assert count == 50
    torch.testing.assert_close(mean, S.mean(0))
    torch.testing.assert_close(m2 / count, S.var(0, unbiased=False))


def _constant(std, mean=None, n=1000):
    std = torch.tensor(std, dtype=torch.float64)
    mean = torch.zeros_like(std) if mean is None else torch.tensor(mean).double()
    return _kernels.constant_features(std**2, mean, n).tolist()


def test_constant_features_judges_each_feature_in_float64():
    # A small but real feature next to a large one is live (the old rule,
    # 10 * float32 eps * the largest scale, called 1e-4 next to 1e3 dead).
    assert _constant([1e3, 1e-4]) == [False, False]
    # Monotone: the old rule gave [F, T, F, T] here.
    assert _constant([1e7, 1.1, 1.0, 0.9]) == [False] * 4
    # Dead dimensions as real encoders have them: constant up to ~1e-30 about
    # a non-zero value, or ~1e-30 about zero next to live features.
    assert _constant([1e-30, 0.5], mean=[0.7, 0.0]) == [True, False]
    assert _constant([1e-33, 0.05]) == [True, False]
    assert _constant([0.0, 0.0]) == [True, True]


def test_safe_scale_replaces_the_scales_of_constant_features():
    scale = torch.tensor([2.0, 1e-30, 0.0, 0.5], dtype=torch.float64)
    constant = torch.tensor([False, True, True, False])
    torch.testing.assert_close(
        _kernels.safe_scale(scale, constant),
        torch.tensor([2.0, 1.0, 1.0, 0.5], dtype=torch.float64),
    )


def test_euclidean_is_accurate_in_float32_far_from_the_origin():
    # |x|^2 - 2 x.a + |a|^2 on raw float32 data this far out cancelled: an
    # anchor's distance to itself came out as ~0.7 among distances of ~22.
    rng = np.random.RandomState(0)
    X64 = rng.normal(size=(1000, 256)) + 100
    X64[:, :3] *= [30.0, 1e-3, 0.0]  # anisotropic, and a dead dimension
    X = torch.from_numpy(X64.astype(np.float32))
    A = X[:8]
    X64, A64 = X.double().numpy(), A.double().numpy()
    squares = ((X64[:, None, :] - A64[None, :, :]) ** 2).sum(-1)
    reference = -torch.from_numpy(np.sqrt(squares))
    result = _kernels.euclidean_similarity(X, A)
    assert result.dtype == torch.float32
    assert result[:8].diagonal().abs().max() == 0
    # The documented bound (CANCELLATION's docstring): a relative
    # sqrt(d) eps / (2 CANCELLATION) on squared distances, half that on
    # distances. The GEMM's own rounding (BLAS-dependent, ~20 eps of |x||a|
    # here) stays inside it; the uncorrected expansion misses it by 10^4.
    bound = math.sqrt(X.shape[1]) * torch.finfo(X.dtype).eps / (2 * CANCELLATION)
    torch.testing.assert_close(result.double(), reference, rtol=bound / 2, atol=0)
    squared = _kernels.squared_euclidean(X, A)
    torch.testing.assert_close(squared.double(), reference**2, rtol=bound, atol=0)


def test_euclidean_gradients_are_finite_where_rows_equal_anchors():
    rng = np.random.RandomState(1)
    X = torch.tensor(rng.normal(size=(6, 5)) + 50, requires_grad=True)
    A = X.detach()[:3].clone()
    _kernels.euclidean_similarity(X, A).sum().backward()
    assert torch.isfinite(X.grad).all()
    X.grad = None
    torch.cdist(X, A).neg().sum().backward()
    reference = X.grad.clone()
    X.grad = None
    _kernels.euclidean_similarity(X, A).sum().backward()
    torch.testing.assert_close(X.grad, reference)


@pytest.mark.parametrize("factor", [1e-25, 1e-12, 1e20])
def test_cosine_is_scale_invariant_for_tiny_and_huge_rows(factor):
    # Norms below ~1e-19 underflowed in float32 and rows below 1e-12 were
    # treated as zero vectors; norms above ~1e19 overflowed.
    rng = np.random.RandomState(2)
    X = torch.from_numpy(rng.normal(size=(5, 64)).astype(np.float32))
    A = torch.from_numpy(rng.normal(size=(3, 64)).astype(np.float32))
    expected = _kernels.cosine_similarity(X, A)
    for scaled in (
        _kernels.cosine_similarity(X * factor, A),
        _kernels.cosine_similarity(X, A * factor),
    ):
        torch.testing.assert_close(scaled, expected, rtol=1e-5, atol=1e-6)


def test_least_squares_matches_lstsq_on_ill_conditioned_data():
    # Condition number ~1e12 (its square, 1e24, is beyond float64: the
    # normal equations lost the solution).
    rng = np.random.RandomState(3)
    X = rng.normal(size=(300, 20)) @ np.diag(np.logspace(0, -12, 20))
    X = np.c_[X, X[:, :2] @ [1.0, -2.0]]  # and rank deficient
    Y = rng.normal(size=(300, 4))
    factor, projected = _kernels.stack_factors(
        [torch.from_numpy(X)], [torch.from_numpy(np.zeros((300, 4)))]
    )
    q, r = torch.linalg.qr(torch.from_numpy(X))
    W, rank = _kernels.least_squares(r, q.T @ torch.from_numpy(Y), n_rows=300)
    expected, *_ = np.linalg.lstsq(X, Y, rcond=None)
    objective = ((X @ W.numpy() - Y) ** 2).sum()
    best = ((X @ expected - Y) ** 2).sum()
    assert rank == 20
    assert abs(objective - best) <= 1e-9 * best
    assert factor.shape == (21, 21)


def test_keep_top_k_and_power():
    S = torch.tensor([[0.1, -0.5, 0.9, 0.3]])
    torch.testing.assert_close(
        _kernels.keep_top_k(S, 2), torch.tensor([[0.0, 0.0, 0.9, 0.3]])
    )
    torch.testing.assert_close(
        _kernels.keep_top_k(S, 4, power=2.0), torch.tensor([[0.01, -0.25, 0.81, 0.09]])
    )


@pytest.mark.parametrize("name", sorted(_kernels.SIMILARITIES))
def test_kernels_keep_dtype_and_shape(name):
    X = torch.randn(7, 3, dtype=torch.float32)
    A = torch.randn(4, 3, dtype=torch.float32)
    out = _kernels.SIMILARITIES[name](X, A)
    assert out.shape == (7, 4) and out.dtype == torch.float32


def test_euclidean_of_a_point_to_itself_is_near_zero():
    X = torch.from_numpy(np.random.RandomState(0).normal(size=(5, 50)))
    out = _kernels.euclidean_similarity(X, X)
    assert out.diagonal().abs().max() < 1e-6


@pytest.mark.parametrize("name", sorted(_kernels.SIMILARITIES))
def test_kernels_write_into_out(name):
    # Large enough (2^24 pair-dimensions) for L1 / L-infinity's compiled path.
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(2048, 64, generator=generator, dtype=torch.float64)
    A = torch.randn(128, 64, generator=generator, dtype=torch.float64)
    X[3] = 0.0  # a zero row: cosine 0, never NaN
    expected = _kernels.SIMILARITIES[name](X, A)
    out = torch.full((2048, 128), float("nan"), dtype=torch.float64)
    assert _kernels.SIMILARITIES[name](X, A, out=out) is out
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert not out.isnan().any()


def test_cosine_matches_normalised_product():
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(30, 5, generator=generator, dtype=torch.float64) * 1e3
    A = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    X[0], A[2] = 0.0, 0.0
    unit = X / X.norm(dim=1, keepdim=True).clamp(min=1e-12)
    reference = unit @ (A / A.norm(dim=1, keepdim=True).clamp(min=1e-12)).T
    torch.testing.assert_close(_kernels.cosine_similarity(X, A), reference)


@pytest.mark.parametrize("name", sorted(_kernels.SIMILARITIES))
def test_kernels_without_out_are_differentiable(name):
    generator = torch.Generator().manual_seed(2)
    X = torch.randn(6, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    A = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda X: _kernels.SIMILARITIES[name](X, A), (X,))


def _chunked_moments(X, Y, sizes):
    merged = None
    for x, y in zip(torch.split(X, sizes), torch.split(Y, sizes), strict=True):
        merged = _kernels.merge_cross_moments(merged, _kernels.cross_moments(x, y))
    return merged


def test_float32_moments_match_float64_far_from_the_origin():
    # float32 rows give the float64 statistics of the same values, dead and
    # tiny features included (the moments are accumulated in float64).
    rng = np.random.RandomState(4)
    X64 = rng.normal(size=(3000, 64)) * rng.uniform(1e-3, 30, size=64) + 1000
    X64[:, 0] = 0.7  # a dead dimension
    X64[:, 1] = rng.normal(size=3000) * 1e-4 + 100  # tiny spread, far out
    Y64 = X64 @ rng.normal(size=(64, 48)) / 8 - 500 + rng.normal(size=(3000, 48))
    X = torch.from_numpy(X64.astype(np.float32))
    Y = torch.from_numpy(Y64.astype(np.float32))
    sizes = [1000, 2000]
    fast = _chunked_moments(X, Y, sizes)
    exact = _chunked_moments(X.double(), Y.double(), sizes)
    assert fast.cross.dtype == fast.m2_x.dtype == torch.float64
    torch.testing.assert_close(fast.mean_x, exact.mean_x, rtol=1e-12, atol=0)
    assert fast.m2_x[0] < 1e-20 and exact.m2_x[0] < 1e-20
    torch.testing.assert_close(fast.m2_x[1:], exact.m2_x[1:], rtol=1e-5, atol=0)
    torch.testing.assert_close(fast.m2_y, exact.m2_y, rtol=1e-5, atol=0)
    # Each cross-product within 1e-6 of the scale of its features' spreads.
    scale = torch.outer(exact.m2_x, exact.m2_y).sqrt()
    assert ((fast.cross - exact.cross).abs() <= 1e-6 * scale + 1e-12).all()
    constant = _kernels.constant_features(fast.m2_x / 3000, fast.mean_x, 3000)
    assert constant.tolist() == [True] + [False] * 63


def test_float32_statistics_give_the_float64_procrustes_map():
    # What LatentTranslator(method="orthogonal") solves, on standardised
    # data: float32 rows give float64's map.
    rng = np.random.RandomState(5)
    rotation, _ = np.linalg.qr(rng.normal(size=(96, 96)))
    X64 = rng.normal(size=(4000, 96)) * rng.uniform(0.1, 2, size=96) + 50
    Y64 = X64 @ rotation + 0.1 * rng.normal(size=(4000, 96)) - 20
    maps = []
    for dtype in (torch.float32, torch.float64):
        X = torch.from_numpy(X64.astype(np.float32)).to(dtype)
        Y = torch.from_numpy(Y64.astype(np.float32)).to(dtype)
        m = _chunked_moments(X, Y, [1500, 2500])
        cross = m.cross / torch.outer(m.m2_x.sqrt(), m.m2_y.sqrt())
        maps.append(_kernels.procrustes(cross)[0])
    assert (maps[0] - maps[1]).abs().max() < 1e-5


def test_procrustes_kernel_is_block_of_padded_solution():
    rng = np.random.RandomState(0)
    cross = torch.from_numpy(rng.normal(size=(4, 7)))
    padded = torch.zeros(7, 7, dtype=torch.float64)
    padded[:4] = cross
    W, rank = _kernels.procrustes(cross)
    assert rank == 4
    assert_allclose(W, _kernels.procrustes(padded)[0][:4], atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 6), (9, 4), (4, 9)])
@pytest.mark.parametrize("allow_reflection", [True, False])
def test_procrustes_eigh_route_gives_the_svd_map(shape, allow_reflection):
    rng = np.random.RandomState(sum(shape))
    cross = rng.normal(size=shape) * rng.uniform(0.5, 2, size=shape[1])
    if shape == (6, 6) and np.linalg.det(cross) > 0:
        cross[:, 0] *= -1  # Kabsch must flip a direction
    cross = torch.from_numpy(cross)
    exact, rank = _kernels.procrustes(cross, allow_reflection=allow_reflection)
    fast, fast_rank = _kernels.procrustes(
        cross, allow_reflection=allow_reflection, rtol=1e-10
    )
    assert fast_rank == rank == min(shape)
    assert_allclose(fast.numpy(), exact.numpy(), atol=1e-12)


def test_procrustes_eigh_route_falls_back_to_the_svd_when_ill_conditioned():
    rng = np.random.RandomState(1)
    cross = rng.normal(size=(5, 5))
    cross[:, 4] = cross[:, 3] + 1e-7 * rng.normal(size=5)  # condition ~1e7
    cross = torch.from_numpy(cross)
    exact, _ = _kernels.procrustes(cross)
    assert solvers._gram_polar(cross, flip=False, rtol=1e-10) is None
    fast, rank = _kernels.procrustes(cross, rtol=1e-10)
    assert rank == 5
    assert torch.equal(fast, exact)
    singular = torch.cat([cross[:, :4], cross[:, :1]], dim=1)  # rank 4
    assert _kernels.procrustes(singular, rtol=1e-10)[1] == 4


def test_procrustes_kernel_without_reflection_is_a_rotation():
    Q = ortho_group.rvs(5, random_state=0)
    Q[:, 0] *= np.sign(np.linalg.det(Q)) * -1  # a reflection: det(Q) = -1
    cross = torch.from_numpy(np.diag(np.arange(1.0, 6.0)) @ Q)
    assert np.linalg.det(_kernels.procrustes(cross)[0].numpy()) == pytest.approx(-1)
    rotation = _kernels.procrustes(cross, allow_reflection=False)[0].numpy()
    assert np.linalg.det(rotation) == pytest.approx(1)
    assert_allclose(rotation @ rotation.T, np.eye(5), atol=1e-12)


def test_least_squares_kernel_gives_minimum_norm_solution():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4, 7))  # rank 4 < 7: underdetermined
    Y = rng.normal(size=(4, 3))
    q, r = torch.linalg.qr(torch.from_numpy(X))
    W, rank = _kernels.least_squares(r, q.T @ torch.from_numpy(Y), n_rows=4)
    assert rank == 4
    assert_allclose(W.numpy(), np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-12)


def test_least_squares_kernel_back_substitutes_full_rank_factors():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 6)) * [1e-3, 1, 1, 10, 1e2, 1]
    Y = rng.normal(size=(60, 3))
    q, r = torch.linalg.qr(torch.from_numpy(X))
    W, rank = _kernels.least_squares(r, q.T @ torch.from_numpy(Y), n_rows=60)
    assert rank == 6
    assert_allclose(W.numpy(), np.linalg.lstsq(X, Y, rcond=None)[0], rtol=1e-10)
    # Columns taken out of the factor (constant features): not triangular.
    kept = [0, 2, 3, 5]
    W, rank = _kernels.least_squares(r[:, kept], q.T @ torch.from_numpy(Y), n_rows=60)
    assert rank == 4
    expected = np.linalg.lstsq(X[:, kept], Y, rcond=None)[0]
    assert_allclose(W.numpy(), expected, rtol=1e-10)


def test_gram_factor_is_the_qr_factor_of_well_conditioned_rows():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(200, 5)) * [1e-4, 1, 1e3, 1, 1] + 50
    Y = rng.normal(size=(200, 2))
    moments = _kernels.cross_moments(
        torch.from_numpy(X), torch.from_numpy(Y), gram=True
    )
    r, z = _kernels.gram_factor(moments.gram, moments.cross, rtol=1e-10)
    assert torch.equal(r, r.triu())
    assert_allclose((r.T @ r).numpy(), moments.gram.numpy(), rtol=1e-12)
    assert_allclose((r.T @ z).numpy(), moments.cross.numpy(), rtol=1e-12, atol=1e-9)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    expected = np.linalg.lstsq(Xc, Yc, rcond=None)[0]
    solution = torch.linalg.solve_triangular(r, z, upper=True).numpy()
    assert_allclose(solution, expected, rtol=1e-9)


def test_gram_factor_refuses_ill_conditioned_and_rank_deficient_rows():
    rng = np.random.RandomState(3)
    Z = rng.normal(size=(100, 4))

    def factor(X):
        moments = _kernels.cross_moments(
            torch.from_numpy(X), torch.from_numpy(Z[: len(X), :2]), gram=True
        )
        return _kernels.gram_factor(moments.gram, moments.cross, rtol=1e-10)

    assert factor(Z) is not None
    nearly_collinear = np.column_stack([Z, Z[:, 0] + 1e-5 * Z[:, 1]])
    assert factor(nearly_collinear) is None
    assert factor(Z[:3]) is None  # fewer rows than columns
    assert factor(np.column_stack([Z, np.full(100, 2.0)])) is None  # constant


def test_cross_moments_merge_equals_whole():
    X, Y = (torch.from_numpy(a) for a in _pairs(n=50, d_y=3))
    whole = _kernels.cross_moments(X, Y, factor=True)
    merged = None
    for rows in (slice(0, 7), slice(7, 8), slice(8, 50)):
        chunk = _kernels.cross_moments(X[rows], Y[rows], factor=True)
        merged = _kernels.merge_cross_moments(merged, chunk)
    assert merged.count == whole.count
    for a, b in zip(merged[1:6], whole[1:6], strict=True):
        assert_allclose(a.numpy(), b.numpy(), atol=1e-10)
    # QR factors are unique up to the signs of their rows: compare what they
    # determine, the Gram matrix and the projection of Y on the factor.
    gram = lambda m: (m.factor.T @ m.factor).numpy()  # noqa: E731
    assert_allclose(gram(merged), gram(whole), atol=1e-10)
    cross = lambda m: (m.factor.T @ m.projected).numpy()  # noqa: E731
    assert_allclose(cross(merged), cross(whole), atol=1e-10)


# Spectral bases --------------------------------------------------------------


def _dense_knn_graph(X, k, weights):
    """The kNN graph of the rows by brute force, as a dense float64 matrix."""
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    cosines = U @ U.T
    np.fill_diagonal(cosines, -np.inf)
    columns = np.argsort(-cosines, axis=1, kind="stable")[:, :k]
    near = np.take_along_axis(cosines, columns, axis=1)
    values = {
        "heat": np.exp(-(2 - 2 * near) / np.mean(2 - 2 * near)),
        "cosine": np.maximum(near, np.finfo(np.float64).tiny),
        "binary": np.ones_like(near),
    }[weights]
    W = np.zeros((len(X), len(X)))
    np.put_along_axis(W, columns, values, axis=1)
    return np.maximum(W, W.T)


def _blobs(n, d, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, d)) * spread
    return centres[rng.integers(6, size=n)] + rng.standard_normal((n, d)) + 3


@pytest.mark.parametrize("weights", ["heat", "cosine", "binary"])
@pytest.mark.parametrize("block_rows", [7, 1000])
def test_knn_graph_matches_brute_force(weights, block_rows):
    X = _blobs(60, 5, seed=0)
    W = spectral.knn_graph(
        torch.as_tensor(X), 4, weights=weights, block_rows=block_rows
    )
    assert W.shape == (60, 60) and W.dtype == np.float64
    assert_allclose(W.toarray(), _dense_knn_graph(X, 4, weights), atol=1e-12)


def test_knn_graph_takes_at_most_the_other_rows():
    X = torch.as_tensor(_blobs(5, 3, seed=1))
    W = spectral.knn_graph(X, 10, weights="binary", block_rows=2).toarray()
    assert_allclose(W, 1 - np.eye(5))


def _dense_laplacian(W):
    degrees = W.sum(axis=1)
    scaling = 1 / np.sqrt(degrees)
    return np.eye(len(W)) - scaling[:, None] * W * scaling[None, :]


@pytest.mark.parametrize("n", [30, 400])
def test_spectral_basis_matches_the_dense_laplacian(n):
    # 400 rows take the Lanczos route (sparse), 30 the dense one.
    X = _blobs(n, 6, seed=2, spread=1.5)
    values, vectors = spectral.spectral_basis(torch.as_tensor(X), 8, block_rows=64)
    L = _dense_laplacian(_dense_knn_graph(X, 10, "heat"))
    reference = np.linalg.eigvalsh(L)[:8]
    assert values.dtype == vectors.dtype == torch.float64
    assert vectors.shape == (n, 8)
    assert_allclose(values.numpy(), reference, atol=1e-8)
    Phi = vectors.numpy()
    assert_allclose(Phi.T @ Phi, np.eye(8), atol=1e-8)
    assert_allclose(L @ Phi, Phi * values.numpy(), atol=1e-6)


def test_spectral_basis_of_float32_rows_far_from_the_origin():
    # Cosine graphs are scale invariant: rows near 1e4 in float32 give the
    # float64 basis of the same rows (up to sign), in float32.
    X = _blobs(300, 6, seed=3, spread=1.5) * 1e4
    v64, P64 = spectral.spectral_basis(torch.as_tensor(X), 6, block_rows=64)
    v32, P32 = spectral.spectral_basis(
        torch.as_tensor(X, dtype=torch.float32), 6, block_rows=64
    )
    assert v32.dtype == P32.dtype == torch.float32
    assert_allclose(v32.numpy(), v64.numpy(), atol=1e-5)
    overlap = np.abs(P64.numpy().T @ P32.numpy().astype(np.float64))
    assert_allclose(np.diag(overlap)[1:], 1, atol=1e-4)


def test_spectral_basis_follows_a_shuffle_of_the_rows():
    # The basis of shuffled rows is the shuffled basis, up to sign: what lets
    # a functional map compare two spaces.
    X = _blobs(300, 6, seed=4, spread=1.5)
    order = np.random.default_rng(0).permutation(300)
    _, P = spectral.spectral_basis(torch.as_tensor(X), 6, block_rows=64)
    _, Q = spectral.spectral_basis(torch.as_tensor(X[order]), 6, block_rows=64)
    overlap = np.abs(P.numpy()[order].T @ Q.numpy())
    assert_allclose(overlap, np.eye(6), atol=1e-6)


# Functional maps -------------------------------------------------------------


def _shuffled_rotation(n, d, seed, noise=0.0):
    """Rows, and a rotated copy with row j = row order[j] (plus noise)."""
    X = _blobs(n, d, seed=seed, spread=1.5)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    Y = X[order] @ ortho_group.rvs(d, random_state=seed)
    return X, Y + noise * rng.standard_normal(Y.shape), order


def _bases(X, Y, k):
    return [
        spectral.spectral_basis(torch.as_tensor(Z), k, block_rows=128) for Z in (X, Y)
    ]


def _seed_descriptors(X, Y, order, seeds):
    inverse = np.argsort(order)
    return (
        _kernels.cosine_similarity(torch.as_tensor(X), torch.as_tensor(X[seeds])),
        _kernels.cosine_similarity(
            torch.as_tensor(Y), torch.as_tensor(Y[inverse[seeds]])
        ),
    )


def test_multiplication_operators_match_the_dense_product():
    rng = np.random.default_rng(0)
    basis = torch.as_tensor(np.linalg.qr(rng.standard_normal((40, 5)))[0])
    F = torch.as_tensor(rng.standard_normal((40, 3)))
    S = functional_map.multiplication_operators(basis, F, block_rows=7)
    for i in range(3):
        dense = basis.T @ torch.diag(F[:, i]) @ basis
        assert_allclose(S[i].numpy(), dense.numpy(), atol=1e-12)


def test_functional_map_solve_minimises_its_energy():
    # The closed form against the energy minimised as one least-squares
    # problem, built term by term with dense operators.
    rng = np.random.default_rng(1)
    n, k, q, alpha, beta = 30, 4, 3, 0.3, 0.2
    Px = np.linalg.qr(rng.standard_normal((n, k)))[0]
    Py = np.linalg.qr(rng.standard_normal((n + 5, k)))[0]
    vx, vy = np.sort(rng.uniform(0, 2, k)), np.sort(rng.uniform(0, 2, k))
    Fx, Fy = rng.standard_normal((n, q)), rng.standard_normal((n + 5, q))
    C = functional_map.solve_functional_map(
        *map(torch.as_tensor, (vx, Px, vy, Py, Fx, Fy)),
        laplacian_weight=alpha,
        commutativity_weight=beta,
        block_rows=8,
    ).numpy()
    Fx, Fy = Fx / np.linalg.norm(Fx, axis=0), Fy / np.linalg.norm(Fy, axis=0)
    A, B = Px.T @ Fx, Py.T @ Fy
    scale = max(vx.max(), vy.max())
    blocks, targets = [np.kron(np.eye(k), A.T) / np.sqrt(q)], [B.ravel() / np.sqrt(q)]
    gaps = (vy[:, None] - vx[None, :]) / scale
    blocks.append(np.sqrt(alpha) * np.diag(gaps.ravel()))
    targets.append(np.zeros(k * k))
    for i in range(q):
        Sx = Px.T @ np.diag(Fx[:, i] * np.sqrt(n)) @ Px
        Sy = Py.T @ np.diag(Fy[:, i] * np.sqrt(n + 5)) @ Py
        blocks.append(
            np.sqrt(beta / q) * (np.kron(Sy, np.eye(k)) - np.kron(np.eye(k), Sx))
        )
        targets.append(np.zeros(k * k))
    expected = np.linalg.lstsq(np.vstack(blocks), np.concatenate(targets), rcond=None)
    assert_allclose(C.ravel(), expected[0], atol=1e-8)


def test_functional_map_is_a_mean_over_descriptors():
    # Repeating every descriptor changes nothing: more descriptors refine the
    # map, they never outweigh the regularisers.
    X, Y, order = _shuffled_rotation(200, 6, seed=5, noise=0.1)
    (vx, Px), (vy, Py) = _bases(X, Y, 10)
    Fx, Fy = _seed_descriptors(X, Y, order, np.arange(5))
    once = functional_map.solve_functional_map(vx, Px, vy, Py, Fx, Fy, block_rows=64)
    thrice = functional_map.solve_functional_map(
        vx, Px, vy, Py, Fx.repeat(1, 3), Fy.repeat(1, 3), block_rows=64
    )
    assert_allclose(thrice.numpy(), once.numpy(), atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_shuffled_rotation_is_recovered_from_five_seeds(seed):
    X, Y, order = _shuffled_rotation(400, 8, seed=seed)
    (vx, Px), (vy, Py) = _bases(X, Y, 30)
    seeds = np.random.default_rng(seed).choice(400, 5, replace=False)
    Fx, Fy = _seed_descriptors(X, Y, order, seeds)
    C = functional_map.solve_functional_map(
        vx[:10], Px[:, :10], vy[:10], Py[:, :10], Fx, Fy, block_rows=64
    )
    # Same graph, same spectrum: C is near a signed permutation of equal
    # eigenvalues, so near orthogonal.
    assert_allclose((C.T @ C).numpy(), np.eye(10), atol=0.1)
    C = functional_map.zoomout(Px, Py, C, block_rows=64)
    assert C.shape == (30, 30)
    rows_x = functional_map.point_map(Px, Py, C, block_rows=64).numpy()
    assert np.mean(rows_x == order) == 1.0
    x, y = functional_map.mutual_point_pairs(Px, Py, C, block_rows=64)
    assert len(x) == 400 and np.all(order[y.numpy()] == x.numpy())


def test_more_seeds_never_hurt_the_point_map():
    # Seeds are nested; every count does at least as well as 5 (the terms
    # are means over descriptors, and commutativity ties near-collinear
    # descriptors down).
    X, Y, order = _shuffled_rotation(400, 8, seed=3, noise=0.15)
    (vx, Px), (vy, Py) = _bases(X, Y, 30)
    seeds = np.random.default_rng(0).permutation(400)
    accuracy = {}
    for q in (5, 10, 20, 50, 100):
        Fx, Fy = _seed_descriptors(X, Y, order, seeds[:q])
        C = functional_map.solve_functional_map(
            vx[:20], Px[:, :20], vy[:20], Py[:, :20], Fx, Fy, block_rows=64
        )
        C = functional_map.zoomout(Px, Py, C, block_rows=64)
        rows_x = functional_map.point_map(Px, Py, C, block_rows=64).numpy()
        accuracy[q] = np.mean(rows_x == order)
    assert min(accuracy.values()) >= accuracy[5] - 0.02, accuracy
    assert accuracy[5] > 0.75, accuracy
