"""Fitting a bridge on pairs and measuring it: the report and its gate."""

import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import user_stacklevel
from ..metrics import mean_cosine, mrr, top_k_accuracy
from ._bridge import (
    STABLE_PAIRS_PER_COEFFICIENT,
    MigrationBridge,
    affine_is_stable,
    check_rows,
    item_groups,
)
from ._plan import fit_pair_errors
from ._retention import (
    bridge_retention,
    check_queries,
    estimate_search,
    make_search,
    unit_rows,
)

DEFAULT_STORE_SIZE = 1_000_000
"""The store size an estimate is for when neither a size nor the store is given."""

CALIBRATION_QUANTILE = 0.9
"""The report's fixed threshold for score agreement: the new model's cosine at
this quantile of the held-out (query, item) pairs (the top tenth counts as
similar)."""

AGREEMENT_QUANTILES = (0.5, CALIBRATION_QUANTILE, 0.99)
"""The thresholds, as quantiles of the new model's cosines, the report gives
score agreement at."""

CALIBRATION_QUERIES = 1000
"""At most this many held-out queries (a random sample) give the (query, item)
pairs the calibration is fitted and measured on."""


def _scores(bridge, X_old, Y_new, store_size, queries=None):
    """The report's block for one search: retention estimate and paired metrics."""
    own = make_search(bridge, X_old, Y_new)
    search = own
    if queries is not None:  # the same translated store, searched by the queries
        query_side = bridge is not None and bridge.direction == "new-to-old"
        search = own._replace(
            queries=bridge.transform(queries) if query_side else queries,
            ref_queries=queries,
            own=False,
        )
    est = estimate_search(search, store_size)
    # the paired metrics, on the pairs: translated side first, its counterpart
    if bridge is not None and bridge.direction == "old-to-new":
        A, B = own.store, own.queries
    else:
        A, B = own.queries, own.store
    return {
        "retention_at_10": est["estimate"],
        "retention_at_10_std": est["std"],
        "retention_at_10_central": est["central"],
        "retention_at_10_measured": est["measured"],
        "retention_at_10_measured_std": est["measured_std"],
        "measured_store_size": est["measured_store_size"],
        "retention_curve": est["curve"],
        "retention_queries": "held-out items" if queries is None else len(queries),
        "top1": top_k_accuracy(A, B, k=1),
        "mrr": mrr(A, B),
        "mean_cosine": mean_cosine(A, B),
    }


