"""sklatent.metrics against direct float64 numpy formulas, plus properties."""

import ast
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import cdist, pdist
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.preprocessing import FunctionTransformer

from sklatent import metrics
from sklatent._kernels import median as median_kernel
from sklatent._kernels.retrieval import top_k_mask
from sklatent.metrics import (
    jaccard_at_k,
    linear_cka,
    linear_cka_scorer,
    mean_cosine,
    mean_cosine_scorer,
    mrr,
    mrr_scorer,
    mutual_knn_alignment,
    procrustes_distance,
    procrustes_similarity,
    rbf_cka,
    retrieval_ranks,
    top_1_accuracy_scorer,
    top_k_accuracy,
    translation_scorer,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

# --------------------------------------------------------------------------
# References: the textbook O(n^2) formulas, in float64 numpy
# --------------------------------------------------------------------------


def center_gram(K, unbiased=False):
    """Kornblith et al.'s reference Gram centring (biased or unbiased)."""
    K = K.astype(np.float64, copy=True)
    n = K.shape[0]
    if not unbiased:
        H = np.eye(n) - 1.0 / n
        return H @ K @ H
    np.fill_diagonal(K, 0)
    means = K.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    K -= means[:, None]
    K -= means[None, :]
    np.fill_diagonal(K, 0)
    return K


def gram_cka(K, L, unbiased=False):
    Kc, Lc = center_gram(K, unbiased), center_gram(L, unbiased)
    return (Kc * Lc).sum() / (np.linalg.norm(Kc) * np.linalg.norm(Lc))


def song_hsic(K, L):
    """Song et al. (2012), equation (5): the unbiased HSIC estimator."""
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    one = np.ones(n)
    return (
        np.trace(K @ L)
        + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * one @ K @ L @ one
    ) / (n * (n - 3))


def rbf_gram(X, threshold):
    D = cdist(X, X, "sqeuclidean")
    return np.exp(-D / (2 * threshold**2 * np.median(D)))


def score_matrix(X, Y, metric):
    if metric == "cosine":
        Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
        Yn = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-300)
        return Xn @ Yn.T
    return -cdist(X, Y)


def brute_ranks(X, Y, metric="cosine"):
    S = score_matrix(X, Y, metric)
    return 1 + (np.diag(S)[:, None] < S).sum(1)


def knn_sets(S, k):
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return [set(row) for row in order]


def brute_jaccard(X, Y, k, space="target", metric="cosine"):
    if space == "target":
        A, B = score_matrix(X, Y, metric), score_matrix(Y, Y, metric)
    else:
        A, B = score_matrix(X, X, metric), score_matrix(Y, Y, metric)
        np.fill_diagonal(A, -np.inf)
        np.fill_diagonal(B, -np.inf)
    return np.mean(
        [
            len(a & b) / len(a | b)
            for a, b in zip(knn_sets(A, k), knn_sets(B, k), strict=True)
        ]
    )


def make_pair(seed, n=40, d_x=6, d_y=9, noise=0.5):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d_x))
    Y = X @ rng.normal(size=(d_x, d_y)) + noise * rng.normal(size=(n, d_y))
    return X, Y


def make_retrieval_pair(seed, n=60, d=4, noise=0.8):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    return X, X + noise * rng.normal(size=(n, d))


def random_orthogonal(rng, d):
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    return Q * np.sign(np.diag(R))


# --------------------------------------------------------------------------
# Against the direct formulas
# --------------------------------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("dims", [(6, 9), (12, 3), (50, 50)])
def test_linear_cka_matches_gram_formula(debiased, dims):
    X, Y = make_pair(0, n=30, d_x=dims[0], d_y=min(dims[1], dims[0]))
    Y = np.hstack([Y, np.random.RandomState(1).normal(size=(30, dims[1]))])
    expected = gram_cka(X @ X.T, Y @ Y.T, unbiased=debiased)
    assert linear_cka(X, Y, debiased=debiased) == pytest.approx(expected, abs=1e-12)
    assert linear_cka(X, Y, debiased=debiased, batch_size=7) == pytest.approx(
        expected, abs=1e-12
    )


