"""Which space a stored vector is in: the old/new check a bridge carries.

When a :class:`~sklatent.migration.MigrationBridge` is fitted on pairs of one
width it fits the check of its two spaces (:func:`fit_space_check`) and keeps
it as ``space_check_``: a logistic regression on the pairs' two sides (old
rows labelled 0, new rows 1) and, for each side, reference rows with the
floor of the best cosine a row of that side reaches among them. A stored row
whose best cosines to both sides fall below their floors, or that is zero or
not finite, looks like *neither* space. :func:`check_store` (an array) and
:func:`check_vector_store` (the served column of a vector store, a batch at a
time) classify every row with it and need nothing but the bridge and the
store; :func:`search_store` searches a vector store with new-model queries
and refuses hits of the other space. All fitted state is numpy, so the check
travels in the bridge's skops file.
"""

import numpy as np
import torch

from ._retention import unit_rows
from ._shadow import open_store

NEITHER_QUANTILE = 0.01
"""A stored row looks like a space when its best cosine to that space's
reference rows is no further below the median of the references' own best
cosines to each other than twice the distance of this quantile from that
median."""

REFERENCE_ROWS = 1000
"""Reference rows kept per side (a random sample of the pairs beyond it): the
``neither`` test compares a stored row with them, and the bridge file carries
them (``2 * REFERENCE_ROWS * width`` float32 values)."""

MIN_CHECK_PAIRS = 10
"""A bridge fitted on fewer pairs keeps no space check (the classifier's
3-fold accuracy and the references' floors need a few rows a side)."""

CLASSIFY_ROWS = 16384
"""Stored rows classified at a time (memory: this many rows by the references)."""

SPACES = ("source", "target", "neither")
"""The labels of :func:`classify_rows` (0, 1, 2): the old space, the new, neither."""


def _best_cosine(queries, candidates, *, exclude_self=False, block=4096):
    """Each query's largest cosine to a candidate row (0 for a zero row)."""
    # the kernels' one overflow-safe unit norm (a zero row stays zero)
    Q, C = unit_rows(queries), unit_rows(candidates)
    best = np.empty(len(queries))
    for start in range(0, len(queries), block):
        S = Q[start : start + block] @ C.T
        if exclude_self:
            local = torch.arange(len(S))
            S[local, local + start] = -torch.inf
        best[start : start + block] = S.amax(dim=1).numpy()
    return best


