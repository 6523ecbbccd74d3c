"""Reuse a fitted downstream model across encoders, and wrap an encoder as a step.

Zero-shot stitching reuses a model fitted on encoder A's embeddings (a
classifier, a regressor, any pipeline) on encoder B's embeddings without
refitting it. Two routes build the stitched :class:`~sklearn.pipeline.Pipeline`:

- :func:`stitch_relative`: A's pipeline starts with a
  :class:`~sklatent.RelativeTransformer`; B gets its own relative transformer
  with *parallel* anchors (the same items, embedded by B), and A's later steps
  follow it, frozen;
- :func:`stitch_translated`: a :class:`~sklatent.LatentTranslator` fitted on
  parallel anchors maps B's embeddings into A's space, where A's head (frozen)
  runs unchanged.

The later steps are wrapped in :class:`sklearn.frozen.FrozenEstimator`, so
calling ``fit`` on the stitched pipeline (inside a cross-validation, say) never
refits them.

:class:`EncoderTransformer` wraps a :class:`torch.nn.Module`, or any callable
mapping a batch of raw inputs to embeddings, as a scikit-learn transformer, so
that a pipeline can start from raw inputs: swapping the encoder step is then
the whole story.
"""

import contextlib
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array, gen_batches
from sklearn.utils.validation import check_is_fitted

from . import _backend
from ._relative import RelativeTransformer
from ._sklearn_compat import Interval, _fit_context, validate_data

__all__ = ["EncoderTransformer", "stitch_relative", "stitch_translated"]


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


def _n_rows(X):
    """Number of rows of an array-like or tensor."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


def stitch_relative(pipeline, X_b, *, rows="auto"):
    """Reuse a pipeline fitted on encoder A's relative space on encoder B.

    ``pipeline`` was fitted on encoder A's embeddings and starts with a
    :class:`~sklatent.RelativeTransformer`. The stitched pipeline replaces that
    first step by encoder B's relative transformer, whose anchors are the same
    items embedded by B (*parallel anchors*), and keeps A's later steps
    unchanged and frozen. Since both transformers map their encoder into
    similarities to the same items, the later steps, fitted on A's relative
    vectors, apply to B's (Moschella et al., 2023).

    Parameters
    ----------
    pipeline : Pipeline
        A fitted :class:`~sklearn.pipeline.Pipeline` whose first step is a
        :class:`~sklatent.RelativeTransformer`, fitted on encoder A's
        embeddings.

    X_b : {array-like, torch.Tensor} of shape (n_samples, n_features_b)
        Encoder B's embeddings, in one of two forms:

        - *aligned*: B's embeddings of the rows A's relative transformer was
          fitted on, in the same order, so that its ``anchor_indices_`` pick
          the same items in ``X_b``. B's transformer is fitted on all of
          ``X_b``, so statistics learned in ``fit`` (``normalize="standard"``,
          the ``"sum"`` and ``"mean"`` aggregations) are estimated on the same
          items as A's;
        - *anchors*: B's embeddings of A's anchors, one row per anchor in the
          order of A's ``anchors_``. B's transformer takes them as its anchor
          embeddings and is fitted on them alone.

    rows : {"auto", "aligned", "anchors"}, default="auto"
        Which form ``X_b`` has. ``"auto"`` reads it from the number of rows:
        as many as A has anchors means ``"anchors"``, any other number
        ``"aligned"``. When A's anchors are a permutation of its first rows,
        both readings are possible and ``"auto"`` asks for an explicit choice.

    Returns
    -------
    stitched : Pipeline
        A pipeline with the same step names: encoder B's fitted
        :class:`~sklatent.RelativeTransformer` (the same parameters as A's, with
        ``anchors`` set to the parallel anchors), then A's later steps, each
        wrapped in :class:`sklearn.frozen.FrozenEstimator`. It predicts from B's
        embeddings right away; ``fit`` would refit only the relative
        transformer.

    Raises
    ------
    TypeError
        If ``pipeline`` is not a Pipeline starting with a RelativeTransformer.
    sklearn.exceptions.NotFittedError
        If the pipeline is not fitted.
    ValueError
        If ``X_b`` fits neither form (for instance, a number of anchor
        embeddings different from A's number of anchors).

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

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.

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
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "stitch_relative expects a fitted Pipeline whose first step is a "
            f"RelativeTransformer; got {type(pipeline).__name__}. Build it with "
            "make_pipeline(RelativeTransformer(...), head) and fit it on encoder "
            "A's embeddings."
        )
    if rows not in ("auto", "aligned", "anchors"):
        raise ValueError(f"rows must be 'auto', 'aligned' or 'anchors'; got {rows!r}.")
    first_name, rel_a = pipeline.steps[0]
    if not isinstance(rel_a, RelativeTransformer):
        raise TypeError(
            f"The pipeline's first step {first_name!r} is a "
            f"{type(rel_a).__name__}, not a RelativeTransformer, so it has no "
            "anchors to make parallel. Put a RelativeTransformer first, or use "
            "stitch_translated for a head fitted on absolute embeddings."
        )
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
        anchors_b = indices

    rel_b = clone(rel_a).set_params(anchors=anchors_b).fit(X_b)
    steps = [(first_name, rel_b)]
    steps += [(name, _frozen(step)) for name, step in pipeline.steps[1:]]
    return Pipeline(steps, verbose=pipeline.verbose)