def test_debiased_linear_cka_is_song_estimator():
    X, Y = make_pair(2, n=25)
    K, L = X @ X.T, Y @ Y.T
    # Song's estimator is defined on uncentred kernels: it is invariant to
    # the centring that the feature-space formula applies.
    expected = song_hsic(K, L) / math.sqrt(song_hsic(K, K) * song_hsic(L, L))
    assert linear_cka(X, Y, debiased=True) == pytest.approx(expected, abs=1e-12)


def test_debiased_cka_removes_high_dimensional_bias():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(100, 500)), rng.normal(size=(100, 500))
    assert linear_cka(X, Y) > 0.7
    assert abs(linear_cka(X, Y, debiased=True)) < 0.05


@pytest.mark.parametrize("threshold", [0.4, 1.0])
@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("batch_size", [None, 6])
def test_rbf_cka_matches_gram_formula(threshold, debiased, batch_size):
    X, Y = make_pair(3, n=31)
    Kx, Ly = rbf_gram(X, threshold), rbf_gram(Y, threshold)
    expected = gram_cka(Kx, Ly, unbiased=debiased)
    value = rbf_cka(X, Y, threshold=threshold, debiased=debiased, batch_size=batch_size)
    assert value == pytest.approx(expected, abs=1e-10)
    if debiased:
        song = song_hsic(Kx, Ly) / math.sqrt(song_hsic(Kx, Kx) * song_hsic(Ly, Ly))
        assert value == pytest.approx(song, abs=1e-10)