def fit_bridge(
    X_old,
    Y_new,
    *,
    method="auto",
    direction="old-to-new",
    store_size=None,
    holdout=0.2,
    min_retention=None,
    source_name=None,
    target_name=None,
    random_state=0,
    pool_old=None,
    pool_new=None,
    queries=None,
):
    """Fit a bridge on the pairs, measure it on held-out pairs, and report.

    A fraction ``holdout`` of the pairs is held out; a bridge fitted on the
    rest is measured on them (:func:`estimate_retention`), against the naive
    search (no bridge, when the widths match) and a bridge fitted on the same
    pairs shuffled (a control: if the held-out pairs score no better, they
    are not parallel). The bridge returned is refitted on every pair, with
    the method chosen; it keeps a score calibration (``score_calibration_``,
    :meth:`MigrationBridge.calibrate_scores`) fitted on the held-out pairs
    (:ref:`migration-calibration`) and, old-to-new, the pairs' held-out
    errors that plan which rows to re-embed first (``pair_errors_``,
    :func:`plan_reembedding`).

    Parameters
    ----------
    X_old, Y_new : array-like of shape (n_pairs, d_old) and (n_pairs, d_new)
        The pairs.
    method : {"auto", "orthogonal", "rotation", "affine", "ridge", "regional"}, \
            default="auto"
        See :class:`MigrationBridge`.
    direction : {"old-to-new", "new-to-old"}, default="old-to-new"
        See :class:`MigrationBridge`.
    store_size : int or None, default=None
        Size of the real store the estimate is for; None: the size of
        ``pool_old`` when given, else 1,000,000.
    holdout : float, default=0.2
        Fraction of the pairs held out.
    min_retention : float or None, default=None
        The gate: ``passed`` is False when the estimate is below it (and
        always when the pairs do not look parallel).
    source_name, target_name : str or None, default=None
        Names of the old and new models.
    random_state : int, default=0
        Seed of the held-out split and of the shuffle.
    pool_old, pool_new : array-like of shape (n, d_old) and (m, d_new) or None
        Unpaired vectors of each space (the store; new documents or logged
        queries). Checked for width; ``pool_old``'s size is the default
        ``store_size``. They are not used to fit the map nor in the
        retention measurement: centring on the pools' means instead of the
        pairs' measured no better on our synthetic spaces (and scaling on
        their standard deviations worse), and retention against pool items
        would need their re-embedding, which is what the pairs are. Only
        the rows' count is read (a memory-mapped pool is not loaded).
    queries : array-like of shape (n_queries, d_new) or None, default=None
        New-model vectors of typical queries (logged queries, say; no
        old-model counterpart needed): the retention estimate searches the
        held-out store with them instead of with the held-out items' own
        new-model vectors (see :func:`estimate_retention`), and
        ``method="auto"`` chooses the method by them. Give them when
        the real queries do not look like the stored items, whose own
        vectors then overstate retention (:ref:`migration`).

    Returns
    -------
    bridge : MigrationBridge
        Fitted on all pairs.
    report : dict
        ``method``, ``n_pairs``, ``direction``, ``heldout``, ``naive``,
        ``shuffled``, ``pairs_look_parallel``, ``passed``, names, widths,
        ``alpha``, ``cv_scores``, ``fingerprint``, ``sklatent_version``,
        ``calibration`` (score agreement at a fixed threshold before and
        after the bridge's score calibration: :ref:`migration-calibration`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import fit_bridge
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(size=(500, 8))
    >>> new = old @ rng.normal(size=(8, 8)) + 1.0
    >>> bridge, report = fit_bridge(old, new, method="affine", store_size=1000)
    >>> report["pairs_look_parallel"], report["heldout"]["retention_at_10"] > 0.9
    (True, True)
    """
    X_old = np.asarray(X_old, dtype=np.float64)
    Y_new = np.asarray(Y_new, dtype=np.float64)
    if X_old.ndim != 2 or Y_new.ndim != 2 or len(X_old) != len(Y_new):
        raise ValueError(
            f"the pairs must be two 2-D arrays with as many rows; got shapes "
            f"{X_old.shape} and {Y_new.shape}"
        )
    check_rows(X_old, "old")
    check_rows(Y_new, "new")
    check_min_retention(min_retention)
    n_given = len(X_old)
    X_old, Y_new = unique_items(X_old, Y_new)
    n = len(X_old)
    n_held = int(round(holdout * n))
    if n_held < 12 or n - n_held < 12:
        raise ValueError(
            f"need at least 60 pairs of distinct items to fit and measure a bridge; "
            f"got {n}"
        )
    pool_sizes = {}
    for name, pool, width in (
        ("pool_old", pool_old, X_old.shape[1]),
        ("pool_new", pool_new, Y_new.shape[1]),
    ):
        if pool is None:
            continue
        shape = getattr(pool, "shape", None) or np.shape(pool)
        if len(shape) != 2 or shape[1] != width or shape[0] < 1:
            raise ValueError(
                f"{name} must be a non-empty 2-D array of {width} columns, as its "
                f"side of the pairs; got shape {tuple(shape)}"
            )
        pool_sizes[name] = int(shape[0])
    queries = check_queries(queries, Y_new.shape[1])
    if store_size is None:
        store_size = pool_sizes.get("pool_old", DEFAULT_STORE_SIZE)
    store_size = int(store_size)
    rng = np.random.default_rng(random_state)
    held, train = _split(n, n_held, rng)
    source_width = (X_old if direction == "old-to-new" else Y_new).shape[1]
    if method == "affine" and not affine_is_stable(len(train), source_width):
        raise ValueError(
            f"method 'affine' needs at least {STABLE_PAIRS_PER_COEFFICIENT} pairs "
            f"per coefficient to be fitted stably, "
            f"{STABLE_PAIRS_PER_COEFFICIENT * (source_width + 1)} fitting pairs "
            f"for {source_width}-d inputs; it would fit {len(train)} (measured) "
            f"and {n} (shipped), near the interpolation threshold where the two "
            "differ wildly: use method 'ridge', 'orthogonal' or 'auto', or more "
            "pairs"
        )
    params = dict(
        direction=direction,
        source_name=source_name,
        target_name=target_name,
        random_state=random_state,
    )
    # the measured bridges are dropped: they need no space check
    probe = MigrationBridge(method, **params)._fit(
        X_old[train], Y_new[train], queries, space_check=False
    )
    heldout = _scores(probe, X_old[held], Y_new[held], store_size, queries)
    # the control: the same bridge (method and penalty) on shuffled pairs
    alpha = "gcv" if probe.alpha_ is None else probe.alpha_
    shuffled_bridge = MigrationBridge(probe.method_, alpha=alpha, **params)._fit(
        X_old[train], Y_new[train][rng.permutation(len(train))], space_check=False
    )
    shuffled = _scores(shuffled_bridge, X_old[held], Y_new[held], store_size, queries)
    bridge = MigrationBridge(probe.method_ if method == "auto" else method, **params)
    bridge.fit(X_old, Y_new)
    bridge.cv_scores_ = probe.cv_scores_
    bridge.score_calibration_, calibration = fit_calibration(
        make_search(probe, X_old[held], Y_new[held], queries), rng
    )
    bridge.pair_errors_ = fit_pair_errors(
        bridge, X_old, Y_new, random_state=random_state
    )
    report = {
        "requested_method": method,
        "cv_scores": probe.cv_scores_,
        "linear": True,
        "n_heldout": len(held),
        "duplicate_pairs": n_given - n,
        "old_width": X_old.shape[1],
        "new_width": Y_new.shape[1],
        "pool_old_size": pool_sizes.get("pool_old"),
        "pool_new_size": pool_sizes.get("pool_new"),
        "calibration": calibration,
        **_verdict(
            bridge,
            X_old[held],
            Y_new[held],
            heldout,
            shuffled,
            n_pairs=n_given,
            store_size=store_size,
            min_retention=min_retention,
            queries=queries,
        ),
    }
    return bridge, report


