"""The encoder step: a torch module, or any callable, as a scikit-learn transformer.

:class:`EncoderTransformer` maps a batch of raw inputs to embeddings, so that a
pipeline can start from raw inputs (``raw -> encoder -> RelativeTransformer ->
head``) and stitching a new encoder means swapping this step. It is re-exported
as ``sklatent.stitching.EncoderTransformer``, the path to import it from.
"""

import contextlib
import sys
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array, gen_batches

from . import _backend
from ._sklearn_compat import Interval, _fit_context, validate_data

__all__ = ["EncoderTransformer"]


def _n_rows(X):
    """Number of rows of an array-like or tensor."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


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

    verbose : bool, default=False
        Show the progress of ``transform`` on stderr, one line rewritten after
        each batch (``encoded 512/1000 inputs``).

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
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        encoder,
        *,
        batch_size=256,
        device="cpu",
        dtype="float32",
        validate=True,
        verbose=False,
    ):
        self.encoder = encoder
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.validate = validate
        self.verbose = verbose

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
                if self.verbose:
                    end = "\n" if rows.stop == n_samples else ""
                    print(
                        f"\rencoded {rows.stop}/{n_samples} inputs",
                        end=end,
                        file=sys.stderr,
                        flush=True,
                    )
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
        is_tensor = isinstance(X, torch.Tensor)
        if is_tensor:
            X_checked = X
        else:
            X_checked = check_array(
                X,
                dtype="numeric" if dtype is None else dtype,
                allow_nd=True,
                input_name="X",
            )
        if X_checked.ndim > 2 and hasattr(self, "n_features_in_"):
            raise ValueError(
                f"X has {X_checked.ndim} dimensions, but {type(self).__name__} was "
                f"fitted on 2-D input with {self.n_features_in_} features. Pass "
                "2-D input like the fitting data, or refit on n-D inputs."
            )
        # Only 2-D inputs record (reset) or are checked against n_features_in_.
        reset = reset and X_checked.ndim == 2
        if is_tensor:
            return self._check_tensor(X, dtype, reset=reset)
        if X_checked.ndim == 2:
            validate_data(self, X, reset=reset, skip_check_array=True)
        return X_checked

    def _check_tensor(self, X, dtype, *, reset):
        """Validate a tensor with the backend's rules; cast it to ``dtype``.

        :func:`sklatent._backend.check_array_or_tensor` checks the shape, the
        feature count and the values (finite, not complex) on the tensor's
        device, as for every estimator. An n-D input is checked as its rows
        flattened. The values it returns (integers made floating) are not
        kept, so that token ids reach the encoder as integers when
        ``dtype`` asks for them (or is None).
        """
        _backend.check_array_or_tensor(
            self, X if X.ndim <= 2 else X.flatten(1), reset=reset
        )
        return X if dtype is None else X.to(_torch_dtype(dtype))

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
