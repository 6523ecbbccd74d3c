"""Anchor selection strategies: which rows of the fitting data become anchors.

Each strategy is a plain function of numpy arrays returning row indices, drawn
with numpy so that the same ``random_state`` chooses the same anchors on any
device. The estimators pick a strategy by name through :func:`select_anchors`.
"""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

from . import _kernels
from ._sklearn_compat import user_stacklevel

__all__ = [
    "AnchorWarning",
    "STRATEGIES",
    "farthest_point_anchors",
    "kmeans_anchors",
    "random_anchors",
    "resolve_n_anchors",
    "select_anchors",
    "stratified_anchors",
]


class AnchorWarning(UserWarning):
    """Warning about a degenerate anchor set (duplicate or all-zero anchors)."""


def resolve_n_anchors(n_anchors, n_samples):
    """Turn an ``n_anchors`` parameter into a count of rows.

    Parameters
    ----------
    n_anchors : int or float
        An int is a count; a float in (0, 1] is a fraction of ``n_samples``,
        rounded up.
    n_samples : int
        Rows available.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If the count exceeds ``n_samples``.

    Examples
    --------
    >>> from sklatent.anchors import resolve_n_anchors
    >>> resolve_n_anchors(0.25, 10)
    3
    """
    if isinstance(n_anchors, bool):
        raise ValueError(
            f"n_anchors must be an int >= 1 or a float in (0, 1]; got {n_anchors!r}."
        )
    if isinstance(n_anchors, numbers.Integral):
        count = int(n_anchors)
    else:
        count = max(1, math.ceil(n_anchors * n_samples))
    if count > n_samples:
        raise ValueError(
            f"n_anchors={count} must be <= n_samples={n_samples}. Pass a smaller "
            "n_anchors, or a fraction such as n_anchors=0.5."
        )
    return count


def random_anchors(X, n_anchors, *, random_state=None):
    """Draw ``n_anchors`` distinct rows uniformly at random.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Candidate anchors.
    n_anchors : int
        Rows to draw.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Returns
    -------
    ndarray of shape (n_anchors,)
        Sorted row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.anchors import random_anchors
    >>> random_anchors(np.zeros((10, 2)), 3, random_state=0)
    array([2, 4, 8])
    """
    rng = check_random_state(random_state)
    return np.sort(rng.choice(X.shape[0], n_anchors, replace=False))


def kmeans_anchors(X, n_anchors, *, random_state=None):
    """Pick, for each k-means cluster, the real row nearest its centroid.

    Clusters are disjoint, so the rows are distinct. Covering the space this
    way is one of the strategies compared by Moschella et al. (2023).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Candidate anchors.
    n_anchors : int
        Number of clusters, hence anchors.
    random_state : int, RandomState instance or None, default=None
        Seed of k-means.

    Returns
    -------
    ndarray of shape (n_anchors,)
        Sorted row indices of distinct rows.

    Raises
    ------
    ValueError
        If ``X`` has fewer than ``n_anchors`` distinct rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.anchors import kmeans_anchors
    >>> X = np.array([[0.0], [0.1], [5.0], [5.2], [9.0]])
    >>> kmeans_anchors(X, 3, random_state=0)
    array([0, 2, 4])
    """
    from sklearn.cluster import KMeans  # imported here: 0.1 s off `import sklatent`
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # Fewer distinct points than clusters is reported below, as an error.
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=n_anchors, n_init=1, random_state=random_state).fit(X)
    labels = km.labels_
    if np.unique(labels).shape[0] < n_anchors:
        _raise_too_few_distinct(X, n_anchors, "kmeans")
    distance = _kernels.row_norms(torch.from_numpy(X - km.cluster_centers_[labels]))
    order = np.lexsort((distance.numpy(), labels))
    first_of_cluster = np.r_[True, np.diff(labels[order]) != 0]
    return np.sort(order[first_of_cluster])


def _raise_too_few_distinct(X, n_anchors, strategy):
    n_distinct = np.unique(X, axis=0).shape[0]
    raise ValueError(
        f"anchors={strategy!r} cannot choose {n_anchors} distinct anchors: X has "
        f"only {n_distinct} distinct rows. Use n_anchors <= {n_distinct}, or drop "
        "duplicate rows from X."
    )


def farthest_point_anchors(X, n_anchors, *, random_state=None):
    """Greedy farthest point sampling (Euclidean), from a random first row.

    Each new anchor is the row farthest from all anchors chosen so far, which
    spreads anchors over the whole space, outliers included.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Candidate anchors.
    n_anchors : int
        Rows to pick.
    random_state : int, RandomState instance or None, default=None
        Seed of the first row.

    Returns
    -------
    ndarray of shape (n_anchors,)
        Distinct row indices of distinct rows, in the order they were picked,
        so the first ``m`` are the answer for ``m`` anchors.

    Raises
    ------
    ValueError
        If ``X`` has fewer than ``n_anchors`` distinct rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.anchors import farthest_point_anchors
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0]])
    >>> farthest_point_anchors(X, 3, random_state=0)
    array([0, 3, 2])
    """
    rng = check_random_state(random_state)
    chosen = np.empty(n_anchors, dtype=np.intp)
    chosen[0] = rng.randint(X.shape[0])
    rows = torch.from_numpy(np.require(X, requirements=["C", "W"]))

    def squared_distances(i):
        return _kernels.squared_euclidean(rows, rows[i : i + 1]).squeeze(1)

    nearest = squared_distances(chosen[0])
    for i in range(1, n_anchors):
        chosen[i] = int(torch.argmax(nearest))
        if nearest[chosen[i]] == 0:
            _raise_too_few_distinct(X, n_anchors, "farthest")
        torch.minimum(nearest, squared_distances(chosen[i]), out=nearest)
    return chosen