def fit_space_check(X_old, Y_new, *, random_state=0):
    """Fit the check of which space a vector is in, on the pairs' two sides.

    Parameters
    ----------
    X_old, Y_new : array-like of shape (n_old, d) and (n_new, d)
        Vectors of the old and of the new space (the pairs' two sides; they
        need not be row-aligned).
    random_state : int, default=0
        Seed of the reference rows drawn beyond :data:`REFERENCE_ROWS`.

    Returns
    -------
    dict or None
        ``mean``, ``scale`` (the standardisation), ``coef``, ``intercept``
        (the logistic regression on standardised rows: positive means new),
        ``accuracy`` (its 3-fold accuracy on the pairs), ``old_rows``,
        ``new_rows`` (float32 references) and ``old_floor``, ``new_floor``;
        None when the widths differ (a store's width then tells its space) or
        either side has fewer than :data:`MIN_CHECK_PAIRS` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import fit_space_check
    >>> rng = np.random.default_rng(0)
    >>> check = fit_space_check(rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 5)
    >>> round(check["accuracy"], 2), check["old_rows"].shape
    (1.0, (50, 4))
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_old = np.asarray(X_old, dtype=np.float64)
    Y_new = np.asarray(Y_new, dtype=np.float64)
    if X_old.shape[1] != Y_new.shape[1] or min(len(X_old), len(Y_new)) < (
        MIN_CHECK_PAIRS
    ):
        return None
    Z = np.vstack([X_old, Y_new])
    labels = np.r_[np.zeros(len(X_old)), np.ones(len(Y_new))]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    accuracy = float(np.mean(cross_val_score(clf, Z, labels, cv=3)))
    clf.fit(Z, labels)
    scaler, logistic = clf[0], clf[-1]
    check = {
        "mean": scaler.mean_,
        "scale": scaler.scale_,
        "coef": logistic.coef_.ravel(),
        "intercept": float(logistic.intercept_[0]),
        "accuracy": accuracy,
    }
    rng = np.random.default_rng(random_state)
    for name, side in (("old", X_old), ("new", Y_new)):
        if len(side) > REFERENCE_ROWS:
            side = side[np.sort(rng.choice(len(side), REFERENCE_ROWS, replace=False))]
        own = _best_cosine(side, side, exclude_self=True)
        low, median = np.quantile(own, [NEITHER_QUANTILE, 0.5])
        check[f"{name}_rows"] = side.astype(np.float32)
        check[f"{name}_floor"] = float(median - 2.0 * (median - low))
    return check


def classify_rows(check, rows):
    """Label each row 0 (old space), 1 (new space) or 2 (neither).

    Parameters
    ----------
    check : dict
        What :func:`fit_space_check` returns.
    rows : array-like of shape (n, d)
        The vectors.

    Returns
    -------
    ndarray of shape (n,)
        The labels, int8.
    """
    rows = np.asarray(rows, dtype=np.float64)
    usable = np.isfinite(rows).all(axis=1) & rows.any(axis=1)
    like_a_side = np.zeros(len(rows), dtype=bool)
    for name in ("old", "new"):
        best = _best_cosine(rows[usable], check[f"{name}_rows"])
        like_a_side[usable] |= best >= check[f"{name}_floor"]
    known = usable & like_a_side
    labels = np.full(len(rows), 2, dtype=np.int8)
    decision = (rows[known] - check["mean"]) / check["scale"] @ check["coef"]
    labels[known] = decision + check["intercept"] > 0
    return labels


def space_check(bridge, pairs=None):
    """The check of ``bridge`` (its ``space_check_``), or one fitted on ``pairs``.

    Parameters
    ----------
    bridge : MigrationBridge or None
        Fitted.
    pairs : tuple of two array-likes or None, default=None
        ``(X_old, Y_new)``: fit the check on them instead (an override, and
        the way for a bridge saved before bridges kept their check).

    Returns
    -------
    dict
        What :func:`fit_space_check` returns.
    """
    if pairs is not None:
        X_old, Y_new = (np.asarray(side) for side in pairs)
        if X_old.ndim != 2 or Y_new.ndim != 2 or X_old.shape[1] != Y_new.shape[1]:
            raise ValueError(
                "the check needs the old and new pairs of one width; got shapes "
                f"{X_old.shape} and {Y_new.shape}"
            )
        check = fit_space_check(X_old, Y_new)
        if check is None:
            raise ValueError(
                f"the check needs at least {MIN_CHECK_PAIRS} pairs; got "
                f"{min(len(X_old), len(Y_new))}"
            )
        return check
    if bridge is None:
        raise ValueError("give a fitted bridge or the pairs to check a store")
    if not hasattr(bridge, "space_check_"):
        raise ValueError(
            "this bridge was saved before bridges kept their old/new classifier: "
            "refit it (sklatent migrate fit) or give the pairs (--old and --new)"
        )
    if bridge.space_check_ is None:
        if bridge.old_width_ != bridge.new_width_:
            raise ValueError(
                f"this bridge maps {bridge.old_width_}-d vectors to "
                f"{bridge.new_width_}-d ones: a store's width tells its space, "
                "there is nothing to check"
            )
        raise ValueError(
            f"this bridge was fitted on {bridge.n_pairs_} pairs, too few to keep "
            f"an old/new classifier (at least {MIN_CHECK_PAIRS}); give more pairs "
            "(--old and --new)"
        )
    return bridge.space_check_


def _check_width(check, width, where):
    expected = len(check["mean"])
    if width != expected:
        raise ValueError(
            f"{where} holds vectors of {width} values; the spaces checked have "
            f"{expected}"
        )


def _result(labels, check):
    """The fractions of each space, from the rows' labels."""
    n = len(labels)
    counts = np.bincount(labels, minlength=3)
    result = {
        f"{space}_fraction": float(counts[i] / n) if n else 0.0
        for i, space in enumerate(SPACES)
    }
    return {**result, "classifier_accuracy": check["accuracy"], "n_rows": n}