def _score_pairs(search, rng):
    """Bridged and new-model cosines of a search's (query, item) pairs.

    Returns ``(bridged, new, keep)``: the two cosine matrices of at most
    :data:`CALIBRATION_QUERIES` queries by the stored items, and the mask of
    the pairs to use (a query is not paired with itself).
    """
    n = len(search.queries)
    rows = np.arange(n)
    if n > CALIBRATION_QUERIES:
        rows = np.sort(rng.choice(n, CALIBRATION_QUERIES, replace=False))
    bridged, new = (
        (unit_rows(Q[rows]) @ unit_rows(S).T).numpy()
        for Q, S in (
            (search.queries, search.store),
            (search.ref_queries, search.ref_store),
        )
    )
    keep = np.ones(bridged.shape, dtype=bool)
    if search.own:
        keep[np.arange(len(rows)), rows] = False
    return bridged, new, keep


def _isotonic(bridged, new):
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(out_of_bounds="clip").fit(bridged, new)


def score_agreement(bridged, new, calibrated):
    """The report's ``calibration`` block: threshold agreement before and after.

    At a threshold ``t``, the new model's cosine at a quantile of the pairs,
    agreement is the share of pairs on which ``score >= t`` equals
    ``new >= t``: before calibration the score is the bridged cosine, after
    it the calibrated one. ``constant`` is the agreement of the best constant
    answer (every pair similar, or none), the floor any score should beat.

    Parameters
    ----------
    bridged, new, calibrated : ndarray of shape (n_pairs,)
        The bridged, new-model and calibrated cosines of the same pairs.

    Returns
    -------
    dict
        ``quantile`` (:data:`CALIBRATION_QUANTILE`), ``threshold``,
        ``agreement_before``, ``agreement_after``, ``agreement_constant``
        at it; ``by_quantile`` (the same at each of
        :data:`AGREEMENT_QUANTILES`); the mean of each cosine and
        ``n_score_pairs``.
    """
    by_quantile = {}
    for q in AGREEMENT_QUANTILES:
        t = float(np.quantile(new, q))
        similar = new >= t
        share = float(np.mean(similar))
        by_quantile[str(q)] = {
            "threshold": t,
            "before": float(np.mean((bridged >= t) == similar)),
            "after": float(np.mean((calibrated >= t) == similar)),
            "constant": max(share, 1.0 - share),
        }
    fixed = by_quantile[str(CALIBRATION_QUANTILE)]
    return {
        "quantile": CALIBRATION_QUANTILE,
        "threshold": fixed["threshold"],
        "agreement_before": fixed["before"],
        "agreement_after": fixed["after"],
        "agreement_constant": fixed["constant"],
        "by_quantile": by_quantile,
        "mean_cosine_bridged": float(np.mean(bridged)),
        "mean_cosine_calibrated": float(np.mean(calibrated)),
        "mean_cosine_new": float(np.mean(new)),
        "n_score_pairs": int(len(new)),
    }