@pytest.mark.parametrize("n", [23, 24])
@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("gather_limit", [5, 2**22])
def test_median_by_histogram_refinement_is_exact(
    monkeypatch, n, duplicates, gather_limit
):
    # A tiny gather limit forces the histogram passes on a small problem.
    monkeypatch.setattr(median_kernel, "GATHER_LIMIT", gather_limit)
    monkeypatch.setattr(median_kernel, "HISTOGRAM_BINS", 8)
    rng = np.random.RandomState(n)
    X = rng.normal(size=(n, 3)) + 100
    if duplicates:
        X[: n // 2] = X[0]
    Z = torch.from_numpy(X)
    batches = [slice(i, min(i + 5, n)) for i in range(0, n, 5)]
    expected = np.median(cdist(X, X, "sqeuclidean"))
    assert median_kernel.median_squared_distance(Z, batches) == pytest.approx(
        expected, rel=1e-12, abs=1e-12
    )
    # The median of distinct pairs, as diagnostics' kernel ridge bandwidth.
    distinct = np.median(pdist(X, "sqeuclidean"))
    assert median_kernel.median_squared_distance(
        Z, batches, diagonal=False
    ) == pytest.approx(distinct, rel=1e-12, abs=1e-12)


def test_rbf_cka_with_refined_median_matches_gram(monkeypatch):
    monkeypatch.setattr(median_kernel, "GATHER_LIMIT", 50)
    X, Y = make_pair(4, n=30)
    expected = gram_cka(rbf_gram(X, 0.8), rbf_gram(Y, 0.8))
    assert rbf_cka(X, Y, threshold=0.8, batch_size=4) == pytest.approx(
        expected, abs=1e-10
    )


def test_procrustes_matches_scipy_alignment():
    X, Y = make_pair(5, n=40, d_x=5, d_y=5)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    R, _ = orthogonal_procrustes(Xc, Yc)
    expected = np.sum((Xc @ R) * Yc) / (np.linalg.norm(Xc) * np.linalg.norm(Yc))
    assert procrustes_similarity(X, Y) == pytest.approx(expected, abs=1e-12)
    assert procrustes_similarity(X, Y, batch_size=3) == pytest.approx(
        expected, abs=1e-12
    )
    assert procrustes_distance(X, Y) == pytest.approx(math.acos(expected), abs=1e-12)


def test_procrustes_zero_pads_different_dimensions():
    X, Y = make_pair(6, n=40, d_x=3, d_y=7)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    padded = np.hstack([Xc, np.zeros((40, 4))])
    R, _ = orthogonal_procrustes(padded, Yc)
    expected = np.sum((padded @ R) * Yc) / (np.linalg.norm(Xc) * np.linalg.norm(Yc))
    assert procrustes_similarity(X, Y) == pytest.approx(expected, abs=1e-12)


def test_mean_cosine_matches_formula_and_zero_rows():
    X, Y = make_pair(7, d_x=5, d_y=5)
    expected = np.mean(
        np.sum(X * Y, 1) / (np.linalg.norm(X, axis=1) * np.linalg.norm(Y, axis=1))
    )
    assert mean_cosine(X, Y) == pytest.approx(expected, abs=1e-14)
    assert mean_cosine(X, Y, batch_size=3) == pytest.approx(expected, abs=1e-14)
    assert mean_cosine([[0.0, 0.0], [1.0, 0.0]], [[1.0, 1.0], [2.0, 0.0]]) == 0.5


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("batch_size", [None, 1, 7])
def test_ranks_mrr_top_k_match_brute_force(metric, batch_size):
    X, Y = make_retrieval_pair(8)
    ranks = brute_ranks(X, Y, metric)
    assert ranks.min() == 1 and ranks.max() > 1  # a non-trivial problem
    kw = {"metric": metric, "batch_size": batch_size}
    np.testing.assert_array_equal(retrieval_ranks(X, Y, **kw), ranks)
    assert mrr(X, Y, **kw) == pytest.approx(np.mean(1 / ranks), abs=1e-15)
    truncated = np.mean(np.where(ranks <= 3, 1 / ranks, 0))
    assert mrr(X, Y, k=3, **kw) == pytest.approx(truncated, abs=1e-15)
    for k in (1, 5, 60):
        assert top_k_accuracy(X, Y, k, **kw) == pytest.approx(np.mean(ranks <= k))


def test_truncated_mrr_is_reciprocal_position_in_top_k():
    # The relative representations definition: 1 / position of the match in
    # the query's k nearest candidates, 0 when absent (no ties here).
    X, Y = make_retrieval_pair(9, n=50)
    S = score_matrix(X, Y, "cosine")
    order = np.argsort(-S, axis=1, kind="stable")[:, :5]
    expected = np.mean(
        [1 / (list(row).index(i) + 1) if i in row else 0 for i, row in enumerate(order)]
    )
    assert mrr(X, Y, k=5) == pytest.approx(expected, abs=1e-15)


def test_ties_count_in_the_items_favour():
    # Integer data: every score is exact, so the ties are real ties.
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    # cosine: rows 0 and 1 tie with each other, rows 2 and 3 too.
    np.testing.assert_array_equal(retrieval_ranks(X, Y), [1, 1, 1, 1])
    # euclidean: query 3 = (1, 1) is at distance 1 from (1, 0) twice and
    # (0, 1), farther from its match (0, 2): rank 4; query 2 = (0, 3) is
    # nearer (0, 2) than its match (0, 1): rank 2.
    np.testing.assert_array_equal(
        retrieval_ranks(X, Y, metric="euclidean"), [1, 1, 2, 4]
    )


def test_top_k_mask_breaks_ties_by_lower_index():
    block = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    expected = [[False, True, True, False, False], [True, True, False, False, False]]
    assert top_k_mask(block, 2).tolist() == expected


@pytest.mark.parametrize("space", ["target", "own"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [1, 5])
def test_jaccard_matches_explicit_knn_sets(space, metric, k):
    X, Y = make_retrieval_pair(10, n=45, noise=0.3)
    expected = brute_jaccard(X, Y, k, space, metric)
    assert 0 < expected < 1
    for batch_size in (None, 4):
        value = jaccard_at_k(X, Y, k, space=space, metric=metric, batch_size=batch_size)
        assert value == pytest.approx(expected, abs=1e-15)


def test_jaccard_ties_with_duplicate_rows():
    # Duplicate rows are exact ties (equal inputs give equal scores); ties
    # between distinct rows that are equal only in exact arithmetic are not.
    rng = np.random.RandomState(11)
    base = rng.normal(size=(12, 3))
    X = np.vstack([base, base[:4]])
    Y = X + 0.5 * rng.normal(size=X.shape)
    Y[12:] = Y[:4]
    for space in ("target", "own"):
        expected = brute_jaccard(X, Y, 4, space, "euclidean")
        assert jaccard_at_k(X, Y, 4, space=space, metric="euclidean") == (
            pytest.approx(expected, abs=1e-15)
        )


def test_jaccard_own_space_accepts_different_dimensions():
    rng = np.random.RandomState(12)
    X = rng.normal(size=(30, 3))
    Y = np.hstack([2 * X @ random_orthogonal(rng, 3), np.zeros((30, 5))])
    assert jaccard_at_k(X, Y, 5, space="own") == 1.0


# --------------------------------------------------------------------------
# Inputs: torch, float32, devices
# --------------------------------------------------------------------------


def test_torch_and_numpy_inputs_agree():
    X, Y = make_pair(13, n=30, d_x=5, d_y=5)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    for function in (linear_cka, rbf_cka, procrustes_similarity, mean_cosine, mrr):
        assert function(Xt, Yt, device="auto") == pytest.approx(
            function(X, Y), abs=1e-12
        )
    np.testing.assert_array_equal(retrieval_ranks(Xt, Y), retrieval_ranks(X, Yt))
    assert jaccard_at_k(Xt, Yt, 3) == jaccard_at_k(X.tolist(), Y, 3)


def test_float32_inputs_are_close_to_float64():
    X, Y = make_pair(14, n=50, d_x=5, d_y=5)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    assert linear_cka(X32, Y32) == pytest.approx(linear_cka(X, Y), abs=1e-6)
    assert rbf_cka(X32, Y32) == pytest.approx(rbf_cka(X, Y), abs=1e-5)
    assert mean_cosine(X32, Y32) == pytest.approx(mean_cosine(X, Y), abs=1e-6)
    assert isinstance(linear_cka(X32, Y32), float)
    assert isinstance(mrr(X32, Y32), float)


def test_integer_and_half_tensors_are_accepted():
    X = torch.arange(20).reshape(10, 2) % 7
    Y = X.to(torch.float16) + 1
    assert linear_cka(X, Y) == pytest.approx(1.0)


@pytest.mark.cuda
@cuda
def test_cuda_matches_cpu():
    X, Y = make_pair(15, n=300, d_x=16, d_y=16)
    for function in (linear_cka, rbf_cka, procrustes_similarity, mean_cosine, mrr):
        assert function(X, Y, device="cuda") == pytest.approx(function(X, Y), abs=1e-9)
    np.testing.assert_array_equal(
        retrieval_ranks(X, Y, device="cuda"), retrieval_ranks(X, Y)
    )
    assert jaccard_at_k(X, Y, 5, device="cuda") == jaccard_at_k(X, Y, 5)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

shapes = st.tuples(st.integers(8, 40), st.integers(1, 6), st.integers(1, 6))
seeds = st.integers(0, 2**32 - 1)
property_settings = settings(deadline=None, max_examples=25)


@property_settings
@given(seed=seeds, shape=shapes)
def test_linear_cka_is_symmetric_and_in_unit_interval(seed, shape):
    n, d_x, d_y = shape
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d_x))
    Y = X[:, :1] * rng.normal(size=(1, d_y)) + rng.normal(size=(n, d_y))
    value = linear_cka(X, Y)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(linear_cka(Y, X), abs=1e-12)
    debiased = linear_cka(X, Y, debiased=True)
    assert -1.0 <= debiased <= 1.0
    assert debiased == pytest.approx(linear_cka(Y, X, debiased=True), abs=1e-12)


