"""The sufficient statistics of parallel pairs that a LatentTranslator keeps.

One chunk's statistics (:func:`pair_statistics`), their exact merge
(:func:`merge_statistics`, in any grouping: batches, ``partial_fit`` calls,
dask blocks), and the record of them stored on the estimator as numpy arrays
(:func:`to_record`, :func:`from_record`), so that a pickled or skops-saved
translator keeps streaming. The statistics are the count, the means, the
centred sums of squares and cross-products of the pairs and, for least
squares, the QR factor of the centred ``X`` with the projection of the centred
``y`` on it (:class:`~sklatent._kernels.CrossMoments`), plus the sums of the
row norms for ``normalize="l2"``; see :class:`~sklatent.LatentTranslator`'s
Notes for the merge rules and their references.

Pairs of extreme magnitude (for instance ``X * 1e300`` or ``X * 1e-300``) are
scaled by a power of two before their statistics are taken
(:mod:`sklatent._kernels.powers`), and the statistics carry that power (their
*exponents*): the statistics neither overflow nor lose digits to underflow,
and the fitted map is the one of the unscaled pairs (see
:func:`~sklatent._translation_solve.unscale`). Pairs of ordinary magnitude
(real embeddings) are not touched: their exponents are 0.
"""

import torch

from . import _backend, _kernels


def pair_statistics(x, y, *, normalize, **options):
    """``(CrossMoments, norm sums, exponents)`` of one chunk of pairs, in float64.

    Parameters
    ----------
    x, y : torch.Tensor of shape (n, d_x) and (n, d_y)
        Row-aligned pairs, each in its own dtype (``cross_moments`` centres a
        float64 copy).
    normalize : {"standard", "center", "l2"} or None
        The translator's normalisation; ``"l2"`` scales rows to unit norm
        first and sums the row norms.
    **options : dict
        ``gram`` or ``factor`` of :func:`~sklatent._kernels.cross_moments`.

    Returns
    -------
    moments : CrossMoments
    norms : torch.Tensor of shape (2,) or None
        Sums of the row norms of ``x`` and ``y`` for ``"l2"``.
    exponents : tuple of int
        ``(a, b)``: the statistics are those of ``x * 2**-a`` and
        ``y * 2**-b`` (see :func:`~sklatent._kernels.binary_exponent`).
    """
    exponents = (_kernels.binary_exponent(x), _kernels.binary_exponent(y))
    if any(exponents):
        x, y = (
            _kernels.scale_exactly(z.to(torch.float64), -e)
            for z, e in zip((x, y), exponents, strict=True)
        )
    norms = None
    if normalize == "l2":
        x, y = x.to(torch.float64), y.to(torch.float64)
        norms = torch.stack(
            [
                _kernels.row_norms(x).sum(dtype=torch.float64),
                _kernels.row_norms(y).sum(dtype=torch.float64),
            ]
        )
        x, y = _kernels.unit_rows(x), _kernels.unit_rows(y)
    return _kernels.cross_moments(x, y, **options), norms, exponents


def merge_statistics(first, second):
    """Merge two ``(CrossMoments, norm sums, exponents)`` of disjoint chunks.

    Both are first brought to the larger exponent of each space.
    """
    exponents = tuple(max(a, b) for a, b in zip(first[2], second[2], strict=True))
    (moments_a, norms_a, _), (moments_b, norms_b, _) = (
        rescale(first, exponents),
        rescale(second, exponents),
    )
    moments = _kernels.merge_cross_moments(moments_a, moments_b)
    norms = None if norms_a is None else norms_a + norms_b.to(norms_a)
    return moments, norms, exponents


def rescale(statistics, exponents):
    """The same statistics, of the pairs scaled by ``2**-exponents`` instead."""
    moments, norms, (a, b) = statistics
    da, db = a - exponents[0], b - exponents[1]
    if not (da or db):
        return statistics

    def scaled(value, power):
        return None if value is None else _kernels.scale_exactly(value, power)

    moments = moments._replace(
        mean_x=scaled(moments.mean_x, da),
        mean_y=scaled(moments.mean_y, db),
        m2_x=scaled(moments.m2_x, 2 * da),
        m2_y=scaled(moments.m2_y, 2 * db),
        cross=scaled(moments.cross, da + db),
        gram=scaled(moments.gram, 2 * da),
        factor=scaled(moments.factor, da),
        projected=scaled(moments.projected, db),
    )
    if norms is not None:
        norms = torch.stack(
            [_kernels.scale_exactly(norms[0], da), _kernels.scale_exactly(norms[1], db)]
        )
    return moments, norms, tuple(exponents)


def shortcut_rtol(X):
    """The error a fit on pairs like ``X`` may take from squared conditioning.

    The Gram-matrix shortcuts (:func:`~sklatent._kernels.gram_factor`, the
    eigendecomposition route of :func:`~sklatent._kernels.procrustes`) are
    taken for float32 pairs when they add a relative error below a
    thousandth of float32's resolution, and never for float64 pairs (None).
    """
    if _backend.torch_dtype(X) != torch.float32:
        return None
    return 1e-3 * torch.finfo(torch.float32).eps


def to_record(moments, norms, exponents):
    """The statistics as a dict of numpy arrays (and ints), for pickling."""
    record = {
        name: value.cpu().numpy() if isinstance(value, torch.Tensor) else value
        for name, value in moments._asdict().items()
    }
    record["norms"] = None if norms is None else norms.cpu().numpy()
    record["exponents"] = tuple(int(e) for e in exponents)
    return record


def from_record(record, *, device, method):
    """The statistics of a :func:`to_record` dict, as float64 tensors on ``device``.

    Records saved before exponents existed have exponents ``(0, 0)``.

    Raises
    ------
    ValueError
        When least squares (any ``method`` but ``"orthogonal"``) needs the QR
        factor and the record was made without it.
    """

    def tensor(value):
        if value is None:
            return None
        return torch.as_tensor(value, dtype=torch.float64, device=device)

    if method != "orthogonal" and record["factor"] is None:
        raise ValueError(
            f"method={method!r} needs the QR factor of X, which earlier "
            "partial_fit calls with method='orthogonal' did not keep. Refit "
            "with fit, or start a new translator."
        )
    moments = _kernels.CrossMoments(
        record["count"],
        *(tensor(record.get(name)) for name in _kernels.CrossMoments._fields[1:]),
    )
    return moments, tensor(record["norms"]), tuple(record.get("exponents", (0, 0)))
