"""LatentTranslator: map one encoder's embeddings into another's space."""

import warnings
import weakref
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils.validation import check_is_fitted

from . import _backend, _kernels
from ._base import TorchTransformer, check_magnitude
from ._pair_statistics import (
    from_record,
    merge_statistics,
    pair_statistics,
    shortcut_rtol,
    to_record,
)
from ._sklearn_compat import Interval, StrOptions, _fit_context, user_stacklevel
from ._translation_solve import (
    CENTRED,
    degenerate_message,
    fold_affine,
    scaled_alpha,
    solve,
    unscale,
)
from .anchors import AnchorWarning, check_anchor_indices, select_anchors
from .metrics import mean_cosine

_METHODS = ("orthogonal", "linear", "affine", "ridge")


class LatentTranslator(ClassNamePrefixFeaturesOutMixin, TorchTransformer):
    r"""Latent space translation: map embeddings of one encoder into another's space.

    Given parallel pairs, the same :math:`n` items embedded by a source encoder
    (``X``, shape (n, d_x)) and a target encoder (``y``, shape (n, d_y)), the
    translator learns a map :math:`T` with :math:`T(x_i) \approx y_i`
    (Maiorca et al., 2023). Each space is first normalised on the pairs, by
    default standardised with its own mean :math:`\mu` and unbiased standard
    deviation :math:`\sigma`:

    .. math:: \tilde x = (x - \mu_x) / \sigma_x, \qquad
              \tilde y = (y - \mu_y) / \sigma_y

    then a map :math:`W` (and intercept :math:`b`) is fitted on the normalised
    pairs and the output is mapped back into the target's scale:

    .. math:: T(x) = (\tilde x W + b) \odot \sigma_y + \mu_y

    With the default ``method="orthogonal"``, :math:`W = U V^\top` from the
    thin SVD :math:`\tilde X^\top \tilde Y = U \Sigma V^\top`: the
    orthogonal Procrustes solution (Schönemann, 1966), semi-orthogonal when
    the dimensions differ. Translating then preserves angles and distances
    between normalised embeddings, the map that Maiorca et al. found as good
    as an affine one between pretrained encoders. A model fitted on the target
    space (a classifier, a decoder, a vector index) can then be used on the
    source encoder's embeddings without retraining.

    The transform runs as torch kernels on ``device``, over row batches of
    ``batch_size``; its result does not depend on the batch size.

    Parameters
    ----------
    method : {"orthogonal", "linear", "affine", "ridge"}, default="orthogonal"
        The class of map fitted on the normalised pairs:

        - ``"orthogonal"``: :math:`W = U V^\top` maximising
          :math:`\operatorname{tr}(W^\top \tilde X^\top \tilde Y)` over
          (semi-)orthogonal :math:`W`, no intercept. When
          :math:`d_x \ne d_y` this is the solution of the problem with the
          smaller space zero-padded, cut back to shape (d_x, d_y);
        - ``"linear"``: least squares, :math:`\min_W
          \lVert \tilde X W - \tilde Y\rVert_F^2`, no intercept;
        - ``"affine"``: least squares with an intercept :math:`b`;
        - ``"ridge"``: ``"affine"`` plus the penalty
          :math:`\alpha \lVert W\rVert_F^2` (the objective of
          :class:`sklearn.linear_model.Ridge` on the normalised pairs).

        Least squares is solved from the QR factor of the normalised source
        pairs and its SVD, as ``numpy.linalg.lstsq`` solves it (never from the
        normal equations, which square the condition number); an
        underdetermined problem gets the minimum-norm solution.

    alpha : float, default=1.0
        Ridge penalty; used only by ``method="ridge"``.

    allow_reflection : bool, default=True
        Whether the orthogonal map may be a reflection. False forces
        :math:`\det W = +1` (a rotation, Kabsch's correction); with
        :math:`d_x \ne d_y` there is nothing to constrain, since every
        semi-orthogonal map is a block of a rotation of the zero-padded space.
        Used only by ``method="orthogonal"``.

    scale : bool, default=False
        Whether to fit an isotropic scale :math:`s` too, :math:`W = s U V^\top`
        with :math:`s = \operatorname{tr}(\Sigma) / \lVert \tilde X\rVert_F^2`.
        Used only by ``method="orthogonal"``.

    normalize : {"standard", "center", "l2"} or None, default="standard"
        Normalisation of each space, learned on the pairs:

        - ``"standard"``: subtract the mean and divide by the unbiased
          standard deviation of each feature; the output is de-standardised
          with the target's statistics;
        - ``"center"``: subtract the mean only (and add the target's mean
          back). Real embedding spaces are anisotropic, all vectors in a
          narrow cone around the mean, so centring matters: a rotation about
          the origin cannot map one cone onto another;
        - ``"l2"``: scale each row to unit norm; the output is multiplied by
          the mean row norm of the target pairs;
        - None: use the embeddings as they are.

        A constant feature, such as a dead dimension of a real encoder, is
        not divided by its near-zero scale, the map ignores it, and as a
        target it is always translated to its mean. A feature is constant
        when its variance (its mean square, about zero, for ``"l2"`` and
        None) is within float64 rounding of its mean, or its standard
        deviation is below float64 resolution next to the largest of its
        space (see :ref:`numerics`).

    n_anchors : int, float or None, default=None
        Number of pairs to fit on, chosen among the given pairs by the
        ``anchors`` strategy; a float in (0, 1] is a fraction of the pairs,
        rounded up. None uses every pair. With
        ``GridSearchCV(LatentTranslator(), {"n_anchors": [...]})`` this answers
        "how many parallel anchors do I need?". Ignored by :meth:`partial_fit`.

    anchors : {"random", "kmeans", "farthest"} or array-like, default="random"
        How ``n_anchors`` pairs are chosen, from the source embeddings ``X``
        (see :mod:`sklatent.anchors`): uniformly at random, the rows nearest
        k-means centroids, or by farthest point sampling; or a 1-D array of
        row indices of the pairs to fit on, as :class:`RelativeTransformer`
        takes them (``n_anchors`` is then ignored). ``"stratified"`` is not
        offered, since ``y`` holds target embeddings rather than class
        labels: to stratify, pass the rows that
        :func:`sklatent.anchors.stratified_anchors` picks.

    device : str, default="cpu"
        Where the kernels run: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``,
        or ``"auto"`` (the device of a tensor input, else CUDA when available,
        else the CPU). An unavailable explicit device is an error.

    batch_size : int, default=None
        Rows sent to the device at once, in fitting and transforming. None
        sizes batches from scikit-learn's ``working_memory`` setting.

    random_state : int, RandomState instance or None, default=None
        Seed of the ``anchors`` strategy, drawn with numpy so that the same
        seed chooses the same pairs on every device.

    Attributes
    ----------
    coef_ : ndarray of shape (`n_features_in_`, n_features_out)
        The map :math:`W` between the normalised spaces. For
        ``method="orthogonal"`` it has orthonormal rows or columns (times
        ``scaling_``), except for the zero rows and columns of constant
        features.

    intercept_ : ndarray of shape (n_features_out,)
        The intercept :math:`b` in the normalised target space; zero for
        ``"orthogonal"`` and ``"linear"``.

    scaling_ : float
        The isotropic scale :math:`s` included in ``coef_``; 1.0 unless
        ``method="orthogonal"`` and ``scale=True``.

    x_mean_ : ndarray of shape (`n_features_in_`,)
        Mean of the source pairs, subtracted for ``"standard"`` and
        ``"center"``; zeros otherwise.

    x_scale_ : ndarray of shape (`n_features_in_`,)
        Standard deviation of the source pairs for ``"standard"`` (1 for
        constant features); their mean row norm for ``"l2"``; ones otherwise.

    y_mean_ : ndarray of shape (n_features_out,)
        Mean of the target pairs, added back for ``"standard"`` and
        ``"center"``; zeros otherwise.

    y_scale_ : ndarray of shape (n_features_out,)
        The target's counterpart of ``x_scale_``: what the translated
        normalised vectors are multiplied by.

    anchor_indices_ : ndarray of shape (n_anchors,) or None
        Rows of the fitting pairs used when ``n_anchors`` or row indices as
        ``anchors`` are given; None when every pair was used.

    n_samples_seen_ : int
        Number of pairs the map was fitted on, over all :meth:`partial_fit`
        calls.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    RelativeTransformer : Compare encoders through similarities to anchors.
    sklearn.cross_decomposition.PLSRegression : A learned map from X to a
        multi-output y, by latent components.

    Notes
    -----
    **Invariances.** With ``"standard"`` normalisation the fit is unchanged
    by translations and positive per-feature rescalings of either space.
    With ``"center"``, an orthogonal map recovers
    :math:`y = x Q + b` for orthogonal :math:`Q` (with ``scale=True`` also
    :math:`y = s x Q + b`). ``"linear"`` and ``"affine"`` recover any
    (affine) linear map given at least :math:`d_x` (:math:`d_x + 1`) pairs in
    general position, at the price of more parameters to estimate; with
    fewer pairs they warn with :class:`~sklatent.AnchorWarning` and use the
    minimum-norm solution.

    **Different dimensions.** When :math:`d_x < d_y` an orthogonal map embeds
    the source isometrically in the target space, and
    :meth:`inverse_transform` undoes :meth:`transform` exactly (with
    ``normalize="l2"``, up to each row's norm, which :meth:`transform`
    discards). When
    :math:`d_x > d_y` it projects, keeping the :math:`d_y` directions most
    correlated with the target, and :meth:`inverse_transform` returns the
    least-squares preimage.

    **Streaming.** :meth:`partial_fit` accumulates exact sufficient
    statistics (count, means, centred sums of squares and cross-products,
    and for least squares the QR factor of the centred ``X`` with the
    projection of the centred ``y`` on it), merged with Chan et al.'s update
    and a QR decomposition of the stacked factors (TSQR), in float64. Any
    sequence of :meth:`partial_fit` calls therefore gives the map :meth:`fit`
    gives on all the pairs, for
    every method and normalisation, to float tolerance. Only the choice of a
    subset of pairs (``n_anchors``) needs all pairs at once.

    **Magnitude.** Pairs of any float64 magnitude fit: a batch whose largest
    value lies beyond :math:`2^{\pm 64}` (``X * 1e300``, ``X * 1e-300``) is
    scaled by an exact power of two before its statistics are taken, and the
    map is returned in the pairs' own units. A fit on :math:`(cX, dY)` thus
    maps :math:`cX` to :math:`d` times the translation of :math:`X` by the fit
    on :math:`(X, Y)`, to float rounding; an isometry
    (``method="orthogonal"`` without ``scale`` on uncentred or centred
    spaces) keeps its rotation instead, and ``alpha`` keeps its meaning in the
    units of ``X``. Spaces more than :math:`2^{1000}` apart in magnitude are
    an error: no float64 map joins them.

    A numpy input gives a numpy output (respecting ``set_output``); a torch
    tensor gives a tensor on the input's device. float32 stays float32;
    fitted statistics are always float64. A 1-D ``y`` is one target column,
    as in :class:`~sklearn.cross_decomposition.PLSRegression`, so the
    output is then of shape (n_samples, 1).

    References
    ----------
    .. [1] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.
    .. [2] P. H. Schönemann. "A generalized solution of the orthogonal
       Procrustes problem." Psychometrika 31(1), 1-10, 1966.
    .. [3] T. F. Chan, G. H. Golub, R. J. LeVeque. "Updating formulae and a
       pairwise algorithm for computing sample variances." COMPSTAT 1982.
    .. [4] J. Demmel, L. Grigori, M. Hoemmen, J. Langou. "Communication-optimal
       parallel and sequential QR and LU factorizations." SIAM J. Sci. Comput.
       34(1), 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent import LatentTranslator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 8))
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> Y = 2 * X @ rotation + 5
    >>> translator = LatentTranslator(normalize="center", scale=True).fit(X, Y)
    >>> translator.transform(X[:3]).shape
    (3, 8)
    >>> bool(np.allclose(translator.transform(X), Y))
    True
    >>> round(translator.score(X, Y), 6)
    1.0
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(_METHODS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "allow_reflection": ["boolean"],
        "scale": ["boolean"],
        "normalize": [StrOptions({"standard", "center", "l2"}), None],
        "n_anchors": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "anchors": [StrOptions({"random", "kmeans", "farthest"}), "array-like"],
        "device": [str],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        method="orthogonal",
        alpha=1.0,
        allow_reflection=True,
        scale=False,
        normalize="standard",
        n_anchors=None,
        anchors="random",
        device="cpu",
        batch_size=None,
        random_state=None,
    ):
        self.method = method
        self.alpha = alpha
        self.allow_reflection = allow_reflection
        self.scale = scale
        self.normalize = normalize
        self.n_anchors = n_anchors
        self.anchors = anchors
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Learn the map from the pairs ``(X[i], y[i])``.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features)
            Source embeddings.
        y : {array-like, torch.Tensor} of shape (n_samples, n_targets) or \
                (n_samples,)
            Target embeddings of the same items, row by row; a 1-D ``y`` is
            one column.

        Returns
        -------
        self : LatentTranslator
            The fitted translator.
        """
        X, Y = self._check_pairs(X, y, reset=True)
        self.anchor_indices_ = self._choose_pairs(X)
        if self.anchor_indices_ is not None:
            rows = self.anchor_indices_
            X, Y = _take_rows(X, rows), _take_rows(Y, rows)
        self._update(X, Y, first=True)
        return self

    def _choose_pairs(self, X):
        """Rows of the pairs to fit on, or None for all of them."""
        if not isinstance(self.anchors, str):
            return check_anchor_indices(self.anchors, X.shape[0])
        if self.n_anchors is None:
            return None
        return select_anchors(
            self.anchors,
            self._readable_rows(X, self.anchors),
            self.n_anchors,
            random_state=self.random_state,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """Add the pairs ``(X[i], y[i])`` to those seen so far and refit the map.

        The map after any sequence of calls equals the map :meth:`fit` learns
        on all the pairs at once, to float tolerance. Every pair given is
        used: ``n_anchors`` and ``anchors`` are ignored.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features)
            Source embeddings.
        y : {array-like, torch.Tensor} of shape (n_samples, n_targets) or \
                (n_samples,)
            Target embeddings of the same items, row by row.

        Returns
        -------
        self : LatentTranslator
            The updated translator.
        """
        first = not hasattr(self, "n_samples_seen_")
        X, Y = self._check_pairs(X, y, reset=first)
        self.anchor_indices_ = None
        self._update(X, Y, first=first)
        return self

    def transform(self, X, out=None):
        """Translate source embeddings into the target space.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features)
            Source embeddings.

        out : {ndarray, torch.Tensor} of shape (n_samples, n_features_out), \
                default=None
            Where to write the result, batch by batch, instead of a new
            array, as in :meth:`RelativeTransformer.transform
            <sklatent.RelativeTransformer.transform>`: a numpy array (or
            writable memmap) for an array-like ``X``, a tensor on ``X``'s
            device for a tensor ``X``, of the output's dtype, not sharing
            memory with ``X``.

        Returns
        -------
        Y_pred : {ndarray, torch.Tensor} of shape (n_samples, n_features_out)
            Estimated target embeddings; a tensor for a tensor input, on the
            same device. ``out`` itself when given.
        """
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        return self._translate(X, inverse=False, out=out)

    def inverse_transform(self, X, out=None):
        """Translate target embeddings back into the source space.

        Available for ``method="orthogonal"``, whose map is inverted by its
        transpose: exactly when ``n_features_in_ <= n_features_out`` (with
        ``normalize`` other than ``"l2"``), else as the least-squares
        preimage. With ``normalize="l2"``, :meth:`transform` discards each
        row's norm, so the inverse returns the direction of the source row
        scaled to the mean row norm of the source pairs. Least-squares maps
        are not inverted; fit a second translator from the target to the
        source instead.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features_out)
            Target embeddings.

        out : {ndarray, torch.Tensor} of shape (n_samples, `n_features_in_`), \
                default=None
            Where to write the result, as in :meth:`transform`.

        Returns
        -------
        X_original : {ndarray, torch.Tensor} of shape (n_samples, `n_features_in_`)
            Embeddings in the source space.
        """
        check_is_fitted(self)
        if self.method != "orthogonal":
            raise ValueError(
                f"inverse_transform is not available for method={self.method!r}: "
                "only the (semi-)orthogonal map of method='orthogonal' is inverted "
                "by its transpose. Fit a second LatentTranslator from the target "
                "to the source space instead."
            )
        Y = _backend.check_target(X, name="X")
        self._check_target_width(Y, name="X")
        return self._translate(Y, inverse=True, out=out)

    def score(self, X, y):
        r"""Mean cosine similarity of the translated ``X`` to the true ``y``.

        .. math:: \frac{1}{n} \sum_i \cos\big(T(x_i), y_i\big)

        Higher is better, 1 at best; a zero row counts as 0. This is the
        default score of a search such as
        :class:`~sklearn.model_selection.GridSearchCV`. Cosine ignores
        norms, and on anisotropic spaces (all vectors near one direction) a
        poor translation can still score close to 1: compare scores with one
        another, not with 1.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features)
            Source embeddings.
        y : {array-like, torch.Tensor} of shape (n_samples, n_features_out)
            Their true target embeddings; a 1-D ``y`` is one column.

        Returns
        -------
        score : float
            Mean cosine similarity.
        """
        check_is_fitted(self)
        X, Y = self._check_pairs(X, y, reset=False)
        predicted = self._translate(X, inverse=False)
        return mean_cosine(predicted, Y, batch_size=self.batch_size, device=self.device)

    def _check_pairs(self, X, y, *, reset):
        """Validate row-aligned source and target embeddings."""
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but "
                "the target y is None. Pass the target embeddings of the same "
                "items, row by row."
            )
        X, Y = self._check_pair_input(X, y, reset=reset)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(
                "X and y must hold the same items row by row (parallel pairs), "
                f"but X has {X.shape[0]} rows and y has {Y.shape[0]}."
            )
        # Fitting builds no autograd graph: its statistics are fitted state.
        X, Y = (Z.detach() if isinstance(Z, torch.Tensor) else Z for Z in (X, Y))
        if not reset:
            self._check_target_width(Y, name="y")
        return X, Y

    def _check_target_width(self, Y, *, name):
        if Y.shape[1] != self._n_features_out:
            raise ValueError(
                f"{name} has {Y.shape[1]} target features, but {type(self).__name__} "
                f"was fitted on targets with {self._n_features_out} features."
            )

    def _update(self, X, Y, *, first):
        """Merge the statistics of new pairs into the stored ones, solve, warn."""
        device = _kernels.statistics_device(self._device(X))
        stored = (
            None
            if first
            else from_record(self._statistics, device=device, method=self.method)
        )
        statistics = self._pair_statistics(X, Y, device)
        if stored is not None:
            statistics = merge_statistics(stored, statistics)
        self._statistics = to_record(*statistics)
        moments, norms, exponents = statistics
        self._n_features_out = moments.mean_y.shape[0]
        self.n_samples_seen_ = moments.count
        solution = unscale(
            solve(
                moments,
                norms,
                method=self.method,
                normalize=self.normalize,
                alpha=scaled_alpha(self.alpha, exponents, normalize=self.normalize),
                allow_reflection=self.allow_reflection,
                scale=self.scale,
                rtol=shortcut_rtol(X),
            ),
            exponents,
            method=self.method,
            normalize=self.normalize,
            scale=self.scale,
        )
        self.coef_, self.intercept_, self.scaling_ = solution[:3]
        self.x_mean_, self.x_scale_, self.y_mean_, self.y_scale_ = solution[3:7]
        message = degenerate_message(
            solution,
            method=self.method,
            normalize=self.normalize,
            alpha=self.alpha,
            n=self.n_samples_seen_,
            d_x=self.n_features_in_,
            d_y=self._n_features_out,
        )
        if message is not None:
            warnings.warn(message, AnchorWarning, stacklevel=user_stacklevel())

    def _pair_statistics(self, X, Y, device):
        """Statistics of all the pairs of ``X`` and ``Y``: a reduction over row blocks.

        Least squares needs the QR factor of the centred ``X``. For float32
        pairs it comes from the Gram matrix (``_kernels.gram_factor``) when
        that adds an error below
        :func:`~sklatent._pair_statistics.shortcut_rtol`, and otherwise from
        a Householder QR of each batch, in a second pass (float64 pairs: only
        that).
        """
        least_squares = self.method != "orthogonal"
        rtol = shortcut_rtol(X)
        row_bytes = 24 * (X.shape[1] + Y.shape[1])

        def reduce(**options):
            chunk = partial(pair_statistics, normalize=self.normalize, **options)
            return self._reduce_rows(
                chunk, merge_statistics, X, Y, row_bytes=row_bytes, device=device
            )

        if least_squares and rtol is not None:
            moments, norms, exponents = reduce(gram=True)
            factor = _kernels.gram_factor(moments.gram, moments.cross, rtol=rtol)
            if factor is not None:
                return (
                    moments._replace(gram=None, factor=factor[0], projected=factor[1]),
                    norms,
                    exponents,
                )
        return reduce(factor=least_squares)

    def _translation(self, X, *, inverse):
        """``translate(x, dest)``: one affine map of a batch, on the device."""
        shift, weight, offset, limit = _folded_map(
            self, inverse=inverse, dtype=_backend.torch_dtype(X), device=self._device(X)
        )
        row_normalize = self.normalize == "l2" and not inverse
        subtract = self.normalize in CENTRED

        def translate(x, dest):
            check_magnitude(x, limit, what="the translation")
            if row_normalize:
                x = _kernels.unit_rows(x)
            if subtract:
                x = x - shift
            if dest is None or _backend.tracks_gradients(x):
                result = torch.addmm(offset, x, weight)
                return result if dest is None else dest.copy_(result)
            return torch.addmm(offset, x, weight, out=dest)

        return translate

    def _translate(self, X, *, inverse, out=None):
        """The affine map (or its inverse) of validated ``X``, by row blocks."""
        n_out = self.n_features_in_ if inverse else self._n_features_out
        return self._map_rows(
            X,
            self._translation(X, inverse=inverse),
            n_features_out=n_out,
            # The row, its translation, a temporary.
            row_bytes=(X.shape[1] + 2 * n_out) * _backend.itemsize(X),
            out=out,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags


_FOLDED = weakref.WeakKeyDictionary()
"""translator -> (the fitted arrays folded, {(inverse, dtype, device): map})."""


def _folded_map(translator, *, inverse, dtype, device):
    r"""``(shift, weight, offset, limit)``: the folded map, as tensors.

    Folded once per fit (:func:`~sklatent._translation_solve.fold_affine`) and
    kept beside the translator, not in it (transform leaves the estimator's
    ``__dict__`` as it was), until a refit replaces its fitted arrays.
    ``limit`` is the largest input value whose translation stays finite:
    :math:`|(x - s) W + o| \le |x|_{max} \max_j \sum_i |W_{ij}| + \dots`,
    half the dtype's range for each term.

    Raises
    ------
    ValueError
        When the folded map itself leaves the dtype's range.
    """
    t = translator
    fitted = (t.coef_, t.intercept_, t.scaling_, t.x_mean_, t.x_scale_, t.y_mean_)
    fitted += (t.y_scale_,)
    sources, maps = _FOLDED.get(t, (None, None))
    if sources is None or any(a is not b for a, b in zip(sources, fitted, strict=True)):
        sources, maps = fitted, {}
        _FOLDED[t] = (sources, maps)
    key = (inverse, dtype, device)
    if key not in maps:
        numpy_dtype = np.float32 if dtype == torch.float32 else np.float64
        finfo = torch.finfo(dtype)
        folded = fold_affine(t, inverse=inverse, dtype=numpy_dtype)
        largest = max((float(np.abs(a).max()) for a in folded if a.size), default=0)
        if largest > finfo.max or 0 < largest < finfo.tiny:
            raise ValueError(
                f"The fitted map's coefficients reach {largest:.3g} in magnitude, "
                f"outside the range of {numpy_dtype.__name__}: "
                + (
                    "pass float64 data."
                    if dtype == torch.float32
                    else "rescale X or y so that their magnitudes are closer."
                )
            )
        shift, weight, offset = (
            _backend.to_tensor(array, device=device, dtype=dtype) for array in folded
        )
        column_sum = float(weight.abs().sum(dim=0).amax()) if weight.numel() else 0.0
        row_normalize = t.normalize == "l2" and not inverse
        limit = np.inf if row_normalize else finfo.max / 2 / max(1.0, column_sum)
        maps[key] = (shift, weight, offset, limit)
    return maps[key]


def _take_rows(X, indices):
    """Rows ``indices`` of an array or tensor."""
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(indices, device=X.device)]
    return X[indices]