@property_settings
@given(
    seed=seeds,
    shape=shapes,
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-100, 100),
)
def test_linear_cka_and_procrustes_invariant_to_scaled_rotations(
    seed, shape, scale, shift
):
    n, d, d_y = shape
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    Q = random_orthogonal(rng, d)
    mapped = scale * X @ Q + shift
    for debiased in (False, True):
        assert linear_cka(X, mapped, debiased=debiased) == pytest.approx(1.0, abs=1e-9)
    assert procrustes_similarity(X, mapped) == pytest.approx(1.0, abs=1e-9)
    assert procrustes_distance(X, mapped) == pytest.approx(0.0, abs=1e-4)
    # Invariance: applying the same kind of map to Y leaves the index alone.
    Y = rng.normal(size=(n, d_y))
    Y_mapped = scale * Y @ random_orthogonal(rng, d_y) - shift
    assert linear_cka(X, Y_mapped) == pytest.approx(linear_cka(X, Y), abs=1e-9)
    assert rbf_cka(X, Y_mapped) == pytest.approx(rbf_cka(X, Y), abs=1e-9)
    assert procrustes_similarity(X, Y_mapped) == pytest.approx(
        procrustes_similarity(X, Y), abs=1e-9
    )


@property_settings
@given(seed=seeds, n=st.integers(20, 60), d=st.integers(2, 6))
def test_linear_cka_not_invariant_to_general_linear_maps(seed, n, d):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    # An invertible map with distinct singular values (1 and 10 at least).
    singular = np.linspace(1.0, 10.0, d)
    A = random_orthogonal(rng, d) * singular @ random_orthogonal(rng, d)
    assert linear_cka(X, X @ A) < 1 - 1e-3
    assert procrustes_similarity(X, X @ A) < 1 - 1e-3