def fit_calibration(search, rng):
    """Fit the score calibration on held-out pairs and measure it honestly.

    The (query, item) pairs of ``search`` (a bridge fitted on other pairs)
    give bridged and new-model cosines. The queries are split in two halves:
    a calibration fitted on each half's pairs scores the other half's, and
    agreement after calibration is measured on those out-of-half scores;
    the calibration returned is fitted on all the pairs.

    Returns
    -------
    knots : dict
        ``{"cosine": ..., "calibrated": ...}``, the isotonic regression's
        knots (a bridge's ``score_calibration_``).
    report : dict
        :func:`score_agreement`'s block.
    """
    bridged, new, keep = _score_pairs(search, rng)
    calibrated = np.empty_like(bridged)
    halves = np.array_split(rng.permutation(len(bridged)), 2)
    for fit_rows, score_rows in (halves, halves[::-1]):
        iso = _isotonic(
            bridged[fit_rows][keep[fit_rows]], new[fit_rows][keep[fit_rows]]
        )
        calibrated[score_rows] = iso.predict(bridged[score_rows].ravel()).reshape(
            len(score_rows), -1
        )
    full = _isotonic(bridged[keep], new[keep])
    knots = {"cosine": full.X_thresholds_, "calibrated": full.y_thresholds_}
    return knots, score_agreement(bridged[keep], new[keep], calibrated[keep])


def _split(n, n_held, rng):
    """``(held, train)``: a random ``n_held`` of ``n`` rows held out, the rest."""
    order = rng.permutation(n)
    return order[:n_held], order[n_held:]


