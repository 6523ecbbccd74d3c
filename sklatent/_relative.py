"""RelativeTransformer: describe each sample by its similarities to anchors."""

import operator
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from . import _backend, _dask, _kernels, _validation
from ._base import TorchTransformer, check_magnitude
from ._kernels.inverse import anchor_pseudo_inverse, inverse_relative_projection
from ._options import RELATIVE_OPTIONS
from ._sklearn_compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)
from .anchors import (
    STRATEGIES,
    check_anchor_indices,
    select_anchors,
    warn_if_degenerate,
)


class RelativeTransformer(TorchTransformer):
    r"""Relative representation: similarities of each sample to a set of anchors.

    Each sample :math:`x` is described by its similarities to :math:`k` anchor
    embeddings :math:`a_1, \dots, a_k` (Moschella et al., 2023):

    .. math:: r(x) = \big[\operatorname{sim}(x, a_1), \dots,
              \operatorname{sim}(x, a_k)\big] \in \mathbb{R}^k

    With the default cosine similarity, :math:`r` is unchanged when samples and
    anchors are rotated, reflected or rescaled together, so two encoders whose
    latent spaces differ by such a map give the same relative vectors when
    their anchors are *parallel* (the same items embedded by each encoder). A
    model fitted on one encoder's relative vectors then works on another's:
    zero-shot stitching. Several similarities may be combined, each invariant
    to a different class of maps (product of invariances, Cannistraci et al.,
    2024).

    The transform runs as torch kernels on ``device``, over row batches of
    ``batch_size``; its result does not depend on the batch size.

    Parameters
    ----------
    n_anchors : int or float, default=256
        Number of anchors drawn from the fitting rows by the ``anchors``
        strategy. A float in (0, 1] is a fraction of the rows, rounded up.
        Ignored when ``anchors`` is an array.

    anchors : str or array-like, default="random"
        How anchors are chosen:

        - ``"random"``: distinct rows drawn uniformly with ``random_state``;
        - ``"kmeans"``: for each k-means cluster, the real row nearest its
          centroid (distinct rows);
        - ``"farthest"``: farthest point sampling from a seeded first row;
        - ``"stratified"``: rows drawn per class of ``y`` in proportion to the
          class sizes, at least one per class when possible;
        - a 1-D integer array: row indices into the fitting ``X``. Passing
          another encoder's ``anchor_indices_`` gives parallel anchors for
          row-aligned data;
        - a 2-D array of shape (n_anchors, n_features): the anchor embeddings
          themselves.

    similarity : str, callable or list of those, default="cosine"
        ``"cosine"``, ``"dot"``, ``"euclidean"``, ``"l1"`` or ``"linf"``.
        Distances are returned negated (``-||x - a||``), so that larger always
        means more similar. A callable takes two tensors ``(X, A)`` of shapes
        (n, d) and (k, d) and returns an (n, k) tensor on the same device; use
        a module-level function so that the estimator can be pickled. A list
        combines several similarities with ``aggregation``.

    aggregation : {"concat", "sum", "mean"}, default="concat"
        How several similarities are combined. ``"concat"`` places their
        blocks side by side (``k`` columns per similarity). ``"sum"`` and
        ``"mean"`` first standardise each block with one scalar mean and
        standard deviation, learned over all its entries on the fitting rows,
        so that no similarity dominates by scale, then add the blocks
        (``"mean"`` also divides by their number). Ignored for a single
        similarity.

    center : bool, default=False
        Subtract the anchors' mean from samples and anchors before computing
        similarities. This makes cosine invariant to translations, and helps
        a lot with anisotropic spaces where all embeddings share a direction.

    normalize : {"l2", "standard", "layer"} or None, default=None
        Normalisation of the relative vectors (applied last):

        - ``"l2"``: each row scaled to unit norm;
        - ``"standard"``: each column standardised with the mean and standard
          deviation it has on the fitting rows;
        - ``"layer"``: each row standardised over its own entries (a layer
          normalisation without learned parameters, as in the decoders of
          Moschella et al., 2023).

    top_k : int, default=None
        Keep each row's ``top_k`` largest similarities and set the rest to
        zero, giving sparse vectors as in ASIF (Norelli et al., 2023). At
        most the output width (``n_anchors`` times the number of similarities
        when they are concatenated); None keeps every entry.

    top_k_power : float, default=None
        Raise the entries kept by ``top_k`` to this power, keeping their sign
        (ASIF uses 8). Applies to every entry when ``top_k`` is None.

    device : str, default="cpu"
        Where the kernels run: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``,
        or ``"auto"`` (the device of a tensor input, else CUDA when available,
        else the CPU). An unavailable explicit device is an error.

    batch_size : int, default=None
        Rows sent to the device at once; results never depend on it. None
        gives about 64 MiB of work per batch on the CPU (at least 2,048
        rows), and on other devices as many rows as scikit-learn's
        ``working_memory`` setting allows, which also caps the CPU batches.

    random_state : int, RandomState instance or None, default=None
        Seed of the anchor strategy. Anchors are drawn with numpy, so the same
        seed gives the same anchors on every device.

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors, `n_features_in_`)
        The anchor embeddings, as given or as rows of the fitting ``X``.

    anchor_indices_ : ndarray of shape (n_anchors,) or None
        Row indices of the anchors in the fitting ``X``; None when anchors were
        given as embeddings.

    center_ : ndarray of shape (`n_features_in_`,) or None
        Mean of the anchors, subtracted when ``center=True``.

    block_mean_ : ndarray of shape (n_similarities,) or None
        Per-similarity mean on the fitting rows, used by the ``"sum"`` and
        ``"mean"`` aggregations.

    block_scale_ : ndarray of shape (n_similarities,) or None
        Per-similarity standard deviation matching ``block_mean_``.

    mean_ : ndarray of shape (n_features_out,) or None
        Column means of the relative vectors of the fitting rows, when
        ``normalize="standard"``.

    scale_ : ndarray of shape (n_features_out,) or None
        Column standard deviations matching ``mean_``; those of constant
        columns (see :ref:`numerics`) are 1.

    mean_norm_ : float
        Mean Euclidean norm of the fitting rows, after subtracting
        ``center_`` when ``center=True``: the length
        :meth:`inverse_transform` gives the directions it recovers.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    LatentTranslator : Map one encoder's embeddings into another's space.

    Notes
    -----
    The order of operations is: centre (optional), similarities, block
    standardisation and aggregation (several similarities with ``"sum"`` or
    ``"mean"``), ``top_k`` and ``top_k_power``, ``normalize``.

    A zero vector (an input for which an encoder returns all zeros) has cosine
    similarity 0 to every anchor, never NaN.

    A numpy input gives a numpy output (respecting ``set_output``); a torch
    tensor gives a tensor on the input's device. float32 stays float32. A
    tensor that requires gradients gives a differentiable output, so a
    relative representation can sit inside a training loss.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] I. Cannistraci, L. Moschella, M. Fumero, V. Maiorca, E. Rodolà.
       "From Bricks to Bridges: Product of Invariances to Enhance Latent
       Space Communication." ICLR 2024.
    .. [3] A. Norelli, M. Fumero, V. Maiorca, L. Moschella, E. Rodolà,
       F. Locatello. "ASIF: Coupled Data Turns Unimodal Models to
       Multimodal without Training." NeurIPS 2023.
    .. [4] V. Maiorca, L. Moschella, M. Fumero, F. Locatello, E. Rodolà.
       "Latent Space Translation via Inverse Relative Projection."
       arXiv:2406.15057, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent import RelativeTransformer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 16))
    >>> rel = RelativeTransformer(n_anchors=10, random_state=0).fit(X)
    >>> rel.transform(X).shape
    (100, 10)
    >>> rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    >>> rel_b = RelativeTransformer(anchors=rel.anchor_indices_).fit(3 * X @ rotation)
    >>> bool(np.allclose(rel.transform(X), rel_b.transform(3 * X @ rotation)))
    True
    """

    _parameter_constraints: dict = {
        "n_anchors": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "anchors": [StrOptions(set(STRATEGIES)), "array-like"],
        **RELATIVE_OPTIONS,
        "device": [str],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_anchors=256,
        anchors="random",
        similarity="cosine",
        aggregation="concat",
        center=False,
        normalize=None,
        top_k=None,
        top_k_power=None,
        device="cpu",
        batch_size=None,
        random_state=None,
    ):
        self.n_anchors = n_anchors
        self.anchors = anchors
        self.similarity = similarity
        self.aggregation = aggregation
        self.center = center
        self.normalize = normalize
        self.top_k = top_k
        self.top_k_power = top_k_power
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the anchors and learn the statistics the transform needs.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features)
            Embeddings of the fitting rows.
        y : array-like of shape (n_samples,), default=None
            Class labels, used only by ``anchors="stratified"``.

        Returns
        -------
        self : RelativeTransformer
            The fitted transformer.
        """
        X = self._check_input(X, reset=True)
        self._device(X)
        similarities = self._similarities()
        self.anchor_indices_, self.anchors_ = self._choose_anchors(
            self._readable_rows(X, self.anchors), _dask.compute_labels(y)
        )
        self.center_ = self.anchors_.mean(axis=0) if self.center else None
        self.mean_norm_ = self._mean_norm(X)
        warn_if_degenerate(
            self.anchors_ if self.center_ is None else self.anchors_ - self.center_
        )
        n_blocks = len(similarities)
        k = self.anchors_.shape[0]
        self._n_features_out = k * n_blocks if self._concatenates() else k
        limit, what = self._overflow_limit(_backend.torch_dtype(X))
        check_magnitude(self.anchors_, limit, what=what)
        if self.top_k is not None and self.top_k > self._n_features_out:
            raise ValueError(
                f"top_k={self.top_k} keeps more entries than the "
                f"{self._n_features_out} relative coordinates there are; use "
                f"top_k <= {self._n_features_out}, or top_k=None to keep them all."
            )

        self.block_mean_ = self.block_scale_ = self.mean_ = self.scale_ = None
        if not self._concatenates():
            moments = self._moments(X, stage="blocks")
            # Pooled moments of each block's n * k entries, from its columns'.
            count, block_mean, block_m2 = _kernels.pool_moments(*moments, n_blocks)
            block_var = block_m2 / count
            constant = _kernels.constant_features(
                block_var, block_mean, count, relative_floor=False
            )
            self.block_mean_ = block_mean.numpy()
            self.block_scale_ = _kernels.safe_scale(block_var.sqrt(), constant).numpy()

        if self.normalize == "standard":
            count, mean, m2 = self._moments(X, stage="normalize")
            var = m2 / count
            constant = _kernels.constant_features(var, mean, count)
            self.mean_ = mean.numpy()
            self.scale_ = _kernels.safe_scale(var.sqrt(), constant).numpy()
        return self

    def transform(self, X, out=None):
        """Return the relative representation of ``X``.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features)
            Embeddings, in the same space as the anchors.

        out : {ndarray, torch.Tensor} of shape (n_samples, n_features_out), \
                default=None
            Where to write the result, batch by batch, instead of a new array.
            A writable :class:`numpy.memmap` makes the output as large as the
            disk allows: with a memory-mapped ``X`` and a fixed
            ``batch_size``, memory then stays bounded whatever ``n_samples``.
            A numpy array (or memmap) for an array-like ``X``, a tensor on
            ``X``'s device for a tensor ``X``; its dtype is the output's
            (float32 for float32 input, else float64), and it must not share
            memory with ``X``.

        Returns
        -------
        X_rel : {ndarray, torch.Tensor} of shape (n_samples, n_features_out)
            Similarities to the anchors; a tensor for a tensor input, on the
            same device. ``out`` itself when given (before any wrapping
            requested with ``set_output``).
        """
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        return self._map_rows(
            X,
            self._projection(X, stage="output"),
            n_features_out=self._n_features_out,
            row_bytes=self._row_bytes(X),
            out=out,
        )

    def inverse_transform(self, X, out=None, *, alpha=0.0):
        r"""Map cosine relative vectors back to absolute vectors in this space.

        The inverse relative projection (Maiorca et al., 2024). A cosine
        relative vector is :math:`r = \hat A \hat x`: the similarities of the
        unit sample :math:`\hat x` to the unit anchors :math:`\hat A` (both
        centred on ``center_`` first when ``center=True``). Its direction is
        recovered by least squares against this transformer's anchors, then
        given the length ``mean_norm_`` and shifted back by ``center_``:

        .. math:: x = \mathrm{mean\_norm\_} \cdot
                  \frac{\hat A^{+} r}{\lVert \hat A^{+} r \rVert}
                  + \mathrm{center\_}

        ``X`` may come from another encoder's transformer with *parallel*
        anchors: the result then translates that encoder's embeddings into
        this space without fitting any map between the two. When the two
        spaces differ by an angle-preserving map (a rotation, reflection or
        rescaling, and a translation when ``center=True``) and the anchors
        span this space (at least ``n_features_in_`` anchors in general
        position), the direction is exact; the length is always
        ``mean_norm_``, since cosines carry no norm. With fewer anchors the
        direction is the minimum-norm least-squares solution, within the
        span of the anchors.

        Relative vectors from a real encoder match this space's only
        approximately, and the least squares amplifies their differences
        along the directions the (unit) anchors barely span, by up to the
        anchors' condition number. ``alpha`` damps those directions (ridge
        regression, relative to the largest squared singular value of the
        anchors); the generation guide measures what ``alpha=0.1`` gains on
        real encoders.

        Only cosine relative vectors can be inverted: other similarities,
        ``top_k`` (which zeroes entries) and ``normalize="layer"`` (which
        removes each row's mean) lose the information. ``normalize="l2"``
        only rescales rows, and ``normalize="standard"`` and ``top_k_power``
        are undone with this transformer's statistics.

        Parameters
        ----------
        X : {array-like, torch.Tensor} of shape (n_samples, n_features_out)
            Relative vectors, as :meth:`transform` returns them.

        out : {ndarray, torch.Tensor}, default=None
            Where to write the result, of shape (n_samples,
            `n_features_in_`), as in :meth:`transform`.

        alpha : float, default=0.0
            Ridge penalty of the least squares, relative to the largest
            squared singular value of the unit anchors; 0 solves exactly
            (minimum norm when the anchors do not span the space).

        Returns
        -------
        X_original : {ndarray, torch.Tensor} of shape (n_samples, `n_features_in_`)
            Absolute vectors in the space of the anchors; a tensor for a
            tensor input, on the same device.

        Examples
        --------
        >>> import numpy as np
        >>> from sklatent import RelativeTransformer
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(100, 4))
        >>> rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
        >>> rel_a = RelativeTransformer(n_anchors=10, random_state=0).fit(X)
        >>> rel_b = RelativeTransformer(anchors=rel_a.anchor_indices_).fit(X @ rotation)
        >>> X_b = rel_b.inverse_transform(rel_a.transform(X))
        >>> unit = lambda V: V / np.linalg.norm(V, axis=1, keepdims=True)
        >>> bool(np.allclose(unit(X_b), unit(X @ rotation)))
        True
        >>> bool(np.allclose(np.linalg.norm(X_b, axis=1), rel_b.mean_norm_))
        True
        """
        check_is_fitted(self)
        self._check_invertible()
        if not (isinstance(alpha, Real) and 0 <= alpha < float("inf")):
            raise ValueError(
                f"alpha={alpha!r} must be a finite number >= 0 (0 solves the least "
                "squares exactly; 0.01 to 0.1 damps poorly determined directions)."
            )
        R = _validation.check_matrix(X, "X")
        if R.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {R.shape[1]} columns, but this transformer's relative "
                f"vectors have {self._n_features_out} (one per anchor); pass "
                "relative vectors computed with parallel anchors, as many as "
                "this transformer's."
            )
        device, dtype = self._device(R), _backend.torch_dtype(R)

        def tensor(array):
            if array is None:
                return None
            return _backend.to_tensor(array, device=device, dtype=dtype)

        # The anchors' own precision decides which directions they determine.
        anchor_dtype = _backend.torch_dtype(self.anchors_)
        pinv = anchor_pseudo_inverse(
            _backend.to_tensor(self.anchors_, device=device, dtype=anchor_dtype),
            center=None
            if self.center_ is None
            else _backend.to_tensor(self.center_, device=device, dtype=anchor_dtype),
            alpha=float(alpha),
        ).to(dtype)
        options = {
            "norm": float(self.mean_norm_),
            "center": tensor(self.center_),
            "mean": tensor(self.mean_),
            "scale": tensor(self.scale_),
            "power": self.top_k_power,
        }

        def invert(r, dest):
            result = inverse_relative_projection(r, pinv, **options)
            if dest is None:
                return result
            return dest.copy_(result)

        row_bytes = (R.shape[1] + 2 * self.n_features_in_) * _backend.itemsize(R)
        return self._map_rows(
            R, invert, n_features_out=self.n_features_in_, row_bytes=row_bytes, out=out
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, such as ``cosine_a17``.

        A column is named after its similarity (or the aggregation, when
        several similarities are summed or averaged) and its anchor: the
        anchor's row index in the fitting ``X`` when anchors were rows, else
        its position.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Output column names.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        labels = (
            self.anchor_indices_
            if self.anchor_indices_ is not None
            else range(self.anchors_.shape[0])
        )
        if self._concatenates():
            prefixes = [name for name, _ in self._similarities()]
        else:
            prefixes = [self.aggregation]
        return np.asarray(
            [f"{prefix}_a{label}" for prefix in prefixes for label in labels],
            dtype=object,
        )

    def _similarities(self):
        """Return ``[(name, function), ...]`` for the ``similarity`` parameter."""
        return _kernels.resolve_similarities(self.similarity)

    def _concatenates(self):
        return self.aggregation == "concat" or len(self._similarities()) == 1

    def _choose_anchors(self, X, y):
        """Return ``(anchor_indices, anchor_embeddings)`` for the fitting ``X``."""
        if isinstance(self.anchors, str):
            indices = select_anchors(
                self.anchors, X, self.n_anchors, y=y, random_state=self.random_state
            )
            return indices, X[indices].copy()
        given = _backend.as_numpy(self.anchors)
        if given.ndim == 2:
            embeddings = check_array(
                given, dtype=X.dtype, input_name="anchors", copy=True
            )
            if embeddings.shape[1] != X.shape[1]:
                raise ValueError(
                    f"anchors has {embeddings.shape[1]} features but X has "
                    f"{X.shape[1]}; anchor embeddings must live in X's space."
                )
            return None, embeddings
        indices = check_anchor_indices(given, X.shape[0])
        return indices, X[indices].copy()

    def _row_bytes(self, X):
        """Memory per row of a batch: the row, its similarities, temporaries."""
        width = self.anchors_.shape[0] * len(self._similarities())
        return (X.shape[1] + 3 * width) * _backend.itemsize(X)

    def _projection(self, X, *, stage):
        """``project(x, dest)``: relative vectors of a batch up to ``stage``.

        Anchors and fitted statistics go to the device once per call, as
        tensors local to it. Each batch's values are checked against the
        similarities' overflow limits first.
        """
        device = self._device(X)
        dtype = _backend.torch_dtype(X)

        def tensor(array):
            if array is None:
                return None
            return _backend.to_tensor(array, device=device, dtype=dtype)

        A = tensor(self.anchors_)
        limit, what = self._overflow_limit(dtype)
        options = {
            "center": tensor(self.center_),
            "block_mean": self.block_mean_,
            "block_scale": self.block_scale_,
            "aggregation": self.aggregation,
            "top_k": self.top_k,
            "top_k_power": self.top_k_power,
            "normalize": self.normalize,
            "mean": tensor(self.mean_),
            "scale": tensor(self.scale_),
            "stage": stage,
        }
        functions = [function for _, function in self._similarities()]

        def project(x, dest):
            check_magnitude(x, limit, what=what)
            return _kernels.relative_projection(x, A, functions, out=dest, **options)

        return project

    def _check_invertible(self):
        """Raise when the relative vectors cannot be mapped back."""
        functions = [function for _, function in self._similarities()]
        lost = []
        if functions != [_kernels.cosine_similarity]:
            lost.append(f"similarity={self.similarity!r}")
        if self.top_k is not None:
            lost.append(f"top_k={self.top_k}")
        if self.normalize == "layer":
            lost.append("normalize='layer'")
        if lost:
            raise ValueError(
                f"inverse_transform inverts cosine relative vectors only, but "
                f"this transformer has {', '.join(lost)}, which loses what is "
                "needed to recover the absolute vectors. Fit it with "
                "similarity='cosine', top_k=None and normalize None, 'l2' or "
                "'standard', or translate embeddings with LatentTranslator."
            )

    def _mean_norm(self, X):
        """Mean norm of the rows of ``X``, centred on ``center_`` if set."""
        center = None
        if self.center_ is not None:
            center = _backend.to_tensor(
                self.center_, device=self._device(X), dtype=_backend.torch_dtype(X)
            )
        row_bytes = 2 * X.shape[1] * _backend.itemsize(X)
        total = self._reduce_rows(
            partial(_norm_sum, center=center), operator.add, X, row_bytes=row_bytes
        )
        return float(total) / X.shape[0]

    def _overflow_limit(self, dtype):
        """The largest safe input magnitude, and the similarity it comes from."""
        limit, name = min(
            (_kernels.largest_safe_value(name, dtype, self.anchors_.shape[1]), name)
            if function in _kernels.SIMILARITIES.values()
            else (np.inf, name)
            for name, function in self._similarities()
        )
        return limit, f"the {name!r} similarity"

    def _moments(self, X, *, stage):
        """Column moments of the relative vectors of ``X`` up to ``stage``."""
        project = self._projection(X, stage=stage)
        count, mean, m2 = self._reduce_rows(
            partial(_projected_moments, project),
            _kernels.merge_moments,
            X,
            row_bytes=self._row_bytes(X),
        )
        return count, mean.cpu(), m2.cpu()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = isinstance(self.anchors, str) and (
            self.anchors == "stratified"
        )
        return tags


def _projected_moments(project, x):
    """Column moments of one batch's relative vectors."""
    return _kernels.column_moments(project(x, None))


def _norm_sum(x, *, center):
    """Sum of the row norms of one batch, centred on ``center`` when given."""
    if center is not None:
        x = x - center
    return _kernels.row_norms(x).sum(dtype=torch.float64)