@property_settings
@given(seed=seeds, n=st.integers(8, 30))
def test_procrustes_distance_triangle_inequality(seed, n):
    rng = np.random.RandomState(seed)
    X, Y, Z = (rng.normal(size=(n, 3)) for _ in range(3))
    Y = Y + X  # not all independent
    assert procrustes_distance(X, Z) <= (
        procrustes_distance(X, Y) + procrustes_distance(Y, Z) + 1e-9
    )


@property_settings
@given(
    seed=seeds,
    n=st.integers(2, 40),
    d=st.integers(1, 5),
    batch_size=st.integers(1, 9),
    metric=st.sampled_from(["cosine", "euclidean", "csls"]),
)
def test_chunked_equals_unchunked_exactly(seed, n, d, batch_size, metric):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    Y = X + rng.normal(size=(n, d))
    whole = retrieval_ranks(X, Y, metric=metric)
    np.testing.assert_array_equal(
        retrieval_ranks(X, Y, metric=metric, batch_size=batch_size), whole
    )
    if metric != "csls":
        np.testing.assert_array_equal(whole, brute_ranks(X, Y, metric))
        k = min(3, n - 1) if n > 1 else 1
        for space in ("target", "own"):
            assert jaccard_at_k(
                X, Y, k, space=space, metric=metric, batch_size=batch_size
            ) == jaccard_at_k(X, Y, k, space=space, metric=metric)
    assert mrr(X, Y, metric=metric, batch_size=batch_size) == mrr(X, Y, metric=metric)
    assert mean_cosine(X, Y, batch_size=batch_size) == pytest.approx(
        mean_cosine(X, Y), abs=1e-14
    )


@property_settings
@given(
    seed=seeds, n=st.integers(2, 30), d=st.integers(1, 4), batch_size=st.integers(1, 9)
)
def test_ranks_on_integer_data_lie_within_the_tie_bounds(seed, n, d, batch_size):
    # Many ties that hold in exact arithmetic. Distances are computed on data
    # centred on the candidates' mean, so such ties are only kept up to
    # rounding: each rank lies between the optimistic and pessimistic ranks.
    rng = np.random.RandomState(seed)
    X = rng.randint(-2, 3, size=(n, d)).astype(float)
    Y = X + rng.randint(-1, 2, size=(n, d))
    S = score_matrix(X, Y, "euclidean")
    best = 1 + (np.diag(S)[:, None] < S).sum(1)
    worst = (np.diag(S)[:, None] <= S).sum(1)
    ranks = retrieval_ranks(X, Y, metric="euclidean", batch_size=batch_size)
    assert np.all((best <= ranks) & (ranks <= worst))


# --------------------------------------------------------------------------
# Degenerate and bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "function", [linear_cka, rbf_cka, procrustes_similarity, procrustes_distance]
)
def test_constant_space_is_undefined(function):
    X = np.ones((10, 3))
    Y = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.warns(UndefinedMetricWarning, match="undefined"):
        assert math.isnan(function(X, Y))