def unique_items(X_old, Y_new, *, warn=True):
    """The pairs with one pair per item: copies dropped (with a warning).

    Copies of an item (rows sharing an old or a new vector,
    :func:`item_groups`) would sit on both sides of a held-out split, and
    among the held-out items each other's neighbours: both inflate the
    measured retention. The first pair of each item is kept.
    """
    first = np.unique(item_groups(X_old, Y_new), return_index=True)[1]
    if len(first) < len(X_old) and warn:
        warnings.warn(
            f"{len(X_old) - len(first)} of the {len(X_old)} pairs repeat an item "
            "already among them (the same old or new vector): each item is fitted "
            "and measured once",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return X_old[first], Y_new[first]


def check_min_retention(min_retention):
    """The gate's threshold: None, or a retention in [0, 1]."""
    if min_retention is not None and not (0.0 <= float(min_retention) <= 1.0):
        raise ValueError(
            f"min_retention must be a retention between 0 and 1; got {min_retention!r}"
        )


def pairs_curve(
    X_old, Y_new, *, method, direction="old-to-new", holdout=0.2, random_state=0
):
    """Held-out retention of bridges fitted on growing numbers of the pairs.

    The pairs are split as :func:`fit_bridge` splits them (the same
    ``holdout`` and ``random_state``); bridges of ``method`` are fitted on
    1/8, 1/4, 1/2 and all of the training part (at least 30 pairs; ridge's
    penalty chosen afresh at each size) and measured on the held-out pairs
    (:func:`bridge_retention`, leave-self-out).

    Parameters
    ----------
    X_old, Y_new : array-like of shape (n_pairs, d_old) and (n_pairs, d_new)
        The pairs.
    method : {"orthogonal", "rotation", "affine", "ridge", "regional"}
        The bridge's method (``"auto"`` would choose afresh at each size).
    direction : {"old-to-new", "new-to-old"}, default="old-to-new"
        See :class:`MigrationBridge`.
    holdout : float, default=0.2
        Fraction of the pairs held out.
    random_state : int, default=0
        Seed of the split.

    Returns
    -------
    dict
        Pairs used (as a string, for JSON) -> mean held-out retention@10.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import pairs_curve
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(size=(400, 8))
    >>> curve = pairs_curve(old, old @ rng.normal(size=(8, 8)), method="affine")
    >>> list(curve)
    ['40', '80', '160', '320']
    """
    X_old = np.asarray(X_old, dtype=np.float64)
    Y_new = np.asarray(Y_new, dtype=np.float64)
    X_old, Y_new = unique_items(X_old, Y_new, warn=False)
    n = len(X_old)
    held, train = _split(
        n, int(round(holdout * n)), np.random.default_rng(random_state)
    )
    curve = {}
    for m in sorted({max(30, len(train) // d) for d in (8, 4, 2, 1)}):
        if m > len(train):
            continue
        bridge = MigrationBridge(method, direction=direction).fit(
            X_old[train[:m]], Y_new[train[:m]]
        )
        curve[str(m)] = float(bridge_retention(bridge, X_old[held], Y_new[held]).mean())
    return curve


def _looks_parallel(heldout, shuffled):
    """Held-out retention above the shuffled control's by two standard errors."""
    se = np.hypot(
        heldout["retention_at_10_measured_std"],
        shuffled["retention_at_10_measured_std"],
    )
    return bool(
        heldout["retention_at_10_measured"]
        > shuffled["retention_at_10_measured"] + 2 * se
    )


def measure_bridge(
    bridge, X_old, Y_new, *, store_size=None, min_retention=None, queries=None
):
    """Measure a fitted bridge on pairs it was not fitted on; a report dict.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted.
    X_old, Y_new : array-like
        Pairs the bridge has not seen.
    store_size : int or None, default=None
        As in :func:`fit_bridge`.
    min_retention : float or None, default=None
        The gate.
    queries : array-like of shape (n_queries, d_new) or None, default=None
        As in :func:`fit_bridge`.

    Returns
    -------
    dict
        The keys of :func:`fit_bridge`'s report (``shuffled`` is the
        bridge's retention with the pairs' rows shuffled; ``calibration``
        scores these pairs with the bridge's own calibration, None for a
        bridge without one).
    """
    check_is_fitted(bridge, "translator_")
    X_old = np.asarray(X_old, dtype=np.float64)
    Y_new = np.asarray(Y_new, dtype=np.float64)
    if X_old.shape[1] != bridge.old_width_ or Y_new.shape[1] != bridge.new_width_:
        raise ValueError(
            f"the bridge maps {bridge.old_width_}-d old vectors and "
            f"{bridge.new_width_}-d "
            f"new ones; got {X_old.shape[1]} and {Y_new.shape[1]} columns"
        )
    if len(X_old) < 12 or len(X_old) != len(Y_new):
        raise ValueError(
            "need at least 12 pairs (row i of each side the same item) to measure "
            f"a bridge; got {len(X_old)} and {len(Y_new)} rows"
        )
    check_min_retention(min_retention)
    store_size = DEFAULT_STORE_SIZE if store_size is None else int(store_size)
    queries = check_queries(queries, bridge.new_width_)
    heldout = _scores(bridge, X_old, Y_new, store_size, queries)
    perm = np.random.default_rng(0).permutation(len(X_old))
    shuffled = _scores(bridge, X_old, Y_new[perm], store_size, queries)
    report = _verdict(
        bridge,
        X_old,
        Y_new,
        heldout,
        shuffled,
        n_pairs=len(X_old),
        store_size=store_size,
        min_retention=min_retention,
        queries=queries,
    )
    calibration = None
    if getattr(bridge, "score_calibration_", None) is not None:
        bridged, new, keep = _score_pairs(
            make_search(bridge, X_old, Y_new, queries), np.random.default_rng(0)
        )
        bridged, new = bridged[keep], new[keep]
        calibration = score_agreement(bridged, new, bridge.calibrate_scores(bridged))
    return {**report, "n_pairs_fitted": bridge.n_pairs_, "calibration": calibration}


def _verdict(
    bridge,
    X_old,
    Y_new,
    heldout,
    shuffled,
    *,
    n_pairs,
    store_size,
    min_retention,
    queries=None,
):
    """The report's common part: the naive baseline, parallelism and the gate.

    Warns when the held-out pairs score no better than shuffled ones.
    """
    naive = None
    if X_old.shape[1] == Y_new.shape[1]:
        naive = _scores(None, X_old, Y_new, store_size, queries)
    parallel = _looks_parallel(heldout, shuffled)
    if not parallel:
        warnings.warn(
            "the held-out pairs score no better than shuffled pairs "
            f"(retention@10 {heldout['retention_at_10_measured']:.3f} vs "
            f"{shuffled['retention_at_10_measured']:.3f}): row i of the old and new "
            "embeddings do not look like the same item",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    passed = parallel and (
        min_retention is None or heldout["retention_at_10"] >= min_retention
    )
    return {
        "method": bridge.method_,
        "alpha": bridge.alpha_,
        "n_pairs": n_pairs,
        "direction": bridge.direction,
        "store_size": store_size,
        "heldout": heldout,
        "naive": naive,
        "shuffled": shuffled,
        "pairs_look_parallel": parallel,
        "min_retention": min_retention,
        "passed": bool(passed),
        "source_name": bridge.source_name,
        "target_name": bridge.target_name,
        "fingerprint": bridge.fingerprint_,
        "sklatent_version": bridge.sklatent_version_,
    }
