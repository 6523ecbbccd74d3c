"""Reuse a fitted downstream model across encoders, and wrap an encoder as a step.

Zero-shot stitching reuses a model fitted on encoder A's embeddings (a
classifier, a regressor, any pipeline) on encoder B's embeddings without
refitting it. Two routes build the stitched :class:`~sklearn.pipeline.Pipeline`:

- :func:`stitch_relative`: A's pipeline holds a
  :class:`~sklatent.RelativeTransformer`, after per-encoder preprocessing
  (whitening, say) if any; B gets its own preprocessing, fitted on B's
  embeddings, and its own relative transformer with *parallel* anchors (the
  same items, embedded by B), and A's later steps follow it, frozen;
- :func:`stitch_translated`: a :class:`~sklatent.LatentTranslator` fitted on
  parallel anchors maps B's embeddings into A's space, where A's head (frozen)
  runs unchanged; into the output of the head's leading scaler, when it has
  one, so that the map is fitted in the metric the head reads.

The later steps are wrapped in :class:`sklearn.frozen.FrozenEstimator`, so
calling ``fit`` on the stitched pipeline (inside a cross-validation, say) never
refits them.

:class:`EncoderTransformer` wraps a :class:`torch.nn.Module`, or any callable
mapping a batch of raw inputs to embeddings, as a scikit-learn transformer, so
that a pipeline can start from raw inputs: swapping the encoder step is then
the whole story. It lives in ``sklatent._encoder`` and is re-exported here, the
path to import it from (and the one older pickles name).
"""

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

from . import _backend
from ._encoder import EncoderTransformer, _n_rows
from ._relative import RelativeTransformer
from ._zeroshot import ZeroShotClassifier

__all__ = [
    "EncoderTransformer",
    "ZeroShotClassifier",
    "stitch_relative",
    "stitch_translated",
]


def _frozen(estimator):
    """Wrap ``estimator`` in a FrozenEstimator, unless it is one or a no-op step."""
    if estimator is None or isinstance(estimator, (str, FrozenEstimator)):
        return estimator
    return FrozenEstimator(estimator)


def _check_step_fitted(name, estimator, what):
    """Raise a NotFittedError naming the step when ``estimator`` is not fitted."""
    if estimator is None or isinstance(estimator, str):
        return
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise NotFittedError(
            f"{what} is not fitted: step {name!r} ({type(estimator).__name__}) has "
            "not been fitted. Fit it on encoder A's embeddings first; stitching "
            "reuses a fitted model, it does not fit one."
        ) from exc


def _check_names_kept(later_steps, rel_a, rel_b):
    """Refuse to stitch when A's next step checks column names B's step changes."""
    later = [step for _, step in later_steps if not isinstance(step, str)]
    names_in = getattr(later[0], "feature_names_in_", None) if later else None
    names_b = rel_b.get_feature_names_out()
    if names_in is None or np.array_equal(names_in, names_b):
        return
    raise ValueError(
        f"A's later steps were fitted on pandas columns named after A's anchor "
        f"rows ({', '.join(rel_a.get_feature_names_out()[:3])}, ...), but B's "
        "relative transformer keeps its anchors as embeddings, whose columns "
        f"are named by position ({', '.join(names_b[:3])}, ...), so those steps "
        "would reject them. Fit A's pipeline with its anchors given as "
        "embeddings (anchors=X_a[indices]), or without "
        "set_output(transform='pandas')."
    )