def test_bad_input_messages():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="got X with 10 rows and Y with 9"):
        linear_cka(X, Y[:9])
    with pytest.raises(ValueError, match="got X with 10 rows and Y with 9"):
        mrr(X, Y[:9])
    with pytest.raises(ValueError, match="linear_cka needs at least 2 rows; got 1"):
        linear_cka(X[:1], Y[:1])
    with pytest.raises(ValueError, match="rbf_cka needs at least 2 rows; got 1"):
        rbf_cka(X[:1], Y[:1])
    with pytest.raises(ValueError, match="linear_cka needs at least 4 rows; got 3"):
        linear_cka(X[:3], Y[:3], debiased=True)
    with pytest.raises(ValueError, match="rbf_cka needs at least 4 rows; got 3"):
        rbf_cka(X[:3], Y[:3], debiased=True)
    with pytest.raises(ValueError, match=r"k=11 is larger than the number of"):
        mrr(X, Y, k=11)
    with pytest.raises(ValueError, match=r"k=11 is larger than the number of"):
        top_k_accuracy(X, Y, 11)
    with pytest.raises(ValueError, match=r"k=10 is larger .* \(9\)"):
        jaccard_at_k(X, Y, 10)
    with pytest.raises(ValueError, match=r"k=10 is larger .* \(9\)"):
        mutual_knn_alignment(X, Y, 10)
    with pytest.raises(ValueError, match=r"'k' parameter of top_k_accuracy must be"):
        top_k_accuracy(X, Y, 0)
    with pytest.raises(ValueError, match=r"'k' parameter of jaccard_at_k .* Got 2.5"):
        jaccard_at_k(X, Y, 2.5)
    with pytest.raises(ValueError, match=r"'csls_k' parameter of mrr must be"):
        mrr(X, Y, metric="csls", csls_k=0)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        linear_cka(bad, Y)
    with pytest.raises(ValueError, match="Input Y contains NaN"):
        mrr(X, bad)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="Input Y contains infinity"):
        mean_cosine(X, bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        rbf_cka(torch.tensor([[np.nan], [1.0]]), torch.ones(2, 1))
    with pytest.raises(ValueError, match="Input Y contains infinity"):
        rbf_cka(torch.ones(2, 1), torch.tensor([[np.inf], [1.0]]))
    with pytest.raises(ValueError, match="X must be 2-D.*got a 1-D input"):
        linear_cka(X[:, 0], Y)
    with pytest.raises(ValueError, match="Y must be 2-D.*got a 1-D input"):
        mrr(X, torch.ones(10))
    with pytest.raises(ValueError, match="X has 3 features but Y has 2"):
        mrr(X, Y[:, :2])
    with pytest.raises(ValueError, match=r"'metric' parameter of mrr must be a str"):
        mrr(X, Y, metric="manhattan")
    with pytest.raises(ValueError, match=r"'metric' parameter of jaccard_at_k"):
        jaccard_at_k(X, Y, metric="csls")
    with pytest.raises(ValueError, match=r"'space' parameter of jaccard_at_k"):
        jaccard_at_k(X, Y, space="source")
    with pytest.raises(ValueError, match=r"'batch_size' parameter of linear_cka"):
        linear_cka(X, Y, batch_size=0)
    with pytest.raises(ValueError, match=r"'threshold' parameter of rbf_cka must be"):
        rbf_cka(X, Y, threshold=0.0)
    with pytest.raises(
        ValueError, match=r"'threshold' parameter of rbf_cka .* 'median'"
    ):
        rbf_cka(X, Y, threshold="median")
    with pytest.raises(ValueError, match=r"'debiased' parameter of linear_cka"):
        linear_cka(X, Y, debiased="yes")
    with pytest.raises(ValueError, match=r"'device' parameter of mean_cosine"):
        mean_cosine(X, Y, device=0)
    with pytest.raises(ValueError, match="Complex data not supported"):
        linear_cka(torch.ones(4, 2, dtype=torch.complex64), Y[:4])
    with pytest.raises(ValueError, match="at least one row and one column"):
        linear_cka(torch.ones(4, 0), Y[:4])
    with pytest.raises(ValueError, match="not a valid torch device"):
        linear_cka(X, Y, device="gpu0")


# --------------------------------------------------------------------------
# Scorers
# --------------------------------------------------------------------------


def test_scorers_call_transform_and_compare_with_y():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4))
    identity = FunctionTransformer().fit(X)
    negate = FunctionTransformer(np.negative).fit(X)
    assert mean_cosine_scorer(identity, X, X) == pytest.approx(1.0)
    assert mean_cosine_scorer(negate, X, X) == pytest.approx(-1.0)
    assert mrr_scorer(identity, X, X) == 1.0
    assert top_1_accuracy_scorer(identity, X, X) == 1.0
    assert linear_cka_scorer(negate, X, X) == pytest.approx(1.0)
    distance = translation_scorer("neg_procrustes_distance")
    assert distance(negate, X, X) == pytest.approx(0.0, abs=1e-6)
    assert distance(FunctionTransformer(np.abs).fit(X), X, X) < -0.1
    jaccard = translation_scorer("jaccard_at_k", k=3, metric="euclidean")
    assert jaccard(identity, X, X) == 1.0
    assert translation_scorer("mutual_knn_alignment", k=3)(negate, X, X) == 1.0
    csls = translation_scorer("top_k_accuracy", metric="csls", csls_k=3)
    assert csls(identity, X, X) == 1.0
    assert translation_scorer("rbf_cka", threshold=0.5)(identity, X, X) == 1.0


