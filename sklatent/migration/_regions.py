"""Per-region bridges: one map per k-means region of the source space, blended."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from .._kernels.similarity import squared_euclidean
from .._sklearn_compat import Interval, StrOptions, _fit_context, validate_data
from .._translation import LatentTranslator
from .._translation_solve import gcv_alpha

PAIRS_PER_COEFFICIENT = 2
"""A region gets a map of its own only with at least this many pairs per
coefficient of one output (its source width plus one), the least squares
stability rule of the bridge; a smaller region keeps the global map."""


NEGLIGIBLE_WEIGHT = 1e-6
"""A region whose soft assignment weight is below this is left out of a
row's blend (the others renormalised): its map's share could not move the
translation by more than this fraction."""


def region_count(n_pairs, width, n_regions):
    """How many regions ``n_pairs`` pairs of ``width`` source features can fill.

    Each region must hold enough pairs to fit its own map stably
    (:data:`PAIRS_PER_COEFFICIENT`); the count is at most ``n_regions``, and
    below 2 the pairs cannot make a per-region bridge.
    """
    return min(n_regions, n_pairs // (PAIRS_PER_COEFFICIENT * (width + 1)))


class RegionalTranslator(TransformerMixin, BaseEstimator):
    """One ridge map per k-means region of the source space, blended softly.

    A single map between two embedding models fits some regions of the old
    space better than others. Here the source rows are standardised and cut
    into ``n_regions`` regions by k-means; each region with enough pairs
    (:data:`PAIRS_PER_COEFFICIENT`) gets its own ridge map fitted on its
    pairs, the others keep the map fitted on all pairs. A vector is
    translated by every region's map, blended by its soft assignment to the
    regions: weights :math:`w_j(x) \\propto \\exp(-(d_j^2(x) - \\min_i
    d_i^2(x)) / \\tau)`, :math:`d_j` the distance of the standardised
    :math:`x` to centre :math:`j` and :math:`\\tau` ``temperature`` times the
    median squared distance of a fitted row to its nearest centre. The
    blend is smooth: a vector between two regions gets the mean of their
    maps, never a jump.

    Parameters
    ----------
    n_regions : int, default=16
        Most regions; fewer when the pairs cannot fill them (see
        :func:`region_count`), one (the global map alone) when they cannot
        fill two.
    temperature : float, default=0.1
        Softness of the assignment, relative to the typical squared distance
        of a row to its centre: small values give each vector its nearest
        region's map, large ones the mean of all maps.
    alpha : float or "gcv", default="gcv"
        Ridge penalty of every map (on standardised spaces, as
        :class:`~sklatent.LatentTranslator` with ``method="ridge"``);
        ``"gcv"`` chooses each map's own by its leave-one-out error
        (:func:`~sklatent.migration.gcv_alpha`).
    random_state : int or None, default=None
        Seed of k-means.

    Attributes
    ----------
    global_ : LatentTranslator
        The map fitted on all pairs.
    maps_ : list of LatentTranslator
        The map of each region (``global_`` itself for a region too small).
    centres_ : ndarray of shape (`n_regions_`, `n_features_in_`)
        The regions' centres, in the standardised source space.
    mean_, scale_ : ndarray of shape (`n_features_in_`,)
        The source standardisation.
    tau_ : float
        The assignment's scale :math:`\\tau`.
    n_regions_ : int
        Regions used.
    own_maps_ : int
        Regions with a map of their own.
    n_features_in_ : int
        Source width.
    n_features_out_ : int
        Target width.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.migration import RegionalTranslator
    >>> rng = np.random.default_rng(0)
    >>> old = rng.normal(size=(600, 4)) + 5 * rng.integers(2, size=(600, 1))
    >>> new = np.where(old[:, :1] > 2.5, old @ rng.normal(size=(4, 3)), old[:, :3])
    >>> regional = RegionalTranslator(n_regions=2, random_state=0).fit(old, new)
    >>> regional.n_regions_, regional.transform(old[:2]).shape
    (2, (2, 3))
    """

    # The public class path, as for MigrationBridge: skops files and trust
    # lists name ``sklatent.migration.RegionalTranslator``.
    __module__ = "sklatent.migration"

    _parameter_constraints: dict = {
        "n_regions": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "alpha": [StrOptions({"gcv"}), Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, n_regions=16, *, temperature=0.1, alpha="gcv", random_state=None
    ):
        self.n_regions = n_regions
        self.temperature = temperature
        self.alpha = alpha
        self.random_state = random_state

    def _ridge(self, X, Y):
        alpha = gcv_alpha(X, Y) if self.alpha == "gcv" else float(self.alpha)
        return LatentTranslator(method="ridge", alpha=alpha).fit(X, Y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the regions and their maps on the pairs ``(X[i], y[i])``.

        Parameters
        ----------
        X : array-like of shape (n_pairs, `n_features_in_`)
            Source vectors.
        y : array-like of shape (n_pairs, target width)
            The same items in the target space.

        Returns
        -------
        self : RegionalTranslator
            Fitted.
        """
        X, Y = validate_data(
            self, X, y, multi_output=True, dtype=[np.float64, np.float32]
        )
        Y = Y.reshape(len(Y), -1)
        self.n_features_out_ = Y.shape[1]
        self.global_ = self._ridge(X, Y)
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self.scale_ = X.std(axis=0, dtype=np.float64)
        self.scale_[self.scale_ <= 1e-12 * max(self.scale_.max(), 1e-300)] = 1.0
        self.n_regions_ = max(1, region_count(len(X), X.shape[1], self.n_regions))
        Z = self._standardised(X)
        if self.n_regions_ == 1:
            self.centres_ = Z.mean(axis=0, keepdims=True)
            labels = np.zeros(len(X), dtype=np.intp)
        else:
            kmeans = KMeans(self.n_regions_, n_init=3, random_state=self.random_state)
            labels = kmeans.fit_predict(Z)
            self.centres_ = kmeans.cluster_centers_
        nearest = self._squared_distances(Z).min(axis=1)
        self.tau_ = self.temperature * max(float(np.median(nearest)), 1e-300)
        least = PAIRS_PER_COEFFICIENT * (X.shape[1] + 1)
        self.maps_ = []
        for region in range(self.n_regions_):
            rows = np.flatnonzero(labels == region)
            own = self.n_regions_ > 1 and len(rows) >= least
            self.maps_.append(self._ridge(X[rows], Y[rows]) if own else self.global_)
        self.own_maps_ = sum(m is not self.global_ for m in self.maps_)
        return self

    def _standardised(self, X):
        return (np.asarray(X, np.float64) - self.mean_) / self.scale_

    def _squared_distances(self, Z):
        centres = torch.from_numpy(self.centres_)
        return squared_euclidean(torch.from_numpy(Z), centres).numpy()

    def region_weights(self, X):
        """Soft assignment of each row to the regions.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Source vectors.

        Returns
        -------
        ndarray of shape (n_samples, `n_regions_`)
            Non-negative weights, each row summing to 1.
        """
        check_is_fitted(self, "maps_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._weights(X)

    def _weights(self, X):
        """:meth:`region_weights` of validated rows."""
        distances = self._squared_distances(self._standardised(X))
        logits = -(distances - distances.min(axis=1, keepdims=True)) / self.tau_
        weights = np.exp(logits)
        weights /= weights.sum(axis=1, keepdims=True)
        # a region of negligible weight is left out of the blend, so a row is
        # translated by the few maps near it, not by all of them
        weights[weights < NEGLIGIBLE_WEIGHT] = 0.0
        return weights / weights.sum(axis=1, keepdims=True)

    def transform(self, X):
        """Translate ``X``: every region's map, blended by :meth:`region_weights`.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Source vectors.

        Returns
        -------
        ndarray of shape (n_samples, target width)
            In ``X``'s float dtype.
        """
        check_is_fitted(self, "maps_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        weights = self._weights(X)
        out = np.zeros((len(X), self.n_features_out_), dtype=X.dtype)
        for region, translator in enumerate(self.maps_):
            rows = np.flatnonzero(weights[:, region])
            if len(rows):
                share = weights[rows, region : region + 1]
                out[rows] += (share * translator.transform(X[rows])).astype(X.dtype)
        return out
