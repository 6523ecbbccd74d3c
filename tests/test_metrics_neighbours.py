"""CSLS retrieval, mutual k-NN alignment and Jaccard@k against brute force."""

import numpy as np
import pytest
import torch

from sklatent.metrics import (
    jaccard_at_k,
    mrr,
    mutual_knn_alignment,
    retrieval_ranks,
    top_k_accuracy,
)


def cosine_matrix(X, Y):
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    Y = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    return X @ Y.T


def brute_csls(X, Y, k):
    """Conneau et al.'s CSLS from the full cosine matrix, in float64."""
    S = cosine_matrix(X, Y)
    k_y, k_x = min(k, S.shape[1]), min(k, S.shape[0])
    r_y = -np.sort(-S, axis=1)[:, :k_y].mean(1)  # r_Y(x_i)
    r_x = -np.sort(-S, axis=0)[:k_x, :].mean(0)  # r_X(y_j)
    return 2 * S - r_y[:, None] - r_x[None, :]


def brute_ranks(S):
    return 1 + (np.diag(S)[:, None] < S).sum(1)


def own_knn(Z, k, metric):
    if metric == "cosine":
        S = cosine_matrix(Z, Z)
    else:
        S = -((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(S, -np.inf)
    return [set(row) for row in np.argsort(-S, axis=1, kind="stable")[:, :k]]


def brute_mutual_knn(X, Y, k, metric="cosine"):
    """Huh et al.'s mutual k-NN: mean |N_k^X(i) & N_k^Y(i)| / k."""
    pairs = zip(own_knn(X, k, metric), own_knn(Y, k, metric), strict=True)
    return np.mean([len(a & b) / k for a, b in pairs])


def brute_jaccard_own(X, Y, k, metric="cosine"):
    pairs = zip(own_knn(X, k, metric), own_knn(Y, k, metric), strict=True)
    return np.mean([len(a & b) / len(a | b) for a, b in pairs])


def noisy_pair(seed, n=60, d=5, noise=0.6, d_y=None):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    Y = X + noise * rng.normal(size=(n, d))
    if d_y is not None:
        Y = np.hstack([Y, rng.normal(size=(n, d_y - d))])
    return X, Y


def hub_pair(seed, n=300, d=30, n_hubs=10):
    """Queries share a direction; a few candidates lie along it: hubs."""
    rng = np.random.RandomState(seed)
    Z = rng.normal(size=(n, d))
    u = rng.normal(size=d)
    u *= np.sqrt(d) / np.linalg.norm(u)
    X = Z + 0.5 * rng.normal(size=(n, d)) + 0.7 * u
    Y = Z + 0.5 * rng.normal(size=(n, d))
    hubs = rng.choice(n, n_hubs, replace=False)
    Y[hubs] += 1.5 * u
    return X, Y, hubs


@pytest.mark.parametrize("csls_k", [1, 3, 10, 500])
@pytest.mark.parametrize("batch_size", [None, 1, 7])
def test_csls_ranks_match_brute_force(csls_k, batch_size):
    X, Y = noisy_pair(0)
    expected = brute_ranks(brute_csls(X, Y, csls_k))
    assert expected.max() > 1  # a non-trivial problem
    kw = {"metric": "csls", "csls_k": csls_k, "batch_size": batch_size}
    np.testing.assert_array_equal(retrieval_ranks(X, Y, **kw), expected)
    assert mrr(X, Y, **kw) == pytest.approx(np.mean(1 / expected), abs=1e-15)
    assert mrr(X, Y, k=3, **kw) == pytest.approx(
        np.mean(np.where(expected <= 3, 1 / expected, 0)), abs=1e-15
    )
    for k in (1, 5):
        assert top_k_accuracy(X, Y, k, **kw) == pytest.approx(np.mean(expected <= k))


def test_csls_float32_far_from_origin_matches_float64():
    X, Y = noisy_pair(1, n=80, d=8)
    scale = np.array([1.0, 3.0, 0.1, 10.0, 1.0, 1.0, 1.0, 5.0])  # anisotropic
    X32 = (X * scale + 100).astype(np.float32)
    Y32 = (Y * scale + 100).astype(np.float32)
    Y32[:5] = X32[:5]  # rows equal to their queries
    expected = brute_ranks(brute_csls(X32.astype(float), Y32.astype(float), 5))
    ranks = retrieval_ranks(X32, Y32, metric="csls", csls_k=5)
    # float32 cosines of rows near +100 agree to ~1e-7: allow a swap of
    # near-tied candidates, nothing more.
    assert np.abs(ranks - expected).max() <= 1
    assert np.mean(ranks == expected) > 0.95


def test_csls_reduces_hubness():
    for seed in range(3):
        X, Y, hubs = hub_pair(seed)
        wrong_hub = [
            np.sum(np.isin(top, hubs) & (top != np.arange(len(top))))
            for top in (cosine_matrix(X, Y).argmax(1), brute_csls(X, Y, 10).argmax(1))
        ]
        # Cosine: the hubs are the nearest candidate of many other queries;
        # CSLS takes most of them back.
        assert wrong_hub[0] > 50
        assert wrong_hub[1] < wrong_hub[0] / 4
        assert mrr(X, Y, metric="csls") > mrr(X, Y) + 0.1
        assert top_k_accuracy(X, Y, metric="csls") > top_k_accuracy(X, Y) + 0.15


def test_csls_torch_input_stays_on_device_and_agrees():
    X, Y = noisy_pair(2)
    ranks = retrieval_ranks(torch.from_numpy(X), torch.from_numpy(Y), metric="csls")
    np.testing.assert_array_equal(ranks, retrieval_ranks(X, Y, metric="csls"))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [1, 4, 10])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_mutual_knn_alignment_matches_brute_force(metric, k, batch_size):
    X, Y = noisy_pair(3, n=45, d=4, noise=0.4, d_y=7)
    expected = brute_mutual_knn(X, Y, k, metric)
    assert 0 < expected < 1
    value = mutual_knn_alignment(X, Y, k, metric=metric, batch_size=batch_size)
    assert value == pytest.approx(expected, abs=1e-15)
    # Same intersection over k rather than over the union: never smaller.
    assert value >= jaccard_at_k(X, Y, k, metric=metric) - 1e-15


def test_mutual_knn_alignment_is_not_jaccard():
    X, Y = noisy_pair(4, n=40, noise=0.5)
    mutual, jaccard = mutual_knn_alignment(X, Y, 5), jaccard_at_k(X, Y, 5)
    assert 0 < jaccard < mutual < 1


def test_mutual_knn_alignment_of_similar_spaces_and_unrelated_ones():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(200, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert mutual_knn_alignment(X, 4 * X @ Q, 10) == 1.0
    # Unrelated spaces share about k / (n - 1) of the neighbours by chance.
    chance = mutual_knn_alignment(X, rng.normal(size=(200, 6)), 10)
    assert chance < 0.15


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_jaccard_default_is_own_space_overlap(metric):
    # Each item's neighbours within X against its neighbours within Y, the
    # item excluded; the dimensions may differ.
    X, Y = noisy_pair(6, n=45, d=4, noise=0.4, d_y=6)
    expected = brute_jaccard_own(X, Y, 5, metric)
    assert 0 < expected < 1
    assert jaccard_at_k(X, Y, 5, metric=metric) == pytest.approx(expected, abs=1e-15)