def test_scorer_drives_grid_search_and_pickles():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    Y = 2 * X
    search = GridSearchCV(
        FunctionTransformer(),
        {"func": [np.negative, None, np.abs]},
        scoring=translation_scorer("mrr", k=5),
        cv=3,
    ).fit(X, Y)
    assert search.best_params_["func"] is None
    assert search.best_score_ == 1.0
    scorer = pickle.loads(pickle.dumps(translation_scorer("top_k_accuracy", k=2)))
    assert repr(scorer) == "translation_scorer('top_k_accuracy', k=2)"
    scores = cross_val_score(FunctionTransformer(), X, Y, scoring=scorer, cv=2)
    np.testing.assert_array_equal(scores, [1.0, 1.0])


def test_scorer_selects_n_anchors_of_a_translator():
    # The story: "how many anchors do I need?" with GridSearchCV.
    from sklatent import LatentTranslator

    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 8))
    Y = X @ rng.normal(size=(8, 6)) + 0.5 * rng.normal(size=(240, 6))
    search = GridSearchCV(
        LatentTranslator(method="affine", random_state=0),
        {"n_anchors": [12, 110]},
        scoring={"mrr": mrr_scorer, "cosine": mean_cosine_scorer},
        refit="mrr",
        cv=2,
    ).fit(X, Y)
    assert search.best_params_ == {"n_anchors": 110}
    assert search.cv_results_["mean_test_cosine"][1] > 0.9


def test_scorer_reads_one_dimensional_target_as_a_column():
    X = np.arange(10.0).reshape(-1, 1) + 1
    scorer = translation_scorer("mean_cosine")
    assert scorer(FunctionTransformer().fit(X), X, X.ravel()) == 1.0
    identity = FunctionTransformer(np.ravel).fit(X)
    assert scorer(identity, X, torch.from_numpy(X.ravel())) == 1.0


def test_scorer_errors():
    with pytest.raises(ValueError, match=r"'name' parameter of translation_scorer"):
        translation_scorer("accuracy")
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="pass them as y"):
        mrr_scorer(FunctionTransformer().fit(X), X, None)


def test_metrics_package_imports_no_estimator():
    # Floors: metrics sits on the kernels, the backend and the sklearn shim,
    # below the estimators, which may import it.
    package = Path(metrics.__file__).parent
    allowed = {"_backend", "_dask", "_kernels", "_sklearn_compat", "_validation"}
    own = {path.stem for path in package.glob("*.py")}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert (node.module or "").split(".")[0] in own, path
            elif isinstance(node, ast.ImportFrom) and node.level == 2:
                top = (node.module or "").split(".")[0]
                names = {alias.name for alias in node.names}
                assert (top in allowed) or (not top and names <= allowed), path
            elif isinstance(node, ast.Import | ast.ImportFrom):
                module = node.module if isinstance(node, ast.ImportFrom) else None
                assert not (module or "").startswith("sklatent"), path


# Functional map similarity ----------------------------------------------------


def _clusters(n=300, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) + rng.integers(3, size=(n, 1)) * 4


@pytest.mark.parametrize("measure", ["diagonal", "orthogonal"])
def test_functional_map_similarity_of_one_graph_is_one(measure):
    X = _clusters()
    Q = np.linalg.qr(np.random.default_rng(1).standard_normal((8, 8)))[0]
    for Y in (X, 3 * X @ Q - 7, np.hstack([X, np.zeros((300, 2))])):
        score = metrics.functional_map_similarity(
            X, Y, n_components=12, measure=measure
        )
        assert score == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("measure", ["diagonal", "orthogonal"])