def stitch_relative(pipeline, X_b, *, rows="auto"):
    """Reuse a pipeline fitted on encoder A's relative space on encoder B.

    ``pipeline`` was fitted on encoder A's embeddings and holds a
    :class:`~sklatent.RelativeTransformer`. The stitched pipeline replaces it
    by encoder B's relative transformer, whose anchors are the same items
    embedded by B (*parallel anchors*), and keeps A's later steps unchanged
    and frozen. Since both transformers map their encoder into similarities
    to the same items, the later steps, fitted on A's relative vectors, apply
    to B's (Moschella et al., 2023).

    Steps before the relative transformer are *per-encoder preprocessing*,
    such as ``PCA(whiten=True)``: each encoder gets its own, fitted on its
    own embeddings, so B's are clones of A's fitted on ``X_b`` (without
    labels). Whitening each space before the centred cosines makes two spaces
    related by any invertible linear map differ by a rotation only, to which
    the relative representation is invariant (docs/modalities.rst).

    Parameters
    ----------
    pipeline : Pipeline
        A fitted :class:`~sklearn.pipeline.Pipeline` holding a
        :class:`~sklatent.RelativeTransformer`, fitted on encoder A's
        embeddings. The steps before it (if any) must be transformers that
        fit without labels.

    X_b : {array-like, torch.Tensor} of shape (n_samples, n_features_b)
        Encoder B's embeddings, as the pipeline's first step takes them, in
        one of two forms:

        - *aligned*: B's embeddings of the rows A's relative transformer was
          fitted on, in the same order, so that its ``anchor_indices_`` pick
          the same items in ``X_b``. B's transformer is fitted on all of
          ``X_b``, so statistics learned in ``fit`` (``normalize="standard"``,
          the ``"sum"`` and ``"mean"`` aggregations) are estimated on the same
          items as A's;
        - *anchors*: B's embeddings of A's anchors, one row per anchor in the
          order of A's ``anchors_``. B's transformer, and B's preprocessing
          steps, are fitted on them alone.

        Either way, B's transformer keeps the anchors as embeddings (a 2-D
        ``anchors``), never as row indices, so refitting the stitched
        pipeline on other rows of B (``fit``, cross-validation, a search)
        keeps them parallel to A's.

    rows : {"auto", "aligned", "anchors"}, default="auto"
        Which form ``X_b`` has. ``"auto"`` reads it from the number of rows:
        as many as A has anchors means ``"anchors"``, any other number
        ``"aligned"``. When A's anchors are a permutation of its first rows,
        both readings are possible and ``"auto"`` asks for an explicit choice.

    Returns
    -------
    stitched : Pipeline
        A pipeline with the same step names: B's own preprocessing steps (if
        any), then encoder B's fitted :class:`~sklatent.RelativeTransformer`
        (the same parameters as A's, with ``anchors`` set to B's embeddings of
        the parallel anchors), then A's later steps, each wrapped in
        :class:`sklearn.frozen.FrozenEstimator`.
        It predicts from B's embeddings right away; ``fit`` refits only the
        relative transformer's statistics, on the rows it is given, with the
        same anchors. Steps before the relative transformer are B's own,
        fitted on ``X_b`` and frozen too, so that the anchors stay in the
        space those steps map to.

    Raises
    ------
    TypeError
        If ``pipeline`` is not a Pipeline holding a RelativeTransformer, or a
        step before it cannot be fitted without labels.
    sklearn.exceptions.NotFittedError
        If the pipeline is not fitted.
    ValueError
        If ``X_b`` fits neither form (for instance, a number of anchor
        embeddings different from A's number of anchors), or A's later steps
        were fitted on named columns that B's transformer does not output
        (see Notes).

    See Also
    --------
    stitch_translated : Stitch through a translator into A's absolute space.
    RelativeTransformer : The relative representation itself.

    Notes
    -----
    The relative representation is invariant to the maps its similarity is
    invariant to (rotations, reflections and isotropic rescaling for cosine;
    translations too with ``center=True``). The closer encoder B's space is to
    such an image of A's, the closer the stitched accuracy gets to A's own.

    B's transformer names its output columns after its anchors' positions
    (``cosine_a0``, ``cosine_a1``, ...: see
    :meth:`~sklatent.RelativeTransformer.get_feature_names_out`), whereas A's
    names them after A's anchor row indices when A chose its anchors among
    its fitting rows. The names only matter to later steps fitted on pandas
    output (``set_output(transform="pandas")``), which check them: such a
    pipeline can be stitched when A was given its anchors as embeddings
    (``anchors=X_a[indices]``), and is otherwise refused with an error.

    References
    ----------
    .. [1] Moschella et al., ICLR 2023; the full reference is in
       :class:`~sklatent.RelativeTransformer`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklatent import RelativeTransformer
    >>> from sklatent.stitching import stitch_relative
    >>> rng = np.random.RandomState(0)
    >>> X_a = rng.normal(size=(200, 8))
    >>> y = (X_a[:, 0] > 0).astype(int)
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> X_b = 2 * X_a @ rotation  # encoder B: a rotated, rescaled copy of A
    >>> model_a = make_pipeline(
    ...     RelativeTransformer(n_anchors=20, random_state=0), LogisticRegression()
    ... ).fit(X_a, y)
    >>> model_b = stitch_relative(model_a, X_b)
    >>> bool((model_b.predict(X_b) == model_a.predict(X_a)).all())
    True

    Encoder C is a linear image of A that does not keep angles: cosines to the
    anchors change, unless each encoder's embeddings are whitened first (a
    ``PCA(whiten=True)`` step before the relative one, which C gets fitted on
    its own embeddings):

    >>> from sklearn.decomposition import PCA
    >>> X_c = X_a @ rng.normal(size=(8, 8)) + 3
    >>> plain = stitch_relative(model_a, X_c)
    >>> float(np.mean(plain.predict(X_c) == model_a.predict(X_a)))
    0.615
    >>> white_a = make_pipeline(
    ...     PCA(whiten=True),
    ...     RelativeTransformer(n_anchors=20, center=True, random_state=0),
    ...     LogisticRegression(),
    ... ).fit(X_a, y)
    >>> white_c = stitch_relative(white_a, X_c)
    >>> [name for name, _ in white_c.steps]
    ['pca', 'relativetransformer', 'logisticregression']
    >>> float(np.mean(white_c.predict(X_c) == white_a.predict(X_a)))
    1.0
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "stitch_relative expects a fitted Pipeline holding a "
            f"RelativeTransformer; got {type(pipeline).__name__}. Build it with "
            "make_pipeline(RelativeTransformer(...), head) and fit it on encoder "
            "A's embeddings."
        )
    if rows not in ("auto", "aligned", "anchors"):
        raise ValueError(f"rows must be 'auto', 'aligned' or 'anchors'; got {rows!r}.")
    position = next(
        (
            i
            for i, (_, step) in enumerate(pipeline.steps)
            if isinstance(step, RelativeTransformer)
        ),
        None,
    )
    if position is None:
        names = ", ".join(
            f"{name!r} ({type(step).__name__})" for name, step in pipeline.steps
        )
        raise TypeError(
            f"The pipeline's steps {names} hold no RelativeTransformer, so there "
            "are no anchors to make parallel. Put one before the head (after "
            "per-encoder preprocessing such as PCA(whiten=True), if any), or use "
            "stitch_translated for a head fitted on absolute embeddings."
        )
    rel_name, rel_a = pipeline.steps[position]
    what = "The pipeline"
    for name, step in pipeline.steps:
        _check_step_fitted(name, step, what)

    n_anchors = rel_a.anchors_.shape[0]
    n_rows = _n_rows(X_b)
    indices = rel_a.anchor_indices_
    if rows == "auto":
        rows = "anchors" if n_rows == n_anchors else "aligned"
        if (
            rows == "anchors"
            and indices is not None
            and np.array_equal(np.sort(indices), np.arange(n_anchors))
            and not np.array_equal(indices, np.arange(n_anchors))
        ):
            raise ValueError(
                f"X_b has {n_rows} rows, as many as A's anchors, and A's anchors "
                f"are a permutation of its first {n_anchors} rows, so X_b may be "
                "either B's embeddings of the anchors (in the order of A's "
                "anchors_) or B's row-aligned fitting embeddings. Pass "
                "rows='anchors' or rows='aligned'."
            )

    if rows == "anchors":
        if n_rows != n_anchors:
            raise ValueError(
                f"X_b has {n_rows} anchor embeddings but A's RelativeTransformer "
                f"has {n_anchors} anchors: give encoder B's embeddings of the same "
                f"{n_anchors} items, in the order of A's anchors_."
            )
        anchors_b = _backend.as_numpy(X_b)
    else:
        if indices is None:
            raise ValueError(
                f"A's RelativeTransformer was given its {n_anchors} anchors as "
                f"embeddings, so it has no row indices to look up in X_b "
                f"({n_rows} rows). Pass encoder B's embeddings of those "
                f"{n_anchors} anchors, in the same order."
            )
        if indices.max() >= n_rows:
            raise ValueError(
                f"X_b has {n_rows} rows, but A's anchors include row "
                f"{indices.max()} of the data A's RelativeTransformer was fitted "
                f"on, and A has {n_anchors} anchors. Pass B's embeddings of the "
                "same rows A was fitted on (row-aligned), or B's embeddings of "
                f"the {n_anchors} anchors."
            )
        anchors_b = _backend.as_numpy(X_b)[indices]

    preprocessing, X_b = _fit_preprocessing(pipeline.steps[:position], X_b)
    if preprocessing:  # B's anchors in the space of B's own steps
        anchors_b = _backend.as_numpy(X_b)
        if rows == "aligned":
            anchors_b = anchors_b[indices]
    rel_b = clone(rel_a).set_params(anchors=anchors_b).fit(X_b)
    later = pipeline.steps[position + 1 :]
    _check_names_kept(later, rel_a, rel_b)
    steps = [*preprocessing, (rel_name, rel_b)]
    steps += [(name, _frozen(step)) for name, step in later]
    return Pipeline(steps, verbose=pipeline.verbose)


def _fit_preprocessing(steps, X_b):
    """Encoder B's own copies of A's steps before the relative step, and ``X_b``.

    Each step is a clone of A's fitted on B's rows (transformed by the steps
    before it), without labels, then frozen: B's anchors are taken in the
    space these steps fitted, so refitting them later would move the rows
    away from the anchors. Returns the steps and ``X_b`` transformed by them.
    """
    fitted = []
    for name, step in steps:
        if step is None or isinstance(step, str):
            fitted.append((name, step))
            continue
        inner = step.estimator if isinstance(step, FrozenEstimator) else step
        b_step = clone(inner)
        try:
            X_b = b_step.fit_transform(X_b)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"Encoder B's copy of step {name!r} ({type(inner).__name__}), "
                "before the RelativeTransformer, could not be fitted on X_b "
                f"without labels ({exc}). Steps before the relative step are "
                "per-encoder preprocessing fitted on each encoder's own "
                "embeddings, such as PCA(whiten=True) or StandardScaler()."
            ) from exc
        fitted.append((name, FrozenEstimator(b_step)))
    return fitted, X_b


#: The per-feature affine scalers of scikit-learn that ``stitch_translated``
#: fits through: each maps every feature on its own, ``x -> x * a + b``.
_AFFINE_SCALERS = (StandardScaler, RobustScaler, MaxAbsScaler, MinMaxScaler)


def _leading_scaler(head):
    """``(position, scaler)`` of the head's leading per-feature scaler, or None.

    The scaler is the first step of a Pipeline that is not ``None`` or
    ``"passthrough"``, when it is one of :data:`_AFFINE_SCALERS` (possibly in
    a FrozenEstimator; a MinMaxScaler only with ``clip=False``, since clipping
    is not affine) and at least one step follows it.
    """
    if not isinstance(head, Pipeline):
        return None
    for position, (_, step) in enumerate(head.steps[:-1]):
        if step is None or isinstance(step, str):
            continue
        inner = step.estimator if isinstance(step, FrozenEstimator) else step
        if not isinstance(inner, _AFFINE_SCALERS):
            return None
        if isinstance(inner, MinMaxScaler) and inner.clip:
            return None
        return position, step
    return None


def _spread(X):
    """Frobenius norm of the centred rows of ``X``, in float64."""
    X = np.asarray(_backend.as_numpy(X), dtype=np.float64)
    return float(np.linalg.norm(X - X.mean(axis=0)))


def _multiply(X, factor):
    """``X * factor``: the rescaling step of a head-aware stitched pipeline."""
    return X * factor


def _head_metric(scaler, X_a):
    """``(targets, factor)``: the anchors in the head's metric, at A's size.

    The targets are ``scaler.transform(X_a)`` times ``factor``, the one
    number that gives them the spread of ``X_a`` (the Frobenius norm of the
    centred anchors); a tensor ``X_a`` gives a tensor on its device.
    """
    scaled = scaler.transform(_backend.as_numpy(X_a))
    spread = _spread(scaled)
    factor = _spread(X_a) / spread if spread > 0 else 1.0
    if not np.isfinite(factor) or factor <= 0:
        factor = 1.0
    if isinstance(X_a, torch.Tensor):
        scaled = torch.as_tensor(np.asarray(scaled), dtype=X_a.dtype, device=X_a.device)
    return scaled * factor, factor


def stitch_translated(
    head, X_b, X_a, *, translator=None, head_aware=True, **translator_params
):
    r"""Reuse a model fitted on encoder A's embeddings on encoder B, by translation.

    A translator fitted on parallel anchors (the same items embedded by B and
    by A) maps B's embeddings into A's space, where ``head`` runs unchanged
    (Maiorca et al., 2023). Unlike :func:`stitch_relative`, the head can be any
    model fitted on A's absolute embeddings.

    When the head is a pipeline that begins with a fitted per-feature scaler
    (a :class:`~sklearn.preprocessing.StandardScaler`, say), the translator
    is fitted in the head's input metric: it maps B's embeddings straight
    into the scaled space, on the pairs ``(X_b, c * scaler.transform(X_a))``,
    and its output, divided by ``c``, feeds the steps after the scaler. The
    one factor ``c`` keeps the anchors' overall spread in A (see Notes).

    Parameters
    ----------
    head : estimator
        A fitted estimator or pipeline taking encoder A's embeddings.

    X_b : {array-like, torch.Tensor} of shape (n_anchors, n_features_b)
        Encoder B's embeddings of the anchors: the source of the translation.

    X_a : {array-like, torch.Tensor} of shape (n_anchors, n_features_a)
        Encoder A's embeddings of the same anchors, row ``i`` being the same
        item as row ``i`` of ``X_b``: the target of the translation.

    translator : estimator, default=None
        An unfitted translator with ``fit(X, y)`` and ``transform(X)``; a clone
        of it is fitted. None builds a
        :class:`~sklatent.LatentTranslator` from ``translator_params``.

    head_aware : bool, default=True
        Fit the translator in the head's input metric when ``head`` is a
        :class:`~sklearn.pipeline.Pipeline` whose first step (after any
        ``"passthrough"``) is a fitted
        :class:`~sklearn.preprocessing.StandardScaler`,
        :class:`~sklearn.preprocessing.RobustScaler`,
        :class:`~sklearn.preprocessing.MaxAbsScaler` or
        :class:`~sklearn.preprocessing.MinMaxScaler` (with ``clip=False``),
        possibly wrapped in a :class:`~sklearn.frozen.FrozenEstimator`, and
        some step follows it. Any other head, or False, translates into A's
        raw embedding space and feeds the whole head.

    **translator_params : dict
        Parameters of the :class:`~sklatent.LatentTranslator`, such as
        ``method="affine"`` or ``device="cuda"``. Not allowed together with
        ``translator``.

    Returns
    -------
    stitched : Pipeline
        ``Pipeline([("translator", FrozenEstimator(fitted translator)),
        ("head", FrozenEstimator(head))])``. When the translator was fitted
        in a scaler's metric, the ``"head"`` step holds instead a pipeline of
        a ``"head_metric"`` step (a
        :class:`~sklearn.preprocessing.FunctionTransformer` dividing by
        ``c``) and the head's steps after the scaler (the same fitted
        objects). It predicts from B's embeddings right away, and ``fit``
        changes nothing (the translator is frozen too, since the labels a
        pipeline is fitted with are not target embeddings).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``head`` is not fitted.
    ValueError
        If ``X_b`` and ``X_a`` have different numbers of rows, or ``X_a`` has
        not as many features as ``head`` was fitted on.

    See Also
    --------
    stitch_relative : Stitch a pipeline that starts with a RelativeTransformer.
    LatentTranslator : The translator itself.

    Notes
    -----
    **Why the head's metric.** A head fitted on standardised inputs reads a
    feature of A of standard deviation :math:`\sigma` through a factor
    :math:`1/\sigma`, so a translation error :math:`e` in it reaches the head
    as :math:`e / \sigma`: errors in A's low-variance features, which a fit
    in A's raw space barely penalises, are amplified. Fitting the map on the
    scaled targets weighs every feature as the head does.

    **The overall size.** Standardising changes the size of the space as
    well as its shape: 384 unit-norm features have a spread of about
    :math:`\sqrt{384}` per row, against about 1 for unit-norm embeddings.
    An orthogonal map without ``scale=True`` cannot follow such a change
    (it predicted the largest class only, on the text encoders of
    :doc:`/text_encoders`), so the scaled targets are multiplied by
    :math:`c = \lVert X_a - \bar X_a \rVert_F / \lVert S(X_a) -
    \overline{S(X_a)} \rVert_F` (:math:`S` the scaler, on the anchors) and
    the translation by :math:`1 / c` before the head: the map learns the
    head's weighting of A's features, not a change of A's size.

    **When it changes the map.** The scalers supported, times :math:`c`, map
    each feature on its own, :math:`x_j \mapsto a_j x_j + b_j` with
    :math:`a_j > 0`. A
    :class:`~sklatent.LatentTranslator` with the default
    ``normalize="standard"`` standardises the target on the anchors, which
    undoes any such map. Least squares solves each target feature on its
    own, on centred pairs or with an intercept, which commutes with it:
    ``method="linear"``, ``"affine"`` and ``"ridge"`` with
    ``normalize="center"``, and ``"affine"`` and ``"ridge"`` with None. In
    all these cases both routes give the same predictions, to rounding. The
    metric changes the map of a (semi-)orthogonal translator with
    ``normalize="center"`` or None, which couples the target features (the
    rotation is fitted between B and the scaled A rather than the raw A),
    of ``"linear"`` with None (no intercept absorbs the scaler's shift), and
    of any translator with ``normalize="l2"``, whose row norms the scaling
    changes.

    References
    ----------
    .. [1] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklatent.stitching import stitch_translated
    >>> rng = np.random.RandomState(0)
    >>> X_a = rng.normal(size=(200, 8))
    >>> y = (X_a[:, 0] > 0).astype(int)
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> X_b = X_a @ rotation + 3  # encoder B: a rotated, shifted copy of A
    >>> head = LogisticRegression().fit(X_a, y)
    >>> anchors = rng.choice(200, size=30, replace=False)
    >>> model_b = stitch_translated(
    ...     head, X_b[anchors], X_a[anchors], normalize="center"
    ... )
    >>> bool((model_b.predict(X_b) == head.predict(X_a)).all())
    True

    A head fitted on standardised embeddings: the translator maps B into the
    scaler's output, where a feature of A a hundred times smaller than the
    others weighs as much as they do.

    >>> X_a[:, 1] /= 100
    >>> X_b = (X_a / X_a.std(axis=0)) @ rotation  # B: A standardised, rotated
    >>> scaled_head = make_pipeline(StandardScaler(), LogisticRegression())
    >>> scaled_head = scaled_head.fit(X_a, y)
    >>> model_b = stitch_translated(
    ...     scaled_head, X_b[anchors], X_a[anchors], normalize="center", scale=True
    ... )
    >>> [name for name, _ in model_b.named_steps["head"].estimator.steps]
    ['head_metric', 'logisticregression']
    >>> bool((model_b.predict(X_b) == scaled_head.predict(X_a)).all())
    True
    """
    _check_step_fitted("head", head, "The head")
    n_b, n_a = _n_rows(X_b), _n_rows(X_a)
    if n_b != n_a:
        raise ValueError(
            f"X_b has {n_b} anchors but X_a has {n_a}: the anchors must be "
            "parallel, row i of each being the same item embedded by encoder B "
            "and by encoder A."
        )
    expected = getattr(head, "n_features_in_", None)
    width = X_a.shape[1] if getattr(X_a, "ndim", 2) == 2 else None
    if expected is not None and width is not None and width != expected:
        raise ValueError(
            f"X_a has {width} features but the head was fitted on {expected}: X_a "
            "must be encoder A's embeddings of the anchors, in the space the "
            "head was fitted on."
        )
    if translator is None:
        from ._translation import LatentTranslator

        translator = LatentTranslator(**translator_params)
    elif translator_params:
        raise ValueError(
            f"Pass either a translator or translator parameters, not both; got "
            f"translator={translator!r} and {sorted(translator_params)}. Set "
            "them on the translator with set_params instead."
        )
    scaler = _leading_scaler(head) if head_aware else None
    if scaler is not None:
        position, step = scaler
        X_a, factor = _head_metric(step, X_a)
        rescale = FunctionTransformer(_multiply, kw_args={"factor": 1.0 / factor})
        head = Pipeline(
            [("head_metric", rescale.fit(X_a)), *head.steps[position + 1 :]],
            verbose=head.verbose,
        )
    fitted = clone(translator).fit(X_b, X_a)
    return Pipeline([("translator", FrozenEstimator(fitted)), ("head", _frozen(head))])
