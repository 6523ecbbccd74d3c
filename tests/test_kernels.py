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
