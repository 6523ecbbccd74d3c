"""Torch kernels, tested alone on tensors."""

import numpy as np
import pytest
import torch

from sklatent import _kernels


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
    torch.testing.assert_close(result.double(), reference, rtol=2e-6, atol=1e-4)
    squared = _kernels.squared_euclidean(X, A)
    torch.testing.assert_close(squared.double(), reference**2, rtol=1e-5, atol=1e-3)


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
