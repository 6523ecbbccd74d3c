"""Zero-shot classification across modalities through parallel anchor pairs (ASIF).

:class:`ZeroShotClassifier` is re-exported as
``sklatent.stitching.ZeroShotClassifier``, the path to import it from.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import accuracy_score
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._relative import RelativeTransformer
from ._sklearn_compat import Interval, StrOptions, _fit_context, validate_data
from .anchors import resolve_n_anchors

__all__ = ["ZeroShotClassifier"]


def _rows(values, name):
    """``values`` as a float 2-D array, a 1-D one as one column."""
    values = check_array(
        values, dtype=(np.float64, np.float32), ensure_2d=False, input_name=name
    )
    return values.reshape(len(values), -1)


class ZeroShotClassifier(BaseEstimator):
    r"""Classify items of one modality by captions of another, with no training.

    ASIF (Norelli et al., 2023): two frozen unimodal encoders, say an image
    encoder and a text encoder, and a set of *anchor pairs* (images and their
    captions) make a CLIP-like classifier. An image is described by its
    similarities to the anchor images, a caption by its similarities to the
    anchor captions; since the anchors are paired, the two descriptions live
    in one space, where an image is compared with the captions of the
    classes. Each description keeps its ``top_k`` largest similarities (the
    others set to zero), raised to the power ``power`` and scaled to unit
    norm, so for an image :math:`x` and a caption :math:`c`

    .. math::

        s(x, c) = \langle \rho(\operatorname{sim}(x, X_A)),
                          \rho(\operatorname{sim}(c, Y_A)) \rangle,
        \qquad \rho(v) = \frac{\operatorname{top}_k(v)^p}
                              {\lVert \operatorname{top}_k(v)^p \rVert}

    where :math:`X_A` and :math:`Y_A` are the anchor images and captions, and
    the class of :math:`x` is the class whose caption maximises :math:`s`.
    Each description is a :class:`~sklatent.RelativeTransformer` with these
    options, one per modality, with parallel anchors.

    ``fit(X, Y, class_embeddings=C)`` takes the anchor pairs (row ``i`` of
    ``X`` and of ``Y`` are the same item in the two modalities, such as an
    image and its caption) and the class captions embedded like ``Y``. No
    label is seen: the classes are known by their captions only.

    Parameters
    ----------
    n_anchors : int, float or None, default=None
        Number of anchor pairs drawn at random from the fitting pairs: an
        int, a float in (0, 1] as a fraction of them, or None for all.

    anchors : {"random", "kmeans", "farthest"}, default="random"
        How the anchor pairs are chosen among the fitting pairs, by their
        ``X`` side (see :mod:`sklatent.anchors`): at random, nearest the
        centres of a k-means clustering (varied anchors; it helped with few
        anchors in :doc:`/modalities`), or by farthest-point sampling.

    top_k : int or None, default=50
        Similarities kept in each description (the rest set to zero); at
        most ``n_anchors`` (larger keeps all). None keeps all.

    power : float, default=3.0
        Power the kept similarities are raised to, keeping their sign. ASIF
        uses 8 on raw cosines; on centred cosines (``center=True``) 3 was
        best here.

    center : bool, default=True
        Subtract the anchors' mean, in each modality, before the cosines;
        see :class:`~sklatent.RelativeTransformer`.

    device : str, default="cpu"
        Where the kernels run: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``
        or ``"auto"``.

    batch_size : int, default=None
        Rows sent to the device at once; results never depend on it.

    random_state : int, RandomState instance or None, default=None
        Draws the anchor pairs (and seeds k-means).

    Attributes
    ----------
    relative_x_ : RelativeTransformer
        Fitted on ``X``: the descriptions of items of ``X``'s modality.

    relative_y_ : RelativeTransformer
        Fitted on ``Y`` with the same anchor rows: the descriptions of
        captions.

    anchor_indices_ : ndarray of shape (n_anchors,)
        Rows of the fitting pairs used as anchors.

    class_descriptions_ : ndarray of shape (n_classes, n_anchors)
        The descriptions of the class captions.

    classes_ : ndarray of shape (n_classes,)
        The class labels, in the order of ``class_embeddings``.

    n_features_in_ : int
        Number of features of ``X``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sklatent.RelativeTransformer : One modality's descriptions.
    sklatent.LatentTranslator : The other route: translate ``X`` into ``Y``'s
        space and compare there.

    Notes
    -----
    scikit-learn does not count it a classifier (:func:`sklearn.base.is_classifier`
    is False): its ``fit`` takes anchor pairs, not labelled items, so a
    cross-validation splits the pairs without stratifying by label.
    ``score(X, y)`` is the accuracy of :meth:`predict` for labels ``y``.
    Given a 2-D ``y`` (the embeddings of the pairs of the rows of ``X``, like
    ``Y`` in ``fit``), it is instead the top-1 accuracy of retrieving each
    row's own pair among the rows of ``y``, so that a search over the anchor
    pairs (:class:`~sklearn.model_selection.GridSearchCV` over ``n_anchors``
    and ``top_k`` with ``fit(X, Y, class_embeddings=C)``) scores on held-out
    pairs. The measurements on images and captions are in :doc:`/modalities`.

    References
    ----------
    .. [1] A. Norelli, M. Fumero, V. Maiorca, L. Moschella, E. Rodolà,
       F. Locatello. "ASIF: Coupled data turns unimodal models to multimodal
       without training." NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.stitching import ZeroShotClassifier
    >>> rng = np.random.RandomState(0)
    >>> concepts = rng.normal(size=(200, 8))           # what the pairs show
    >>> X = concepts @ rng.normal(size=(8, 16))        # "images"
    >>> Y = concepts @ rng.normal(size=(8, 12))        # their "captions"
    >>> prototypes = rng.normal(size=(3, 8))           # three classes
    >>> C = prototypes @ np.linalg.lstsq(concepts, Y, rcond=None)[0]
    >>> images = prototypes @ np.linalg.lstsq(concepts, X, rcond=None)[0]
    >>> clf = ZeroShotClassifier(top_k=20, random_state=0)
    >>> clf.fit(X, Y, class_embeddings=C, classes=["a", "b", "c"]).predict(images)
    array(['a', 'b', 'c'], dtype='<U1')
    """

    _parameter_constraints: dict = {
        "n_anchors": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "anchors": [StrOptions({"random", "kmeans", "farthest"})],
        "top_k": [Interval(Integral, 1, None, closed="left"), None],
        "power": [Interval(Real, 0, None, closed="neither")],
        "center": ["boolean"],
        "device": [str],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_anchors=None,
        anchors="random",
        top_k=50,
        power=3.0,
        center=True,
        device="cpu",
        batch_size=None,
        random_state=None,
    ):
        self.n_anchors = n_anchors
        self.anchors = anchors
        self.top_k = top_k
        self.power = power
        self.center = center
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, Y, *, class_embeddings=None, classes=None):
        """Describe the classes through the anchor pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, n_features)
            The anchor items in the modality to classify (such as images).
        Y : array-like of shape (n_pairs, n_features_y)
            Their pairs in the other modality (such as their captions),
            row-aligned with ``X``. A 1-D ``Y`` is one column.
        class_embeddings : array-like of shape (n_classes, n_features_y), \
                default=None
            The classes, described in ``Y``'s modality and embedded by the
            encoder that embedded ``Y`` (such as "a photo of a sneaker").
            None makes every row of ``Y`` a class of its own, labelled by its
            row (retrieval among ``Y``).
        classes : array-like of shape (n_classes,), default=None
            The label of each class; None labels them ``0, 1, ...``.

        Returns
        -------
        self : ZeroShotClassifier
            The fitted classifier.
        """
        X = validate_data(self, X, dtype=(np.float64, np.float32))
        Y = self._check_pairs(X, Y)
        C = Y if class_embeddings is None else self._check_classes(class_embeddings, Y)
        self.classes_ = np.arange(len(C)) if classes is None else np.asarray(classes)
        if self.classes_.shape != (len(C),):
            raise ValueError(
                f"classes has shape {self.classes_.shape} but there are {len(C)} "
                "class embeddings: give one label per class."
            )
        n_anchors = resolve_n_anchors(
            1.0 if self.n_anchors is None else self.n_anchors, len(X)
        )
        relative = RelativeTransformer(
            n_anchors=n_anchors,
            anchors=self.anchors,
            center=self.center,
            normalize="l2",
            top_k=None if self.top_k is None else min(self.top_k, n_anchors),
            top_k_power=self.power,
            device=self.device,
            batch_size=self.batch_size,
            random_state=self.random_state,
        )
        self.relative_x_ = clone(relative).fit(X)
        self.anchor_indices_ = self.relative_x_.anchor_indices_
        self.relative_y_ = relative.set_params(anchors=self.anchor_indices_).fit(Y)
        self.class_descriptions_ = self.relative_y_.transform(C)
        return self

    def _check_pairs(self, X, Y):
        if Y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None: fit takes the anchor pairs X and Y (row i of each the "
                "same item in the two modalities)."
            )
        Y = _rows(Y, "Y")
        if len(Y) != len(X):
            raise ValueError(
                f"X has {len(X)} rows but Y has {len(Y)}: row i of X and of Y "
                "must be the same item (an anchor pair)."
            )
        return Y

    def _check_classes(self, class_embeddings, Y):
        C = _rows(class_embeddings, "class_embeddings")
        if C.shape[1] != Y.shape[1]:
            raise ValueError(
                f"class_embeddings has {C.shape[1]} features but Y has "
                f"{Y.shape[1]}: embed the class captions with the encoder that "
                "embedded Y."
            )
        return C

    def decision_function(self, X):
        """Similarity of each row of ``X`` to each class, through the anchors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items of ``X``'s modality.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes)
            :math:`s(x, c)` for each class caption, in [-1, 1].
        """
        return self._describe(X) @ self.class_descriptions_.T

    def _describe(self, X):
        """The descriptions of the rows of ``X`` (validated) through the anchors."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self.relative_x_.transform(X)

    def predict(self, X):
        """The class whose caption is most similar to each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items of ``X``'s modality.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict`, or of retrieving each row's pair.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items of ``X``'s modality.
        y : array-like of shape (n_samples,) or (n_samples, n_features_y)
            Labels; or the embeddings of the pairs of the rows of ``X`` (like
            ``Y`` in ``fit``), for the top-1 accuracy of retrieving each row's
            own pair among them.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows of ``X``.

        Returns
        -------
        score : float
        """
        if np.ndim(y) < 2:
            return float(
                accuracy_score(y, self.predict(X), sample_weight=sample_weight)
            )
        described = self._describe(X)
        Y = self._check_pairs(described, y)
        scores = described @ self.relative_y_.transform(Y).T
        hits = np.argmax(scores, axis=1) == np.arange(len(X))
        return float(np.average(hits, weights=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
