"""Torch modules for training with relative representations.

:class:`RelativeProjection` is the relative projection of
:class:`~sklatent.RelativeTransformer` as a :class:`torch.nn.Module`: the same
options and the same kernel (:func:`sklatent._kernels.relative_projection`),
inside a forward pass, so that a network can be trained on a relative latent
space whose anchors it embeds itself (Moschella et al., 2023).

This module imports :mod:`torch.nn`; ``import sklatent`` does not import it.
"""

import torch
from sklearn.utils.validation import check_is_fitted

from . import _backend, _kernels
from ._options import check_relative_options

__all__ = ["RelativeProjection"]

_STATISTICS = ("block_mean", "block_scale", "mean", "scale")


_HALF_DTYPES = (torch.float16, torch.bfloat16)
_NO_HALF_KERNEL = (_kernels.SIMILARITIES["l1"], _kernels.SIMILARITIES["linf"])


class RelativeProjection(torch.nn.Module):
    r"""Relative representation layer: similarities of inputs to anchors.

    Computes, for each row :math:`x` of the input and anchors
    :math:`a_1, \dots, a_k` (Moschella et al., 2023),

    .. math:: r(x) = \big[\operatorname{sim}(x, a_1), \dots,
              \operatorname{sim}(x, a_k)\big]

    with the options of :class:`~sklatent.RelativeTransformer` and the same
    kernel, so that for the same anchors and statistics both give the same
    vectors. The anchors are usually embedded by the same encoder in the
    same forward pass as the inputs (``forward(x, anchors)``), so gradients
    flow through both; they may also be stored in the module as a buffer
    (``anchors=`` or :meth:`from_transformer`), then ``forward(x)`` uses them.
    Gradients are finite everywhere, also for rows equal to anchors and for
    zero rows.

    Parameters
    ----------
    similarity : str, callable or list of those, default="cosine"
        ``"cosine"``, ``"dot"``, ``"euclidean"``, ``"l1"``, ``"linf"``, a
        callable ``f(X, A) -> (n, k) tensor`` (differentiable, for training),
        or a list of these, as in :class:`~sklatent.RelativeTransformer`.

    aggregation : {"concat", "sum", "mean"}, default="concat"
        How several similarities are combined. ``"sum"`` and ``"mean"``
        standardise each similarity block with statistics fitted on data
        (``block_mean`` and ``block_scale``, e.g. from :meth:`from_transformer`).

    center : bool, default=False
        Subtract the anchors' mean (of the anchors of each forward pass) from
        inputs and anchors first.

    normalize : {"l2", "standard", "layer"} or None, default=None
        Normalisation of the relative vectors. ``"standard"`` needs the
        column statistics ``mean`` and ``scale`` fitted on data (e.g. from
        :meth:`from_transformer`); inside training, ``"layer"`` or a
        :class:`torch.nn.LayerNorm` after the module does the same job with
        no fitting.

    top_k : int, default=None
        Keep each row's ``top_k`` largest entries and zero the rest.

    top_k_power : float, default=None
        Raise the kept entries to this power, keeping their sign.

    anchors : torch.Tensor of shape (n_anchors, n_features), default=None
        Anchors stored as a buffer, used when ``forward`` gets none.

    block_mean, block_scale : torch.Tensor of shape (n_blocks,), default=None
        Per-similarity (block) standardisation for ``"sum"`` and ``"mean"``
        aggregations (``block_mean_`` and ``block_scale_`` of a fitted
        :class:`~sklatent.RelativeTransformer`).

    mean, scale : torch.Tensor of shape (n_features_out,), default=None
        Column statistics for ``normalize="standard"`` (``mean_`` and
        ``scale_`` of a fitted transformer).

    Attributes
    ----------
    anchors, block_mean, block_scale, mean, scale : torch.Tensor or None
        Buffers: saved in the ``state_dict``, moved by ``.to()``.

    See Also
    --------
    sklatent.RelativeTransformer : The same projection as a scikit-learn
        transformer.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.

    Examples
    --------
    >>> import torch
    >>> from sklatent.nn import RelativeProjection
    >>> encoder = torch.nn.Linear(8, 4)
    >>> x, anchor_inputs = torch.randn(5, 8), torch.randn(10, 8)
    >>> project = RelativeProjection(center=True)
    >>> r = project(encoder(x), encoder(anchor_inputs))
    >>> r.shape
    torch.Size([5, 10])
    >>> r.sum().backward()
    >>> bool(torch.isfinite(encoder.weight.grad).all())
    True
    """

    def __init__(
        self,
        similarity="cosine",
        *,
        aggregation="concat",
        center=False,
        normalize=None,
        top_k=None,
        top_k_power=None,
        anchors=None,
        block_mean=None,
        block_scale=None,
        mean=None,
        scale=None,
    ):
        super().__init__()
        functions = [f for _, f in _kernels.resolve_similarities(similarity)]
        check_relative_options(
            "RelativeProjection",
            similarity=similarity,
            aggregation=aggregation,
            center=center,
            normalize=normalize,
            top_k=top_k,
            top_k_power=top_k_power,
        )
        self.similarity = similarity
        self.functions = functions
        self.aggregation = aggregation if len(functions) > 1 else "concat"
        self.center = center
        self.normalize = normalize
        self.top_k = top_k
        self.top_k_power = top_k_power
        if self.aggregation != "concat" and (block_mean is None or block_scale is None):
            raise ValueError(
                f"aggregation={aggregation!r} standardises each similarity block "
                "with statistics fitted on data, and none were given. Build the "
                "module with RelativeProjection.from_transformer(fitted), pass "
                "block_mean and block_scale, or use aggregation='concat'."
            )
        if normalize == "standard" and (mean is None or scale is None):
            raise ValueError(
                "normalize='standard' standardises each relative feature with "
                "statistics fitted on data, and none were given. Build the module "
                "with RelativeProjection.from_transformer(fitted), pass mean and "
                "scale, or use normalize='layer' (or a LayerNorm) when training."
            )
        buffers = {
            "anchors": anchors,
            "block_mean": block_mean,
            "block_scale": block_scale,
            "mean": mean,
            "scale": scale,
        }
        for name, value in buffers.items():
            self.register_buffer(
                name, None if value is None else torch.as_tensor(value)
            )

    @classmethod
    def from_transformer(cls, transformer):
        """Build the module of a fitted :class:`~sklatent.RelativeTransformer`.

        Its anchors and fitted statistics become buffers, so ``forward(x)``
        returns what ``transformer.transform(x)`` returns (to float
        tolerance), on any device the module is moved to.

        Parameters
        ----------
        transformer : RelativeTransformer
            A fitted transformer.

        Returns
        -------
        RelativeProjection
            The module, with the transformer's dtype (``.float()`` or
            ``.double()`` converts it).

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from sklatent import RelativeTransformer
        >>> from sklatent.nn import RelativeProjection
        >>> X = np.random.RandomState(0).normal(size=(50, 4))
        >>> rel = RelativeTransformer(n_anchors=8, normalize="standard",
        ...                           random_state=0).fit(X)
        >>> project = RelativeProjection.from_transformer(rel)
        >>> r = project(torch.from_numpy(X))
        >>> bool(np.allclose(r.numpy(), rel.transform(X)))
        True
        """
        check_is_fitted(transformer)
        anchors = torch.from_numpy(transformer.anchors_)
        statistics = {
            name: torch.as_tensor(getattr(transformer, f"{name}_"), dtype=anchors.dtype)
            for name in _STATISTICS
            if getattr(transformer, f"{name}_") is not None
        }
        return cls(
            transformer.similarity,
            aggregation=transformer.aggregation,
            center=transformer.center,
            normalize=transformer.normalize,
            top_k=transformer.top_k,
            top_k_power=transformer.top_k_power,
            anchors=anchors,
            **statistics,
        )

    def forward(self, x, anchors=None):
        """Relative vectors of ``x`` with respect to ``anchors``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Embeddings.
        anchors : torch.Tensor of shape (n_anchors, n_features), default=None
            Anchor embeddings, typically computed in the same forward pass;
            None uses the stored ``anchors`` buffer.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_features_out)
            ``n_anchors`` columns per similarity (concatenated), or
            ``n_anchors`` for a ``"sum"`` or ``"mean"`` aggregation.
        """
        if anchors is None:
            anchors = self.anchors
            if anchors is None:
                raise ValueError(
                    "No anchors: pass forward(x, anchors), or build the module "
                    "with anchors= or RelativeProjection.from_transformer(...)."
                )
        if x.ndim != 2 or anchors.ndim != 2 or x.shape[1] != anchors.shape[1]:
            raise ValueError(
                f"x of shape {tuple(x.shape)} and anchors of shape "
                f"{tuple(anchors.shape)} must be 2-D with the same number of "
                "features (columns): rows of one embedding space."
            )
        self._check_values(x, anchors)
        width = anchors.shape[0] * (
            len(self.functions) if self.aggregation == "concat" else 1
        )
        if self.top_k is not None and self.top_k > width:
            raise ValueError(
                f"top_k={self.top_k} keeps more entries than the {width} relative "
                f"coordinates there are; use top_k <= {width}."
            )
        blocks = self.aggregation != "concat"
        return _kernels.relative_projection(
            x,
            anchors,
            self.functions,
            center=anchors.mean(dim=0) if self.center else None,
            block_mean=self.block_mean.tolist() if blocks else None,
            block_scale=self.block_scale.tolist() if blocks else None,
            aggregation=self.aggregation,
            top_k=self.top_k,
            top_k_power=self.top_k_power,
            normalize=self.normalize,
            mean=self.mean,
            scale=self.scale,
        )

    def _check_values(self, x, anchors):
        """Raise a TypeError or ValueError naming what torch would fail on."""
        for name, t in (("x", x), ("anchors", anchors)):
            if not t.is_floating_point():
                raise TypeError(
                    f"{name} has dtype {t.dtype}; RelativeProjection needs "
                    f"floating-point embeddings. Cast it first, e.g. {name}.float()."
                )
        if x.dtype != anchors.dtype:
            raise TypeError(
                f"x has dtype {x.dtype} but anchors have {anchors.dtype}; pass "
                "both in one dtype (e.g. anchors.to(x.dtype))."
            )
        if x.dtype in _HALF_DTYPES:
            slow = [
                n
                for n, f in zip(self._names(), self.functions, strict=True)
                if f in _NO_HALF_KERNEL
            ]
            if slow:
                raise TypeError(
                    f"the {slow[0]!r} similarity has no {x.dtype} kernel in "
                    "torch; pass float32 inputs (x.float(), anchors.float())."
                )
        for name, t in (("x", x), ("anchors", anchors)):
            _backend.check_finite(t, name)

    def _names(self):
        return [n for n, _ in _kernels.resolve_similarities(self.similarity)]

    def extra_repr(self):
        options = [f"similarity={self.similarity!r}"]
        for name in ("aggregation", "center", "normalize", "top_k", "top_k_power"):
            value = getattr(self, name)
            if value not in (None, False, "concat"):
                options.append(f"{name}={value!r}")
        if self.anchors is not None:
            options.append(f"anchors={tuple(self.anchors.shape)}")
        return ", ".join(options)