def stratified_anchors(X, y, n_anchors, *, random_state=None):
    """Draw anchors spread over classes in proportion to their sizes.

    Anchors are shared in proportion to class sizes (largest remainders),
    never more than a class holds. Every class gets at least one anchor when
    ``n_anchors`` allows it, taken from the most over-served classes. With
    fewer anchors than classes, the anchors go to the largest classes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Candidate anchors (only their number is used).
    y : array-like of shape (n_samples,)
        Class labels.
    n_anchors : int
        Rows to draw.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw within each class.

    Returns
    -------
    ndarray of shape (n_anchors,)
        Sorted row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.anchors import stratified_anchors
    >>> y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    >>> idx = stratified_anchors(np.zeros((10, 1)), y, 5, random_state=0)
    >>> np.bincount(y[idx]).tolist()
    [3, 1, 1]
    """
    rng = check_random_state(random_state)
    y = np.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y has {y.shape[0]} labels but X has {X.shape[0]} rows; "
            "stratified anchors need one label per row."
        )
    classes, y_codes, sizes = np.unique(y, return_inverse=True, return_counts=True)
    quota = n_anchors * sizes / sizes.sum()
    counts = np.floor(quota).astype(int)
    if n_anchors >= len(classes):
        counts = np.maximum(counts, 1)
    while counts.sum() > n_anchors:
        over = np.where(counts > 1, counts - quota, -np.inf)
        counts[np.argmax(over)] -= 1
    while counts.sum() < n_anchors:
        under = np.where(counts < sizes, quota - counts, -np.inf)
        counts[np.argmax(under)] += 1
    picks = [
        rng.choice(np.flatnonzero(y_codes == c), counts[c], replace=False)
        for c in range(len(classes))
    ]
    return np.sort(np.concatenate(picks))


STRATEGIES = {
    "random": random_anchors,
    "kmeans": kmeans_anchors,
    "farthest": farthest_point_anchors,
    "stratified": stratified_anchors,
}


def select_anchors(strategy, X, n_anchors, *, y=None, random_state=None):
    """Choose anchor rows of ``X`` with the named strategy.

    Parameters
    ----------
    strategy : {"random", "kmeans", "farthest", "stratified"}
        Strategy name; ``"stratified"`` needs ``y``.
    X : ndarray of shape (n_samples, n_features)
        Candidate anchors.
    n_anchors : int or float
        Count, or fraction of the rows (see :func:`resolve_n_anchors`).
    y : array-like of shape (n_samples,), default=None
        Class labels, for ``"stratified"``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    ndarray of shape (n_anchors,)
        Row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.anchors import select_anchors
    >>> select_anchors("random", np.zeros((10, 2)), 0.3, random_state=0)
    array([2, 4, 8])
    """
    count = resolve_n_anchors(n_anchors, X.shape[0])
    if strategy == "stratified":
        if y is None:
            raise ValueError(
                "anchors='stratified' needs class labels: call fit(X, y) with y, "
                "or choose anchors='random'."
            )
        return stratified_anchors(X, y, count, random_state=random_state)
    return STRATEGIES[strategy](X, count, random_state=random_state)


def check_anchor_indices(indices, n_rows):
    """Validate row indices given as ``anchors``.

    Parameters
    ----------
    indices : array-like of shape (n_anchors,)
        Integer row indices into the fitting data.
    n_rows : int
        Rows of the fitting data.

    Returns
    -------
    ndarray of shape (n_anchors,), dtype intp

    Raises
    ------
    ValueError
        If ``indices`` is not a non-empty 1-D integer array within
        ``[0, n_rows - 1]``.
    """
    given = np.asarray(indices.cpu() if hasattr(indices, "cpu") else indices)
    if given.ndim != 1 or given.size == 0:
        raise ValueError(
            "anchors must be a strategy name, a non-empty 1-D array of row "
            f"indices or, for RelativeTransformer, a 2-D array of embeddings; got "
            f"shape {given.shape}."
        )
    if not np.issubdtype(given.dtype, np.integer):
        raise ValueError(
            f"1-D anchors must be integer row indices; got dtype {given.dtype}."
        )
    if given.min() < 0 or given.max() >= n_rows:
        raise ValueError(
            f"anchor indices must lie in [0, {n_rows - 1}] for X with "
            f"{n_rows} rows; got values from {given.min()} to {given.max()}."
        )
    return given.astype(np.intp)


def warn_if_degenerate(anchors):
    """Warn with :class:`AnchorWarning` about duplicate or all-zero anchors.

    Duplicates give identical relative coordinates (wasted columns); an
    all-zero anchor has no direction, so its cosine column is constant zero.

    Parameters
    ----------
    anchors : ndarray of shape (n_anchors, n_features)
        Anchor embeddings.
    """
    n_unique = np.unique(anchors, axis=0).shape[0]
    if n_unique < anchors.shape[0]:
        warnings.warn(
            f"{anchors.shape[0] - n_unique} of {anchors.shape[0]} anchors duplicate "
            "another anchor; their relative coordinates are redundant. Drop "
            "duplicate rows from X or choose anchors='farthest'.",
            AnchorWarning,
            stacklevel=user_stacklevel(),
        )
    n_zero = int((~anchors.any(axis=1)).sum())
    if n_zero:
        warnings.warn(
            f"{n_zero} anchor(s) are all-zero vectors; their cosine similarity is 0 "
            "for every sample.",
            AnchorWarning,
            stacklevel=user_stacklevel(),
        )