def stitch_translated(head, X_b, X_a, *, translator=None, **translator_params):
    """Reuse a model fitted on encoder A's embeddings on encoder B, by translation.

    A translator fitted on parallel anchors (the same items embedded by B and
    by A) maps B's embeddings into A's space, where ``head`` runs unchanged
    (Maiorca et al., 2023). Unlike :func:`stitch_relative`, the head can be any
    model fitted on A's absolute embeddings.

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

    **translator_params : dict
        Parameters of the :class:`~sklatent.LatentTranslator`, such as
        ``method="affine"`` or ``device="cuda"``. Not allowed together with
        ``translator``.

    Returns
    -------
    stitched : Pipeline
        ``Pipeline([("translator", FrozenEstimator(fitted translator)),
        ("head", FrozenEstimator(head))])``. It predicts from B's embeddings
        right away, and ``fit`` changes nothing (the translator is frozen too,
        since the labels a pipeline is fitted with are not target embeddings).

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

    References
    ----------
    .. [1] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
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
    fitted = clone(translator).fit(X_b, X_a)
    return Pipeline([("translator", FrozenEstimator(fitted)), ("head", _frozen(head))])


def _numpy_dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


def _torch_dtype(dtype):
    """The torch dtype matching a numpy dtype."""
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def _module_device(module):
    """Device of the module's first parameter or buffer; None if it has neither."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return None


def _same_device(a, b):
    def canonical(device):
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        return device

    return canonical(a) == canonical(b)


@contextlib.contextmanager
def _evaluating(module, device):
    """Put ``module`` in eval mode on ``device``; restore both afterwards."""
    modes = [(submodule, submodule.training) for submodule in module.modules()]
    original = _module_device(module)
    move = original is not None and not _same_device(original, device)
    try:
        module.eval()
        if move:
            module.to(device)
        yield
    finally:
        if move:
            module.to(original)
        for submodule, mode in modes:
            submodule.training = mode


