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


def test_safe_scale_treats_negligible_scales_as_one():
    scale = torch.tensor([2.0, 1e-30, 0.0, 0.5], dtype=torch.float64)
    out = _kernels.safe_scale(scale, torch.finfo(torch.float32).eps)
    torch.testing.assert_close(
        out, torch.tensor([2.0, 1.0, 1.0, 0.5], dtype=torch.float64)
    )
    zeros = _kernels.safe_scale(torch.zeros(3), torch.finfo(torch.float32).eps)
    torch.testing.assert_close(zeros, torch.ones(3))


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
