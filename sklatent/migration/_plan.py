"""Which stored rows to re-embed first: each row's predicted translation error.

A bridge is worse for some regions of the old space than for others. When
:func:`~sklatent.migration.fit_bridge` fits a corpus-side bridge it measures
each pair's *held-out* error, ``1 - cos(translation, new vector)`` by a bridge
fitted without it (:data:`PLAN_FOLDS`-fold), and keeps the pairs' old vectors
with their errors on the bridge (``pair_errors_``). A stored row's predicted
error is the mean error of its :data:`PLAN_NEIGHBOURS` nearest pairs in the
old space (by cosine); :func:`plan_reembedding` returns the rows of highest
predicted error, whose re-embedding by the new model buys the most retention.
"""

import warnings

import numpy as np
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from ..anchors import AnchorWarning
from ._bridge import MigrationBridge
from ._retention import unit_rows
from ._shadow import open_store
from ._vector_stores import VectorStore

PLAN_NEIGHBOURS = 10
"""Pairs whose held-out errors are averaged into a stored row's prediction."""

PLAN_FOLDS = 5
"""Folds of the pairs' held-out errors."""

PLAN_PAIRS = 2000
"""At most this many pairs (a random sample) are kept on the bridge with their
errors (``PLAN_PAIRS * old_width`` float32 values in the bridge's file)."""


def fit_pair_errors(bridge, X_old, Y_new, *, random_state=0):
    """Each pair's held-out translation error, for the plan: ``pair_errors_``.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted on the pairs, ``direction="old-to-new"``; its method and
        penalty are refitted on each fold.
    X_old, Y_new : ndarray of shape (n_pairs, d_old) and (n_pairs, d_new)
        The pairs (one per item).
    random_state : int, default=0
        Seed of the folds and of the pairs kept beyond :data:`PLAN_PAIRS`.

    Returns
    -------
    dict or None
        ``old_rows`` (float32) and ``errors`` (``1 - cos`` of each pair's
        translation by a bridge fitted on the other folds with its new
        vector); None for a new-to-old bridge (the store is not rewritten).
    """
    if bridge.direction != "old-to-new":
        return None
    errors = np.empty(len(X_old))
    alpha = "gcv" if bridge.alpha_ is None else bridge.alpha_
    folds = KFold(PLAN_FOLDS, shuffle=True, random_state=random_state)
    for train, test in folds.split(X_old):
        fold = MigrationBridge(bridge.method_, alpha=alpha)
        with warnings.catch_warnings():  # a fold's fit says so by its errors
            warnings.simplefilter("ignore", AnchorWarning)
            fold._fit(X_old[train], Y_new[train], space_check=False)
        translated = unit_rows(fold.transform(X_old[test]))
        errors[test] = 1.0 - (translated * unit_rows(Y_new[test])).sum(dim=1).numpy()
    keep = np.arange(len(X_old))
    if len(keep) > PLAN_PAIRS:
        rng = np.random.default_rng(random_state)
        keep = np.sort(rng.choice(len(keep), PLAN_PAIRS, replace=False))
    return {"old_rows": X_old[keep].astype(np.float32), "errors": errors[keep]}


def _pair_errors(bridge):
    check_is_fitted(bridge, "translator_")
    if bridge.direction != "old-to-new":
        raise ValueError(
            "a new-to-old bridge translates queries and leaves the store as it "
            "is: a re-embedding plan needs an old-to-new bridge"
        )
    if getattr(bridge, "pair_errors_", None) is None:
        raise ValueError(
            "this bridge keeps no held-out errors of its pairs (fitted by "
            "MigrationBridge.fit, or saved before bridges kept them): refit it "
            "with fit_bridge (sklatent migrate fit)"
        )
    return bridge.pair_errors_


def predicted_errors(bridge, rows):
    """Each old-space row's predicted translation error through ``bridge``.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted by :func:`~sklatent.migration.fit_bridge`, old-to-new.
    rows : array-like of shape (n, old_width)
        Stored old-space vectors.

    Returns
    -------
    ndarray of shape (n,)
        The mean held-out error (``1 - cos``) of each row's
        :data:`PLAN_NEIGHBOURS` nearest pairs.
    """
    state = _pair_errors(bridge)
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] != bridge.old_width_:
        raise ValueError(
            f"the rows have shape {rows.shape}; the bridge's old space has "
            f"{bridge.old_width_} columns"
        )
    similarity = unit_rows(rows) @ unit_rows(state["old_rows"]).T
    m = min(PLAN_NEIGHBOURS, similarity.shape[1])
    nearest = similarity.topk(m, dim=1).indices.numpy()
    return state["errors"][nearest].mean(axis=1)


def plan_reembedding(bridge, store, budget, *, batch_size=16384):
    """The stored rows worth re-embedding first, highest predicted error first.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted by :func:`~sklatent.migration.fit_bridge`, old-to-new.
    store : array-like of shape (n, old_width), str or VectorStore
        The old store: an array (a memory-mapped one is read ``batch_size``
        rows at a time; the ids are row numbers), or a vector store's URI or
        opened store (its served column; its ids).
    budget : float
        The fraction of the rows to re-embed, in (0, 1]; ``ceil(budget * n)``
        rows are planned.
    batch_size : int, default=16384
        Rows read at a time.

    Returns
    -------
    ids : list
        The planned rows' ids (row numbers for an array), highest predicted
        error first.
    errors : ndarray of shape (n,)
        Every row's predicted error (:func:`predicted_errors`), in store order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import fit_bridge, plan_reembedding
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(size=(300, 8))
    >>> new = np.tanh(old @ rng.normal(size=(8, 8)))
    >>> bridge, _ = fit_bridge(old, new, method="ridge", store_size=300)
    >>> ids, errors = plan_reembedding(bridge, rng.normal(size=(50, 8)), 0.1)
    >>> len(ids), bool(errors[ids[0]] == errors.max())
    (5, True)
    """
    if not 0.0 < float(budget) <= 1.0:  # NaN fails too
        raise ValueError(f"budget must be a fraction in (0, 1]; got {budget!r}")
    _pair_errors(bridge)
    if isinstance(store, (str, VectorStore)):
        store = open_store(store)
        ids, errors = [], []
        for batch in store.read_batches(
            [store.id_column, store.column],
            present=[store.column],
            batch_size=batch_size,
        ):
            ids.extend(batch[store.id_column])
            errors.append(predicted_errors(bridge, batch[store.column]))
    else:
        ids = None
        errors = [
            predicted_errors(bridge, store[start : start + batch_size])
            for start in range(0, len(store), batch_size)
        ]
    errors = np.concatenate(errors) if errors else np.zeros(0)
    n = int(np.ceil(float(budget) * len(errors)))
    order = np.argsort(-errors, kind="stable")[:n]
    return (order.tolist() if ids is None else [ids[i] for i in order]), errors
