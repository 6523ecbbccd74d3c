"""Finite input gives a finite, correct metric: extreme scales, float32 far from
the origin, anisotropic data, dead features and rows equal to one another."""

import math
import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.exceptions import UndefinedMetricWarning

from sklatent.metrics import (
    jaccard_at_k,
    linear_cka,
    mrr,
    procrustes_distance,
    procrustes_similarity,
    rbf_cka,
    retrieval_ranks,
)

SPACE_SIMILARITIES = {
    "linear_cka": linear_cka,
    "debiased_cka": lambda X, Y: linear_cka(X, Y, debiased=True),
    "rbf_cka": rbf_cka,
    "procrustes_similarity": procrustes_similarity,
    "procrustes_distance": procrustes_distance,
}


def pair(seed=0, n=50, d=4):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=(d, d)) + 0.3 * rng.normal(size=(n, d))


def linear_cka_reference(X, Y):
    """The Gram-matrix formula in float64."""
    H = np.eye(len(X)) - 1 / len(X)
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    return (K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L))


@pytest.mark.parametrize(
    ("scale", "dtype"),
    [
        (1e200, np.float64),
        (1e-200, np.float64),
        (1e20, np.float32),
        (1e-25, np.float32),
    ],
)
@pytest.mark.parametrize("name", sorted(SPACE_SIMILARITIES))
def test_scale_invariant_metrics_are_finite_at_extreme_scales(name, scale, dtype):
    function = SPACE_SIMILARITIES[name]
    X, Y = pair()
    expected = function(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "zero variance", no overflow
        value = function((scale * X).astype(dtype), (scale * Y).astype(dtype))
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-5 if dtype == np.float32 else 1e-9)


def test_each_space_has_its_own_scale():
    X, Y = pair(1)
    expected = linear_cka(X, Y)
    assert linear_cka(1e200 * X, 1e-200 * Y) == pytest.approx(expected, rel=1e-9)
    assert procrustes_similarity(1e-300 * X, 1e300 * Y) == pytest.approx(
        procrustes_similarity(X, Y), rel=1e-9
    )


@pytest.mark.parametrize("scale", [1e20, 1e-25])
def test_euclidean_retrieval_is_exact_at_extreme_float32_scales(scale):
    X, Y = pair(2, n=40)
    X32, Y32 = (scale * X).astype(np.float32), (scale * Y).astype(np.float32)
    S = -cdist(X32.astype(float), Y32.astype(float))
    expected = 1 + (np.diag(S)[:, None] < S).sum(1)
    ranks = retrieval_ranks(X32, Y32, metric="euclidean")
    np.testing.assert_array_equal(ranks, expected)
    assert jaccard_at_k(X32, Y32, 5, metric="euclidean") == jaccard_at_k(
        X, Y, 5, metric="euclidean"
    )


def test_float32_far_from_origin_anisotropic_with_dead_features():
    rng = np.random.RandomState(3)
    n = 80
    X = rng.normal(size=(n, 6)) * [1.0, 30.0, 0.05, 3.0, 1.0, 1.0] + 100
    Y = X[:, :4] @ rng.normal(size=(4, 5)) + rng.normal(size=(n, 5)) - 100
    X[:, 5] = 1e-30 * rng.normal(size=n)  # dead around zero
    Y[:, 4] = 7.0 + 1e-30 * rng.normal(size=n)  # dead around 7
    X[10:15], Y[10:15] = X[0], Y[0]  # repeated rows
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    live_x, live_y = X32[:, :5].astype(float), Y32[:, :4].astype(float)
    expected = linear_cka_reference(live_x, live_y)
    assert linear_cka(X32, Y32) == pytest.approx(expected, abs=1e-6)
    Xc, Yc = live_x - live_x.mean(0), live_y - live_y.mean(0)
    nuclear = np.linalg.svd(Xc.T @ Yc, compute_uv=False).sum()
    assert procrustes_similarity(X32, Y32) == pytest.approx(
        nuclear / (np.linalg.norm(Xc) * np.linalg.norm(Yc)), abs=1e-6
    )


def test_rows_equal_to_candidates_far_from_origin_rank_first():
    # Candidates 1e-3 apart around +1000 in float32: the expansion of the
    # squared distance would cancel; a row equal to its match must rank 1.
    rng = np.random.RandomState(4)
    Y = (1000 + 1e-3 * rng.normal(size=(200, 16))).astype(np.float32)
    ranks = retrieval_ranks(Y.copy(), Y, metric="euclidean")
    np.testing.assert_array_equal(ranks, np.ones(200, dtype=np.int64))
    assert mrr(Y.copy(), Y, metric="euclidean", batch_size=7) == 1.0


def test_space_constant_up_to_rounding_is_undefined():
    # Variation at the last bits of 1e8 is rounding, not signal: the rule of
    # sklatent._kernels.constant_features declares every feature dead.
    rng = np.random.RandomState(5)
    X = 1e8 + 1e-7 * rng.normal(size=(100, 3))
    Y = rng.normal(size=(100, 3))
    for function in (linear_cka, procrustes_similarity):
        with pytest.warns(UndefinedMetricWarning, match="X is constant"):
            assert math.isnan(function(X, Y))


@pytest.mark.parametrize("function", [linear_cka, procrustes_distance, rbf_cka])
def test_undefined_warning_points_at_the_callers_line(function):
    X = np.ones((10, 3))
    Y = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.warns(UndefinedMetricWarning) as record:
        function(X, Y)
    assert record[0].filename == __file__