def check_store(bridge, store, *, pairs=None):
    """Which rows of a store look like the old space, which like the new, which neither.

    The bridge's old/new check (``space_check_``, see :func:`fit_space_check`)
    classifies each row of the store: a half-migrated store shows both. A row
    whose best cosines to the old and to the new references both fall well
    below what the references reach among themselves
    (:data:`NEITHER_QUANTILE`), or that is zero or not finite, looks like
    *neither* space (noise, zeros, a third model) and is counted apart.

    Parameters
    ----------
    bridge : MigrationBridge or None
        Fitted on pairs of one width (its check is used); None with ``pairs``.
    store : array-like of shape (n, d)
        The store to check (a memory-mapped array is read
        :data:`CLASSIFY_ROWS` rows at a time).
    pairs : tuple ``(X_old, Y_new)`` or None, default=None
        Fit the check on these pairs instead of using the bridge's.

    Returns
    -------
    dict
        ``source_fraction``, ``target_fraction``, ``neither_fraction``,
        ``source_rows``, ``target_rows``, ``neither_rows``, ``n_rows`` and
        ``classifier_accuracy`` (3-fold, on the pairs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import MigrationBridge, check_store
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(size=(200, 8)) + 2.0
    >>> new = old @ rng.normal(size=(8, 8))
    >>> bridge = MigrationBridge("affine").fit(old, new)
    >>> result = check_store(bridge, np.vstack([old[:30], new[:10]]))
    >>> result["source_fraction"], result["target_rows"]
    (0.75, [30, 31, 32, 33, 34, 35, 36, 37, 38, 39])
    """
    check = space_check(bridge, pairs)
    shape = np.shape(store)
    if len(shape) != 2:
        raise ValueError(f"the store must be a 2-D array; got shape {shape}")
    _check_width(check, shape[1], "the store")
    labels = np.concatenate(
        [
            classify_rows(check, store[start : start + CLASSIFY_ROWS])
            for start in range(0, shape[0], CLASSIFY_ROWS)
        ]
        or [np.zeros(0, dtype=np.int8)]
    )
    rows = {
        f"{space}_rows": np.flatnonzero(labels == i).tolist()
        for i, space in enumerate(SPACES)
    }
    return {**_result(labels, check), **rows}


def check_vector_store(bridge, store, *, pairs=None, batch_size=16384):
    """:func:`check_store` on the served column of a vector store, by batches.

    Parameters
    ----------
    bridge : MigrationBridge or None
        As in :func:`check_store`.
    store : str or VectorStore
        A store URI (``lancedb://DIR/TABLE?column=vector``) or an opened
        store; its served column is checked (rows without a vector are
        skipped).
    pairs : tuple ``(X_old, Y_new)`` or None, default=None
        As in :func:`check_store`.
    batch_size : int, default=16384
        Rows read at a time.

    Returns
    -------
    dict
        ``store``, ``column``, the fractions and ``n_rows`` of
        :func:`check_store`, ``classifier_accuracy``, ``minority`` (the
        space, ``"source"`` or ``"target"``, with fewer rows; ties say
        ``"target"``), ``minority_ids`` and ``neither_ids`` (ids in the order
        read).
    """
    check = space_check(bridge, pairs)
    store = open_store(store)
    _check_width(
        check,
        store.width(store.column),
        f"column {store.column!r} of {store.description()}",
    )
    labels, ids = [], {i: [] for i in range(3)}
    for batch in store.read_batches(
        [store.id_column, store.column],
        present=[store.column],
        batch_size=batch_size,
    ):
        found = classify_rows(check, batch[store.column])
        labels.append(found)
        for i in range(3):
            ids[i].extend(
                key
                for key, label in zip(batch[store.id_column], found, strict=True)
                if label == i
            )
    result = _result(np.concatenate(labels or [np.zeros(0, np.int8)]), check)
    minority = 0 if len(ids[0]) < len(ids[1]) else 1
    return {
        "store": store.description(),
        "column": store.column,
        **result,
        "minority": SPACES[minority],
        "minority_ids": ids[minority],
        "neither_ids": ids[2],
    }


