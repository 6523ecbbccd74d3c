"""The bridge estimator: a map between an old and a new embedding model."""

import hashlib
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

from .. import _version
from .._sklearn_compat import Interval, StrOptions, _fit_context, validate_data
from .._translation import LatentTranslator
from .._translation_solve import fold_affine, gcv_alpha
from ..anchors import AnchorWarning
from ._regions import RegionalTranslator, region_count
from ._retention import bridge_retention, check_queries
from ._spaces import fit_space_check

METHODS = ("orthogonal", "rotation", "affine", "ridge", "regional")
DIRECTIONS = ("old-to-new", "new-to-old")

STABLE_PAIRS_PER_COEFFICIENT = 2
"""Least squares without a penalty (``"affine"``) is fitted only on at least this
many pairs per coefficient of one output (the source width plus one): near one
pair per coefficient (the interpolation threshold) its error explodes, and a
fit on a few more or fewer pairs differs wildly (:ref:`migration`)."""

EXTREME_ROW_FACTOR = 1e6
"""A pair's row whose norm exceeds this many times the median row norm of its
side is refused: one such row moves the mean every other row is centred on."""


def item_groups(X, Y):
    """Group the pairs by item: rows sharing an old or a new vector are one item.

    Copies of one item (the same text embedded twice) must fall on one side
    of a held-out split, or the held-out measurement sees items the fit saw.

    Parameters
    ----------
    X, Y : ndarray of shape (n_pairs, d_old) and (n_pairs, d_new)
        The pairs.

    Returns
    -------
    ndarray of shape (n_pairs,)
        Item label of each pair, ``0 .. n_items - 1`` in the order of each
        item's first pair (pair ``i`` is item ``i`` when there are no copies).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(X)
    _, gx = np.unique(np.ascontiguousarray(X), axis=0, return_inverse=True)
    _, gy = np.unique(np.ascontiguousarray(Y), axis=0, return_inverse=True)
    gx, gy = gx.ravel(), gy.ravel()
    nx = int(gx.max(initial=-1)) + 1
    size = nx + int(gy.max(initial=-1)) + 1
    edges = coo_matrix((np.ones(n), (gx, gy + nx)), shape=(size, size))
    _, labels = connected_components(edges, directed=False)
    labels = labels[gx]
    # number the items in the order of their first row: without copies,
    # pair i is item i
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.ravel()]


def affine_is_stable(n_pairs, width):
    """Whether ``n_pairs`` determine an unpenalised affine map of ``width`` inputs
    stably (see :data:`STABLE_PAIRS_PER_COEFFICIENT`)."""
    return n_pairs >= STABLE_PAIRS_PER_COEFFICIENT * (width + 1)


def check_rows(Z, side):
    """Refuse a row of ``Z`` far beyond the others (see :data:`EXTREME_ROW_FACTOR`)."""
    norms = np.sqrt(np.einsum("ij,ij->i", Z, Z, dtype=np.float64))
    positive = norms[norms > 0]
    if not len(positive):
        return
    median = float(np.median(positive))
    far = np.flatnonzero(norms > EXTREME_ROW_FACTOR * median)
    if len(far):
        row = int(far[np.argmax(norms[far])])
        raise ValueError(
            f"row {row} of the {side} pairs has norm {norms[row]:.3g}, "
            f"{norms[row] / median:.3g} times the median row's ({len(far)} such "
            "row(s)): one extreme row moves the mean every other row is centred "
            "on; remove it or re-embed that item"
        )


#: Most regions of a ``"regional"`` bridge (fewer when the pairs cannot fill them).
REGIONS = 16


def _translator(method, alpha, random_state):
    if method == "regional":
        return RegionalTranslator(REGIONS, alpha=alpha, random_state=random_state)
    if method in ("orthogonal", "rotation"):
        scale = method == "orthogonal"
        return LatentTranslator(method="orthogonal", normalize="center", scale=scale)
    if method == "affine":
        return LatentTranslator(method="affine")
    return LatentTranslator(method="ridge", alpha=alpha)


def fingerprint(X, Y):
    """Short SHA-256 fingerprint of a pair of arrays (their float32 bytes)."""
    digest = hashlib.sha256()
    for Z in (X, Y):
        Z = np.ascontiguousarray(Z, dtype=np.float32)
        digest.update(str(Z.shape).encode())
        for start in range(0, Z.shape[0], 65536):
            digest.update(Z[start : start + 65536].tobytes())
    return digest.hexdigest()[:16]


class MigrationBridge(TransformerMixin, BaseEstimator):
    """A map between an old and a new embedding model, fitted on parallel pairs.

    :meth:`fit` takes the same items embedded by the old model (``X``) and
    the new model (``y``); :meth:`transform` maps ``direction``: old-space
    vectors into the new space (``"old-to-new"``, translate the store), or
    new-space vectors into the old space (``"new-to-old"``, translate the
    queries). The map is a :class:`~sklatent.LatentTranslator`, kept as
    ``translator_``.

    Parameters
    ----------
    method : {"auto", "orthogonal", "rotation", "affine", "ridge", "regional"}, \
            default="auto"
        The map: ``"orthogonal"`` is a scaled rotation between the centred
        spaces; ``"rotation"`` the same rotation unscaled (the translated
        vectors keep their spread about the target's mean, where the scale,
        fitted by least squares, shrinks them towards it, which costs
        translated queries retention: :ref:`migration`); ``"affine"`` least
        squares with an intercept;
        ``"ridge"`` affine with the penalty ``alpha`` on standardised spaces;
        ``"regional"`` one ridge map per k-means region of the source space
        (at most :data:`REGIONS`), blended by soft assignment
        (:class:`RegionalTranslator`; not affine, so no FAISS export);
        ``"auto"`` picks, among these five, the one with the best cross-validated
        held-out retention@10 on the pairs (folds split by item:
        :func:`item_groups`; ``affine`` only where the folds hold enough pairs
        to fit it stably, :data:`STABLE_PAIRS_PER_COEFFICIENT`, ``regional``
        only where they fill two regions so, :func:`region_count`;
        ``orthogonal`` for fewer distinct items than
        ``10 * cv``).
    alpha : float or "gcv", default="gcv"
        Ridge penalty; ``"gcv"`` chooses it by the closed-form leave-one-out
        error (:func:`gcv_alpha`), as :class:`~sklearn.linear_model.RidgeCV`.
    direction : {"old-to-new", "new-to-old"}, default="old-to-new"
        What :meth:`transform` maps.
    source_name, target_name : str or None, default=None
        Names of the old and new models, recorded with the bridge.
    cv : int, default=3
        Folds of the cross-validation of ``method="auto"``.
    random_state : int or None, default=None
        Seed of the folds.

    Attributes
    ----------
    translator_ : LatentTranslator or RegionalTranslator
        The fitted map, from the ``direction``'s source to its target.
    method_ : str
        The method used (the one chosen, for ``"auto"``).
    alpha_ : float or None
        The ridge penalty used; None for other methods.
    cv_scores_ : dict
        Mean cross-validated retention@10 of each method, for ``"auto"``.
    n_pairs_ : int
        Number of pairs fitted on.
    old_width_, new_width_ : int
        Widths of the old and new spaces.
    fingerprint_ : str
        SHA-256 prefix of the pairs (see :func:`fingerprint`).
    score_calibration_ : dict or None
        The monotone map from bridged cosines to the new model's, fitted by
        :func:`~sklatent.migration.fit_bridge` on the held-out pairs:
        ``{"cosine": knots, "calibrated": values}``, the knots of an
        increasing :class:`~sklearn.isotonic.IsotonicRegression`; see
        :meth:`calibrate_scores`. None when fitted by :meth:`fit` alone (no
        held-out pairs).
    pair_errors_ : dict or None
        The pairs' held-out translation errors, from which a stored row's
        predicted error is read (:func:`~sklatent.migration.plan_reembedding`):
        ``{"old_rows": ..., "errors": ...}``, fitted by
        :func:`~sklatent.migration.fit_bridge` for an old-to-new bridge; None
        otherwise.
    space_check_ : dict or None
        Which space a vector is in, fitted on the pairs' two sides
        (:func:`~sklatent.migration.fit_space_check`): what
        :func:`~sklatent.migration.check_store` uses, so a store is checked
        with the bridge alone. None when the widths differ (a store's width
        tells its space) or for fewer than 10 pairs.
    sklatent_version_ : str
        Version of sklatent that fitted the bridge.
    n_features_in_ : int
        Width of :meth:`transform`'s input.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import MigrationBridge
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(size=(200, 8))
    >>> new = np.tanh(old @ rng.normal(size=(8, 6))) + 3.0
    >>> bridge = MigrationBridge(method="affine").fit(old, new)
    >>> bridge.transform(old[:2]).shape
    (2, 6)
    """

    # Class path kept where it was before the package split: pickles, skops
    # files and trust lists name ``sklatent.migration.MigrationBridge``.
    __module__ = "sklatent.migration"

    _parameter_constraints: dict = {
        "method": [StrOptions({"auto", *METHODS})],
        "alpha": [StrOptions({"gcv"}), Interval(Real, 0, None, closed="left")],
        "direction": [StrOptions(set(DIRECTIONS))],
        "source_name": [str, None],
        "target_name": [str, None],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="auto",
        *,
        alpha="gcv",
        direction="old-to-new",
        source_name=None,
        target_name=None,
        cv=3,
        random_state=None,
    ):
        self.method = method
        self.alpha = alpha
        self.direction = direction
        self.source_name = source_name
        self.target_name = target_name
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y, queries=None):
        """Fit the bridge on the pairs ``(X[i], y[i])``.

        Parameters
        ----------
        X : array-like of shape (n_pairs, old_width)
            The items embedded by the old model.
        y : array-like of shape (n_pairs, new_width) or (n_pairs,)
            The same items embedded by the new model.
        queries : array-like of shape (n_queries, new_width) or None, default=None
            New-model vectors of typical queries (logged ones, say): with
            ``method="auto"`` each fold's held-out items are searched with
            them instead of with their own new-model vectors (see
            :func:`estimate_retention`), so the method is chosen for the
            queries it will serve. Not row-aligned with the pairs; unused by
            the other methods.

        Returns
        -------
        self : MigrationBridge
            The fitted bridge.
        """
        return self._fit(X, y, queries)

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit(self, X, y, queries=None, *, space_check=True):
        """:meth:`fit`; ``space_check=False`` leaves ``space_check_`` None (the
        bridges of a cross-validation, or measured and dropped, never check a
        store)."""
        X, Y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=[np.float64, np.float32],
        )
        Y = Y.reshape(len(Y), -1)
        check_rows(X, "old")
        check_rows(Y, "new")
        source, target = (X, Y) if self.direction == "old-to-new" else (Y, X)
        self.old_width_, self.new_width_ = X.shape[1], Y.shape[1]
        self.n_pairs_ = X.shape[0]
        self.fingerprint_ = fingerprint(X, Y)
        self.sklatent_version_ = _version.__version__
        self.cv_scores_ = {}
        method = self.method
        if method == "auto":
            items = item_groups(X, Y)
            if items.max(initial=-1) + 1 < 10 * self.cv:  # too few distinct items
                method = "orthogonal"
            else:
                queries = check_queries(queries, Y.shape[1])
                self.cv_scores_ = self._cross_validate(X, Y, items, queries)
                method = max(self.cv_scores_, key=self.cv_scores_.get)
        self.method_ = method
        self.alpha_ = None
        if method == "ridge":
            self.alpha_ = (
                gcv_alpha(source, target) if self.alpha == "gcv" else float(self.alpha)
            )
        self.translator_ = _translator(
            method,
            self.alpha if self.alpha_ is None else self.alpha_,
            self.random_state,
        ).fit(source, target)
        # fit_bridge fits these on held-out pairs
        self.score_calibration_ = self.pair_errors_ = None
        self.space_check_ = fit_space_check(X, Y) if space_check else None
        if self.direction == "new-to-old":
            self.n_features_in_ = Y.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        return self

    def _cross_validate(self, X, Y, items, queries=None):
        folds = GroupKFold(self.cv, shuffle=True, random_state=self.random_state)
        splits = list(folds.split(X, groups=items))
        width = (X if self.direction == "old-to-new" else Y).shape[1]
        fewest = min(len(np.unique(items[train])) for train, _ in splits)
        stable = {
            "affine": affine_is_stable(fewest, width),
            "regional": region_count(fewest, width, REGIONS) >= 2,
        }
        candidates = [m for m in METHODS if stable.get(m, True)]
        scores = {m: [] for m in candidates}
        for train, test in splits:
            for method in candidates:
                bridge = MigrationBridge(
                    method,
                    alpha=self.alpha,
                    direction=self.direction,
                    random_state=self.random_state,
                )
                # a candidate the fold's pairs do not determine (affine with
                # fewer pairs than dimensions) says so by its score; its
                # warning would only be noise about a map nobody asked for
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", AnchorWarning)
                    bridge._fit(X[train], Y[train], space_check=False)
                scores[method].append(
                    float(
                        np.mean(
                            bridge_retention(bridge, X[test], Y[test], queries=queries)
                        )
                    )
                )
        return {m: float(np.mean(s)) for m, s in scores.items()}

    def transform(self, X):
        """Map ``X`` in the bridge's direction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Old-space vectors (``"old-to-new"``) or new-space ones.

        Returns
        -------
        ndarray of shape (n_samples, width of the other space)
            The translated vectors.
        """
        check_is_fitted(self, "translator_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.translator_.transform(X)

    def calibrate_scores(self, cosines):
        """Map bridged cosines onto the new model's scale.

        A cosine between a new-model query and a translated stored vector
        (or a translated query and an old stored vector) has not the scale
        of the new model's own cosines, so an application's similarity
        threshold means something else through the bridge. The calibration
        (``score_calibration_``) is an increasing isotonic regression from
        bridged to new-model cosine, fitted on held-out pairs by
        :func:`~sklatent.migration.fit_bridge`; cosines beyond its knots are
        clipped to its ends (``out_of_bounds="clip"``). It keeps the order of
        the scores, so search results do not change, only their scale.

        Parameters
        ----------
        cosines : array-like of any shape
            Bridged cosines.

        Returns
        -------
        ndarray of the same shape, float64
            The calibrated scores.

        Examples
        --------
        >>> import numpy as np
        >>> from sklatent.migration import fit_bridge
        >>> rng = np.random.default_rng(0)
        >>> old = rng.normal(size=(300, 8))
        >>> new = np.tanh(old @ rng.normal(size=(8, 8))) + 1.0
        >>> bridge, _ = fit_bridge(old, new, method="ridge", store_size=300)
        >>> scores = bridge.calibrate_scores([-1.0, 0.5, 0.9, 1.0])
        >>> bool(np.all(np.diff(scores) >= 0))
        True
        """
        check_is_fitted(self, "translator_")
        if not hasattr(self, "score_calibration_"):
            raise ValueError(
                "this bridge was saved before bridges kept a score calibration: "
                "refit it (sklatent migrate fit)"
            )
        if self.score_calibration_ is None:
            raise ValueError(
                "this bridge has no score calibration (it was fitted by "
                "MigrationBridge.fit, without held-out pairs): fit it with "
                "fit_bridge (sklatent migrate fit)"
            )
        knots = self.score_calibration_
        return np.interp(
            np.asarray(cosines, dtype=np.float64), knots["cosine"], knots["calibrated"]
        )

    @property
    def is_linear(self):
        """Whether the map is affine: not when the translator normalises rows,
        nor for a ``"regional"`` bridge."""
        check_is_fitted(self, "translator_")
        translator = self.translator_
        return isinstance(translator, LatentTranslator) and translator.normalize != "l2"

    def affine_map(self, dtype=np.float64):
        """Return ``(weight, offset)`` with ``transform(x) == x @ weight + offset``.

        Parameters
        ----------
        dtype : numpy dtype, default=np.float64
            Precision the map is rounded to.

        Returns
        -------
        weight : ndarray of shape (n_features_in_, n_features_out)
        offset : ndarray of shape (n_features_out,)
        """
        check_is_fitted(self, "translator_")
        shift, weight, offset = fold_affine(
            self.translator_, inverse=False, dtype=dtype
        )
        return weight, offset - shift @ weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