class EncoderTransformer(TransformerMixin, BaseEstimator):
    """Wrap an encoder (a torch module or any callable) as a scikit-learn step.

    ``transform`` feeds the inputs to ``encoder`` in batches of ``batch_size``
    rows and returns the embeddings, one row per input. A
    :class:`torch.nn.Module` runs in eval mode under
    :func:`torch.inference_mode` on ``device``; its train/eval modes (and its
    device, if it had to be moved) are restored afterwards. With this step a
    pipeline runs from raw inputs to predictions, ``raw -> encoder ->
    RelativeTransformer -> head``, and stitching a new encoder means swapping
    this step.

    ``fit`` learns nothing: it validates the input and records
    ``n_features_in_`` for 2-D numeric inputs. The encoder is used as given
    (pretrained); fine-tuning is out of scope.

    Parameters
    ----------
    encoder : torch.nn.Module or callable
        Maps a batch of inputs to a batch of embeddings, an array or tensor of
        shape (n_batch, n_dims) (any further axes are flattened; a 1-D output
        is one column). A module receives tensors on ``device``; any other
        callable receives each batch as the input's own kind of object (a
        numpy array, a tensor on ``device``, a list, ...). Use a module-level
        function or an importable object so the transformer can be pickled.

    batch_size : int, default=256
        Inputs passed to the encoder at once. Results do not depend on it,
        up to floating-point rounding, since eval mode turns batch statistics
        off in standard layers (batch normalisation, dropout).

    device : str, default="cpu"
        Where a module runs: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, or
        ``"auto"`` (the device of a tensor input, else CUDA when available,
        else the CPU). A module on another device is moved there for the call
        and moved back afterwards; place it on ``device`` beforehand to avoid
        the copies.

    dtype : str or None, default="float32"
        The numpy dtype name numeric inputs are cast to before encoding, such
        as ``"float32"`` or ``"int64"`` (token ids). None keeps the input's
        dtype. Used only when ``validate=True``.

    validate : bool, default=True
        Validate inputs as numeric arrays (non-empty, at least 2-D, finite,
        cast to ``dtype``; feature count checked against ``fit`` for 2-D
        inputs), as in :class:`sklearn.preprocessing.FunctionTransformer`.
        Set False to pass raw inputs unchanged, such as a list of strings for
        a text encoder; each batch is then a slice of the input.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during :term:`fit`; only set for 2-D numeric
        inputs with ``validate=True``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    stitch_relative : Reuse a relative-space pipeline across encoders.
    sklearn.preprocessing.FunctionTransformer : The stateless transformer this
        one resembles.

    Notes
    -----
    **Cloning.** ``encoder`` is a parameter. :func:`sklearn.base.clone` (used
    by cross-validation and searches) deep-copies parameters that are not
    estimators, so each clone holds its own copy of the module's weights:
    memory grows with the number of clones, and nothing done to one copy
    reaches the others. To share one large module without copies, wrap the
    step as ``FrozenEstimator(EncoderTransformer(module))``, whose clone is
    the object itself.

    **Pickling.** The module is pickled with the transformer (its weights and
    its class, by reference, so the class must be importable where the pickle
    is loaded). A module pickled on a GPU loads on a GPU; load it with
    ``torch.load(..., map_location="cpu")`` or move it with
    ``encoder.to("cpu")`` on a CPU-only machine.

    **Outputs.** A numpy-like input gives a numpy output; a torch tensor gives
    a tensor on the input's device. The output dtype is the encoder's.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklatent.stitching import EncoderTransformer
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    >>> encoder = EncoderTransformer(module, batch_size=2)
    >>> X = np.ones((5, 4))
    >>> Z = encoder.fit_transform(X)
    >>> Z.shape, Z.dtype
    ((5, 3), dtype('float32'))
    >>> bool(np.allclose(Z, Z[0]))  # eval mode: dropout is off
    True
    >>> module.training  # the module's own mode is restored
    True
    """

    _parameter_constraints: dict = {
        "encoder": [callable],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "dtype": [str, None],
        "validate": ["boolean"],
    }

    def __init__(
        self, encoder, *, batch_size=256, device="cpu", dtype="float32", validate=True
    ):
        self.encoder = encoder
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.validate = validate

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate ``X`` and record its number of features; nothing is learned.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, ...) or sequence
            Raw inputs of the encoder.
        y : None
            Ignored.

        Returns
        -------
        self : EncoderTransformer
            The transformer.
        """
        for attribute in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, attribute):
                delattr(self, attribute)
        self._check_input(X, reset=True)
        return self

    def transform(self, X):
        """Embed ``X`` with the encoder, batch by batch.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, ...) or sequence
            Raw inputs of the encoder.

        Returns
        -------
        X_emb : {ndarray, torch.Tensor} of shape (n_samples, n_dims)
            The embeddings; a tensor on the input's device for a tensor input.
        """
        X = self._check_input(X, reset=False)
        device = _backend.resolve_device(self.device, X)
        is_module = isinstance(self.encoder, torch.nn.Module)
        as_tensor = isinstance(X, torch.Tensor)
        n_samples = _n_rows(X)
        chunks = []
        context = (
            _evaluating(self.encoder, device) if is_module else contextlib.nullcontext()
        )
        with context, torch.inference_mode():
            for rows in gen_batches(n_samples, self.batch_size):
                batch = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
                if isinstance(batch, torch.Tensor):
                    batch = batch.to(device)
                elif is_module and isinstance(batch, np.ndarray):
                    batch = _backend.to_tensor(
                        batch, device=device, dtype=_torch_dtype(batch.dtype)
                    )
                result = self.encoder(batch)
                chunks.append(self._to_output(result, rows, as_tensor, X))
        if as_tensor:
            return torch.cat(chunks)
        return np.concatenate(chunks)

    def _check_input(self, X, *, reset):
        """Validate ``X`` as described for the ``validate`` parameter."""
        if not self.validate:
            if _n_rows(X) < 1:
                raise ValueError(
                    f"Found 0 inputs while a minimum of 1 is required by "
                    f"{type(self).__name__}."
                )
            return X
        dtype = _numpy_dtype(self.dtype)
        if isinstance(X, torch.Tensor):
            return self._check_tensor(X, dtype, reset=reset)
        fitted_2d = hasattr(self, "n_features_in_")
        X_checked = check_array(
            X,
            dtype="numeric" if dtype is None else dtype,
            allow_nd=True,
            input_name="X",
        )
        if X_checked.ndim == 2 and (reset or fitted_2d):
            X_checked = validate_data(
                self, X, reset=reset, dtype="numeric" if dtype is None else dtype
            )
        elif fitted_2d and not reset:
            raise ValueError(
                f"X has {X_checked.ndim} dimensions, but {type(self).__name__} was "
                f"fitted on 2-D input with {self.n_features_in_} features."
            )
        return X_checked

    def _check_tensor(self, X, dtype, *, reset):
        if X.ndim < 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D tensor instead. Reshape your "
                "data with X.reshape(-1, 1) if it has a single feature or "
                "X.reshape(1, -1) if it contains a single sample."
            )
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a "
                f"minimum of 1 is required by {type(self).__name__}."
            )
        if X.is_complex():
            raise ValueError("Complex data not supported.")
        if X.is_floating_point() and not bool(torch.isfinite(X).all()):
            kind = "NaN" if bool(torch.isnan(X).any()) else "infinity"
            raise ValueError(f"Input X contains {kind}.")
        if X.ndim == 2 and (reset or hasattr(self, "n_features_in_")):
            validate_data(self, X, reset=reset, skip_check_array=True)
        if dtype is not None:
            X = X.to(_torch_dtype(dtype))
        return X

    def _to_output(self, result, rows, as_tensor, X):
        """Turn one batch of encoder output into a 2-D chunk of the output."""
        n_batch = rows.stop - rows.start
        if isinstance(result, torch.Tensor):
            result = result.detach()
            result = result.to(X.device) if as_tensor else result.cpu().numpy()
        elif as_tensor:
            result = torch.as_tensor(np.asarray(result), device=X.device)
        else:
            result = np.asarray(result)
        if result.ndim == 0 or result.shape[0] != n_batch:
            raise ValueError(
                f"The encoder returned an output of shape {tuple(result.shape)} "
                f"for a batch of {n_batch} inputs; it must return one embedding "
                "per input, with the batch along the first axis."
            )
        return result.reshape(n_batch, -1)

    def __sklearn_is_fitted__(self):
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        tags.input_tags.three_d_array = True
        return tags