def search_store(bridge, store, queries, *, k=10, batch_size=16384):
    """Search a vector store with new-model queries, refusing a mix of spaces.

    An exact search (every served vector scored, ``batch_size`` rows at a
    time) of the served column by cosine. With an ``"old-to-new"`` bridge the
    column must hold the new space (the store cut over: the translated
    vectors), and the queries are searched as they are; with a
    ``"new-to-old"`` bridge the queries are translated into the old space and
    the column holds the old vectors. Every hit is classified by the bridge's
    space check (``space_check_``): a hit of the other space means the
    column mixes spaces, or is not the one the bridge serves, and is refused
    rather than ranked. The scores are calibrated onto the new model's scale
    (:meth:`~sklatent.migration.MigrationBridge.calibrate_scores`) when the
    bridge has a calibration.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted.
    store : str or VectorStore
        A store URI or an opened store.
    queries : array-like of shape (n_queries, new_width)
        New-model query vectors.
    k : int, default=10
        Hits per query.
    batch_size : int, default=16384
        Stored rows scored at a time.

    Returns
    -------
    ids : list of lists
        The ids of each query's ``k`` hits, best first.
    scores : ndarray of shape (n_queries, k)
        Their cosines, calibrated when the bridge has a calibration.
    """
    from ._retention import check_queries

    queries = check_queries(queries, bridge.new_width_)
    corpus_side = bridge.direction == "old-to-new"
    if not corpus_side:
        queries = bridge.transform(queries)
    store = open_store(store)
    width = store.width(store.column)
    if width != queries.shape[1]:
        raise ValueError(
            f"column {store.column!r} of {store.description()} holds vectors of "
            f"{width} values; the {'new' if corpus_side else 'old'} space the "
            f"bridge searches has {queries.shape[1]}"
        )
    Q = unit_rows(queries)
    best = torch.full((len(Q), 0), -torch.inf, dtype=Q.dtype)
    best_rows = torch.zeros((len(Q), 0), dtype=torch.long)
    kept = {}  # row -> (id, vector) of the rows among the hits so far
    seen = 0
    for batch in store.read_batches(
        [store.id_column, store.column],
        present=[store.column],
        batch_size=batch_size,
    ):
        S = np.asarray(batch[store.column])
        rows = torch.arange(seen, seen + len(S)).expand(len(Q), -1)
        scores = torch.cat([best, Q @ unit_rows(S).T], dim=1)
        best, top = scores.topk(min(k, scores.shape[1]), dim=1)
        best_rows = torch.cat([best_rows, rows], dim=1).gather(1, top)
        hit = set(best_rows.unique().tolist())
        kept = {row: kept[row] for row in kept if row in hit}
        for row in hit - set(kept):
            kept[row] = batch[store.id_column][row - seen], S[row - seen]
        seen += len(S)
    hits = best_rows.tolist()
    _refuse_other_space(bridge, [kept[row][1] for row in kept], corpus_side, store)
    scores = best.numpy()
    if getattr(bridge, "score_calibration_", None) is not None:
        scores = bridge.calibrate_scores(scores)
    return [[kept[row][0] for row in row_hits] for row_hits in hits], scores


def _refuse_other_space(bridge, vectors, corpus_side, store):
    """Refuse hits that the bridge's space check puts in the other space."""
    if bridge.old_width_ != bridge.new_width_ or not vectors:
        return  # the column's width already tells its space
    labels = classify_rows(space_check(bridge), np.stack(vectors))
    other = 0 if corpus_side else 1
    wrong = int(np.sum(labels == other))
    if wrong:
        raise ValueError(
            f"{wrong} of the {len(labels)} stored vectors found look like the "
            f"{'old' if corpus_side else 'new'} space: column {store.column!r} of "
            f"{store.description()} mixes spaces or is not the one this bridge "
            "searches; run sklatent migrate check BRIDGE --store URI"
        )
