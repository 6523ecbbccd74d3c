"""Retention@k of a bridge, and its estimate at the size of the real store."""

import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
import torch

from .. import _kernels
from .._kernels.retrieval import prepare_candidates
from .._sklearn_compat import user_stacklevel
from ..metrics._retrieval import count_shared_neighbours

_FLOOR = 1e-3  # retention below this is read as this, in logarithms


def unit_rows(Z):
    """Unit rows in float64 by the kernels' one overflow-safe norm."""
    Z = np.require(Z, dtype=np.float64, requirements=["C", "W"])  # torch needs writable
    return _kernels.unit_rows(torch.from_numpy(Z))


def retention_at_k(
    queries, store, ref_queries, ref_store, k=10, *, exclude_self=False, batch_size=None
):
    """Per-query overlap of k-nearest stored items, by cosine, with a reference.

    Each search keeps, for every query, the ``k`` stored items of highest
    cosine, ties going to the lower row (as a stable sort would): the sets
    are exact and deterministic. Queries are scored a block at a time
    against the whole store (:mod:`sklatent._kernels.retrieval`), so memory
    is O((n_queries + n_store) d + batch_size * n_store), never a full
    query x store matrix.

    Parameters
    ----------
    queries, store : array-like of shape (n_queries, d) and (n_store, d)
        The search through the bridge (e.g. new-model queries and the
        translated store).
    ref_queries, ref_store : array-like of shape (n_queries, d') and (n_store, d')
        The reference search (new-model queries, re-embedded store).
    k : int, default=10
        Neighbours compared, at most ``n_store`` (``n_store - 1`` with
        ``exclude_self``).
    exclude_self : bool, default=False
        Whether query ``i`` is stored item ``i`` and must not count.
    batch_size : int or None, default=None
        Query rows per block; None sizes blocks by the memory available.

    Returns
    -------
    ndarray of shape (n_queries,)
        :math:`|A_i \\cap B_i| / k` for each query.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import retention_at_k
    >>> rng = np.random.default_rng(0)
    >>> Q, S = rng.normal(size=(5, 3)), rng.normal(size=(20, 3))
    >>> retention_at_k(Q, S, Q, S, k=4).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    searches = [
        (unit_rows(queries), unit_rows(store)),
        (unit_rows(ref_queries), unit_rows(ref_store)),
    ]
    n, m = searches[0][0].shape[0], searches[0][1].shape[0]
    if searches[1][0].shape[0] != n or searches[1][1].shape[0] != m:
        raise ValueError(
            "the two searches need as many queries and stored items; got "
            f"{n} and {searches[1][0].shape[0]} queries, {m} and "
            f"{searches[1][1].shape[0]} stored items"
        )
    if exclude_self and n > m:
        raise ValueError(
            f"exclude_self needs query i to be stored item i; got {n} queries and "
            f"{m} stored items"
        )
    most = m - 1 if exclude_self else m
    if not (isinstance(k, Integral) and 1 <= k <= most):
        raise ValueError(f"k must be an integer between 1 and {most}; got {k!r}")
    row_bytes = 2 * m * (8 + 1) + 2 * 8 * searches[0][0].shape[1]
    # each search: its query rows by slice, against its prepared store
    searches = [(Q.__getitem__, prepare_candidates(S, "cosine")) for Q, S in searches]
    shared = count_shared_neighbours(
        searches,
        n,
        k,
        exclude_self=exclude_self,
        batch_size=batch_size,
        row_bytes=row_bytes,
    )
    return shared / k


def bridge_retention(bridge, X_old, Y_new, *, k=10, rows=None, queries=None):
    """Retention@k of ``bridge`` on held-out pairs, the held-out items the store.

    By default each held-out item is a new-model query against the other
    held-out items as the store (leave-self-out). ``queries`` (new-model
    vectors of typical queries, such as logged ones) are searched instead
    when given. ``rows`` restricts to a subset of the store (and of the
    queries, when they are the held-out items). ``bridge`` may be None: the
    naive search, new-model queries straight against the old store (needs
    equal widths).
    """
    return search_retention(make_search(bridge, X_old, Y_new, queries), k, rows)


class Search(NamedTuple):
    """A search through the bridge and its reference, each translated once.

    The bridged search is ``queries`` against ``store``; the reference
    ``ref_queries`` against ``ref_store`` (the new-model queries against the
    re-embedded store). ``own``: query ``i`` is stored item ``i``, left out
    of its own search.
    """

    queries: np.ndarray
    store: np.ndarray
    ref_queries: np.ndarray
    ref_store: np.ndarray
    own: bool


def make_search(bridge, X_old, Y_new, queries=None):
    """The :class:`Search` of ``bridge`` on the pairs, by ``queries`` or their own."""
    own = queries is None
    Q = Y_new if own else queries
    if bridge is None:
        return Search(Q, X_old, Q, Y_new, own)
    if bridge.direction == "old-to-new":
        return Search(Q, bridge.transform(X_old), Q, Y_new, own)
    return Search(bridge.transform(Q), X_old, Q, Y_new, own)


def search_retention(search, k=10, rows=None):
    if rows is not None:
        search = search._replace(
            store=search.store[rows], ref_store=search.ref_store[rows]
        )
        if search.own:  # the queries are the stored items
            search = search._replace(
                queries=search.queries[rows], ref_queries=search.ref_queries[rows]
            )
    m = len(search.store)
    k = min(k, m - 1 if search.own else m)
    return retention_at_k(*search[:4], k, exclude_self=search.own)


def estimate_retention(
    bridge, X_old, Y_new, store_size, *, k=10, n_repeats=5, seed=0, queries=None
):
    """Estimate retention@k at ``store_size`` from held-out pairs.

    Retention is measured on random subsets of the ``h`` held-out pairs of
    sizes ``h/4``, ``h/2`` and on all ``h`` (each subset both the store and
    the queries, leave-self-out; or the store searched by ``queries``).
    Retention falls as a store grows, since neighbourhoods get finer than
    the bridge's error; on the spaces we measured it fell by a near-constant
    *factor* per doubling of the store (a power law), so a line is fitted
    to log retention against log store
    size and read at ``store_size``.

    This is an extrapolation, and only as good as that power law (how it
    compares with a straight line in retention is measured in
    :ref:`migration`). Reading it more than about a hundred
    times beyond ``h`` is a guess; the uncertainty returned combines the
    standard error of the measurement at ``h`` with that of the slope times
    the distance extrapolated (in log size), so it grows with that distance.

    Parameters
    ----------
    bridge : MigrationBridge or None
        A bridge fitted on other pairs; None for the naive search.
    X_old, Y_new : array-like
        The held-out pairs.
    store_size : int
        The size of the real store.
    k : int, default=10
        Neighbours compared.
    n_repeats : int, default=5
        Random subsets per size.
    seed : int, default=0
        Seed of the subsets.
    queries : array-like of shape (n_queries, d_new) or None, default=None
        New-model vectors of typical queries (logged ones, say) to search the
        held-out store with; None searches it with the held-out items' own
        new-model vectors. Queries need no old-model counterpart: both
        searches start from the new model's query. When the real queries are
        not distributed like the stored items (short questions against long
        documents), the held-out items' own vectors overstate retention;
        see :ref:`migration`.

    The ``estimate`` returned is the power law's value less one ``std``
    (``central`` is the value itself): the gate errs on the side of not
    shipping.

    Returns
    -------
    dict
        ``estimate``, ``central``, ``std`` (its uncertainty), ``measured`` (at ``h``),
        ``measured_std``, ``store_size`` and ``curve`` (the sizes and mean
        retentions measured).
    """
    search = make_search(bridge, X_old, Y_new, queries)
    return estimate_search(search, store_size, k, n_repeats, seed)


def estimate_search(search, store_size, k=10, n_repeats=5, seed=0):
    h = len(search.store)
    rng = np.random.default_rng(seed)
    full = search_retention(search, k)
    measured = float(full.mean())
    # The standard error over the queries, counting no more of them than
    # stored items: given queries all search the one sample of h items.
    n_eff = min(len(full), h)
    measured_std = float(full.std(ddof=1) / np.sqrt(n_eff)) if n_eff > 1 else 0.0
    xs, ys = [np.log(h)], [np.log(max(measured, _FLOOR))]
    curve = {h: measured}
    for m in sorted({h // 4, h // 2}):
        if m <= 2 * k or m >= h:
            continue
        for _ in range(n_repeats):
            rows = rng.choice(h, m, replace=False)
            value = float(search_retention(search, k, rows).mean())
            xs.append(np.log(m))
            ys.append(np.log(max(value, _FLOOR)))
            curve[m] = curve.get(m, 0.0) + value / n_repeats
    slope, slope_se = 0.0, 0.0
    if len(set(xs)) >= 2:
        xs, ys = np.asarray(xs), np.asarray(ys)
        slope, intercept = np.polyfit(xs, ys, 1)
        slope = min(float(slope), 0.0)  # retention does not grow with the store
        resid = ys - (intercept + slope * xs)
        spread = np.sum((xs - xs.mean()) ** 2)
        slope_se = float(np.sqrt(np.sum(resid**2) / max(len(xs) - 2, 1) / spread))
    distance = max(np.log(store_size) - np.log(h), 0.0)
    central = float(np.clip(measured * np.exp(slope * distance), 0.0, 1.0))
    # delta method on log retention: the measurement's and the slope's errors
    std = float(
        central * np.hypot(measured_std / max(measured, _FLOOR), slope_se * distance)
    )
    if len(set(xs)) < 2 and distance > 0:
        # One store size measured: no slope, nothing to extrapolate with (and
        # 10 of ~20 items is half the store: retention near 0.5 by chance;
        # :ref:`migration` has the figures).
        std = central
        warnings.warn(
            f"{h} held-out items are too few to extrapolate retention@{k} to a "
            f"store of {int(store_size):,} (more than {4 * k + 1} are needed): "
            "the estimate is 0; fit on more pairs",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    # One standard deviation below the central value: overstating retention
    # is the costlier error (it ships a bridge that should not ship).
    estimate = max(central - std, 0.0)
    return {
        "estimate": estimate,
        "central": central,
        "std": std,
        "measured": float(full.mean()),
        "measured_std": measured_std,
        "measured_store_size": h,
        "store_size": int(store_size),
        "curve": {str(m): float(v) for m, v in sorted(curve.items())},
    }


def check_queries(queries, width):
    """The estimate's queries as float64, checked; None stays None.

    A query must be a finite, non-zero vector of the new model's width: a
    row of NaN or of zeros has no direction, and would be searched as a tie
    of every stored item.
    """
    if queries is None:
        return None
    queries = np.asarray(queries, dtype=np.float64)
    if queries.ndim != 2 or queries.shape[1] != width or len(queries) < 1:
        raise ValueError(
            f"queries must be a non-empty 2-D array of {width} columns (new-model "
            f"vectors); got shape {queries.shape}"
        )
    for bad, what in (
        (~np.isfinite(queries).all(axis=1), "NaN or infinite values"),
        (~queries.any(axis=1), "only zeros (no direction)"),
    ):
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"{len(rows)} of the {len(queries)} queries hold {what}, the first "
                f"row {rows[0]}: a query must be a finite, non-zero new-model "
                "vector; drop those rows"
            )
    return queries