def test_functional_map_similarity_separates_a_noisy_copy_from_noise(measure):
    # Eigenvectors of near-equal eigenvalues mix under any noise, so the
    # score is not monotone in the noise; a noisy copy still scores well
    # above an unrelated space.
    X = _clusters(seed=2)
    rng = np.random.default_rng(3)
    noisy = X + 0.1 * rng.standard_normal(X.shape)
    copy = metrics.functional_map_similarity(X, noisy, n_components=12, measure=measure)
    unrelated = metrics.functional_map_similarity(
        X, rng.standard_normal(X.shape), n_components=12, measure=measure
    )
    assert copy < 1 and copy > unrelated + 0.2


def test_functional_map_similarity_is_the_diagonal_share_of_the_map():
    # Against C = Phi_Y^T Phi_X from bases computed here densely.
    X, Y = _clusters(120, 6, seed=4), _clusters(120, 5, seed=5)
    from sklatent._kernels import spectral

    def basis(Z):
        Z = torch.as_tensor(Z - Z.mean(axis=0))
        L = (
            np.eye(120)
            - spectral.normalized_adjacency(
                spectral.knn_graph(Z, 10, block_rows=120)
            ).toarray()
        )
        return np.linalg.eigh(L)[1][:, :8]

    C = basis(Y).T @ basis(X)
    off = np.linalg.norm(C - np.diag(np.diag(C))) / np.linalg.norm(C)
    gram = C.T @ C
    expected = {
        "diagonal": 1 - off,
        "orthogonal": np.sum(np.diag(gram) ** 2) / np.sum(gram**2),
    }
    for measure, value in expected.items():
        score = metrics.functional_map_similarity(X, Y, n_components=8, measure=measure)
        assert score == pytest.approx(value, abs=1e-6)


def test_functional_map_similarity_of_float32_far_from_the_origin():
    X = (_clusters(seed=6) + 1e4).astype(np.float32)
    Y = (_clusters(seed=6) * 2 - 3e4).astype(np.float32)
    Y += np.random.default_rng(7).standard_normal(Y.shape).astype(np.float32)
    single = metrics.functional_map_similarity(X, Y, n_components=12)
    double = metrics.functional_map_similarity(
        X.astype(np.float64), Y.astype(np.float64), n_components=12
    )
    assert single == pytest.approx(double, abs=1e-3)
    assert single > 0.3


def test_functional_map_similarity_needs_more_rows_than_components():
    X = _clusters(30, 4)
    with pytest.raises(ValueError, match="n_components=30 needs more rows"):
        metrics.functional_map_similarity(X, X, n_components=30)


@pytest.mark.slow
def test_functional_map_similarity_identifies_the_same_architecture():
    # The paper's layer identification, on the digits encoders: each encoder
    # of seed 0 is most similar to the one of seed 1 with its architecture.
    from sklatent.datasets import load_digits_embeddings

    a = load_digits_embeddings(random_state=0)
    b = load_digits_embeddings(random_state=1)
    names = list(a.embeddings)
    for name in names:
        scores = [
            metrics.functional_map_similarity(a.embeddings[name], b.embeddings[other])
            for other in names
        ]
        assert names[int(np.argmax(scores))] == name, scores


@pytest.mark.slow
def test_functional_map_similarity_identifies_layers_of_two_seeds():
    # The paper's layer identification on two digits MLPs of one architecture
    # and two seeds: each hidden layer of one is most similar to the same
    # layer of the other, by the functional map and by linear CKA
    # (benchmarks/bench_layer_identification.py runs it on more seeds and the
    # CNN, where the functional map confuses a layer with its max-pooling).
    from sklatent import _zoo
    from sklatent.datasets import _digits

    images, target, train, test = _digits(0.3, 0)
    inputs = torch.from_numpy(images.astype(np.float32))
    _, dim, build = _zoo._ENCODERS["mlp_wide"]
    layers = []
    for seed in (0, 1):
        encoder, _, _ = _zoo._train_classifier(
            build, dim, 10, inputs, target, train, test, seed=seed, epochs=10
        )
        with torch.no_grad():
            hidden = encoder[:2](inputs)
            layers.append([hidden.numpy(), encoder[2:](hidden).numpy()])
    for measure in (metrics.functional_map_similarity, linear_cka):
        for index, X in enumerate(layers[0]):
            scores = [measure(X, Y) for Y in layers[1]]
            assert int(np.argmax(scores)) == index, (measure.__name__, scores)
