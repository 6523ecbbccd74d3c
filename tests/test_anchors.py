"""Anchor selection strategies."""

import numpy as np
import pytest

from sklatent import RelativeTransformer
from sklatent.anchors import (
    farthest_point_anchors,
    kmeans_anchors,
    random_anchors,
    resolve_n_anchors,
    select_anchors,
    stratified_anchors,
)


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(200, 5))


def test_resolve_n_anchors():
    assert resolve_n_anchors(7, 10) == 7
    assert resolve_n_anchors(0.01, 10) == 1
    assert resolve_n_anchors(1.0, 10) == 10
    with pytest.raises(ValueError, match="n_anchors=11 must be <= n_samples=10"):
        resolve_n_anchors(11, 10)


def test_random_is_seeded_distinct_and_sorted(X):
    a = random_anchors(X, 20, random_state=1)
    np.testing.assert_array_equal(a, random_anchors(X, 20, random_state=1))
    assert len(np.unique(a)) == 20 and (np.diff(a) > 0).all()
    assert not np.array_equal(a, random_anchors(X, 20, random_state=2))


def test_kmeans_picks_the_row_nearest_each_centroid():
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.vstack([c + rng.normal(scale=0.5, size=(30, 2)) for c in centers])
    idx = kmeans_anchors(X, 3, random_state=0)
    assert sorted(i // 30 for i in idx) == [0, 1, 2]
    for i in idx:
        cluster = X[(i // 30) * 30 : (i // 30 + 1) * 30]
        centroid = cluster.mean(axis=0)
        nearest = np.argmin(((cluster - centroid) ** 2).sum(axis=1))
        assert i == (i // 30) * 30 + nearest


def test_kmeans_rows_are_distinct(X):
    idx = kmeans_anchors(X, 50, random_state=0)
    assert len(np.unique(idx)) == 50


def test_farthest_point_is_greedy_max_min(X):
    idx = farthest_point_anchors(X, 10, random_state=0)
    assert len(np.unique(idx)) == 10
    for m in range(1, 10):
        chosen = X[idx[:m]]
        min_dist = ((X[:, None] - chosen[None]) ** 2).sum(-1).min(axis=1)
        assert min_dist[idx[m]] == pytest.approx(min_dist.max())
    # The first m anchors are the answer for m anchors.
    np.testing.assert_array_equal(farthest_point_anchors(X, 4, random_state=0), idx[:4])


@pytest.mark.parametrize(
    ("sizes", "n_anchors", "expected"),
    [
        ([40, 15, 5], 12, [8, 3, 1]),
        ([98, 1, 1], 10, [8, 1, 1]),  # every class served when possible
        ([50, 30, 20], 2, [1, 1, 0]),  # fewer anchors than classes
        ([3, 3], 6, [3, 3]),  # capped by class sizes
    ],
)
def test_stratified_allocation(sizes, n_anchors, expected):
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = np.zeros((len(y), 1))
    idx = stratified_anchors(X, y, n_anchors, random_state=0)
    assert len(np.unique(idx)) == n_anchors
    assert np.bincount(y[idx], minlength=len(sizes)).tolist() == expected


def test_stratified_label_count_mismatch(X):
    with pytest.raises(ValueError, match="y has 3 labels but X has 200 rows"):
        stratified_anchors(X, [0, 1, 0], 2)


def test_select_anchors_dispatches(X):
    np.testing.assert_array_equal(
        select_anchors("farthest", X, 5, random_state=0),
        farthest_point_anchors(X, 5, random_state=0),
    )
    with pytest.raises(ValueError, match="needs class labels"):
        select_anchors("stratified", X, 5)


@pytest.mark.parametrize("strategy", ["kmeans", "farthest"])
def test_anchor_strategies_refuse_too_few_distinct_rows(strategy):
    X = np.repeat(np.random.RandomState(0).normal(size=(5, 3)), 20, axis=0)
    with pytest.raises(ValueError, match="X has only 5 distinct rows"):
        RelativeTransformer(anchors=strategy, n_anchors=8, random_state=0).fit(X)
    rel = RelativeTransformer(anchors=strategy, n_anchors=5, random_state=0).fit(X)
    assert np.unique(rel.anchors_, axis=0).shape[0] == 5
