"""Similarity of two spaces without fitting a map: CKA and the Procrustes shape metric.

All of them are invariant to a positive scale of either space, so each space
is first multiplied by the power of two that brings its largest entry into
[0.5, 1): any finite input gives a finite result (no overflow of squares for
1e200, no underflow for 1e-200), and the values are exactly those of the
unscaled data.
"""

import math
import operator
from functools import partial
from numbers import Real
from typing import NamedTuple

import torch

from .. import _backend, _dask, _validation
from .._kernels import (
    constant_features,
    cross_moments,
    merge_cross_moments,
    row_norms,
    squared_euclidean,
    statistics_device,
)
from .._kernels.median import median_squared_distance
from .._sklearn_compat import Interval
from ._common import (
    PAIR,
    PLUMBING,
    compute_dtype,
    max_abs,
    power_of_two_scale,
    rows,
    undefined,
    validate_params,
)


class _Statistics(NamedTuple):
    """Centred second moments of the live features of scaled ``X`` and ``Y``."""

    n: int
    cross: torch.Tensor  # X_c^T Y_c, (d_x, d_y), float64
    xtx: torch.Tensor | None
    yty: torch.Tensor | None
    sq_x: float  # ||X_c||_F^2
    sq_y: float
    row_products: tuple | None  # sums of |x_i|^2 |y_i|^2, |x_i|^4, |y_i|^4


def _centred_statistics(X, Y, *, device, batch_size, grams, row_products):
    """Moments of the column-centred, scaled ``X`` and ``Y``, over row batches.

    One pass merges :func:`~sklatent._kernels.cross_moments` of each batch in
    float64 (of the stacked ``[X, Y]`` when the Gram matrices are needed);
    features that :func:`~sklatent._kernels.constant_features` declares dead
    are then zeroed, so rounding noise of a constant feature never counts as
    signal. ``row_products`` adds a second pass for the debiased HSIC. Dask
    arrays are reduced block by block on the workers, each block by row
    batches as in memory.
    """
    d_x = X.shape[1]
    options = {"device": device, "batch_size": batch_size}
    if _dask.any_dask(X, Y):
        scales = _dask.reduce_blocks(_largest_entries, _larger, X, Y)
        scales = [power_of_two_scale(largest) for largest in scales]

        def reduce(function, merge):
            block = partial(_reduce_batches, function, merge, scales=scales, **options)
            return _dask.reduce_blocks(block, merge, X, Y)

    else:
        scales = [power_of_two_scale(max_abs(Z)) for Z in (X, Y)]
        reduce = partial(_reduce_batches, X=X, Y=Y, scales=scales, **options)

    moments = reduce(partial(_chunk_moments, grams=grams), merge_cross_moments)
    n = moments.count
    if grams:
        mean_x, mean_y = moments.mean_x[:d_x], moments.mean_x[d_x:]
        m2_x, m2_y = moments.m2_x[:d_x], moments.m2_x[d_x:]
    else:
        mean_x, mean_y, m2_x, m2_y = (
            moments.mean_x,
            moments.mean_y,
            moments.m2_x,
            moments.m2_y,
        )
    live_x = (~constant_features(m2_x / n, mean_x, n)).to(torch.float64)
    live_y = (~constant_features(m2_y / n, mean_y, n)).to(torch.float64)
    xtx = yty = None
    if grams:
        live = torch.cat([live_x, live_y])
        joint = moments.cross * torch.outer(live, live)
        xtx, yty, cross = joint[:d_x, :d_x], joint[d_x:, d_x:], joint[:d_x, d_x:]
    else:
        cross = moments.cross * torch.outer(live_x, live_y)
    products = None
    if row_products:
        centred = partial(
            _chunk_row_products, centres=(mean_x, mean_y), live=(live_x, live_y)
        )
        products = tuple(reduce(centred, operator.add).tolist())
    sq_x, sq_y = float(m2_x @ live_x), float(m2_y @ live_y)
    return _Statistics(n, cross, xtx, yty, sq_x, sq_y, products)


def _reduce_batches(function, merge, X, Y, *, scales, device, batch_size):
    """``function`` of each row batch of scaled float64 ``(x, y)``, merged."""
    stats = statistics_device(device)
    row_bytes = 3 * 8 * (X.shape[1] + Y.shape[1])
    result = None
    for batch in _backend.row_batches(
        X.shape[0], batch_size, row_bytes=row_bytes, device=device
    ):
        part = function(
            rows(X, batch, scale=scales[0], device=stats, dtype=torch.float64),
            rows(Y, batch, scale=scales[1], device=stats, dtype=torch.float64),
        )
        result = part if result is None else merge(result, part)
    return result


def _chunk_moments(x, y, *, grams):
    """Cross moments of one batch (of the stacked ``[x, y]`` for the Grams)."""
    if grams:
        x = y = torch.cat([x, y], dim=1)
    return cross_moments(x, y)


def _chunk_row_products(x, y, *, centres, live):
    """Sums of |x_i|^2 |y_i|^2, |x_i|^4, |y_i|^4 over centred live features."""
    rx = row_norms((x - centres[0]) * live[0]).square()
    ry = row_norms((y - centres[1]) * live[1]).square()
    return torch.stack([rx @ ry, rx @ rx, ry @ ry])


def _largest_entries(x, y):
    return max_abs(x), max_abs(y)


def _larger(a, b):
    return max(a[0], b[0]), max(a[1], b[1])


def _constant_space(function, statistics):
    """NaN with a warning when a space has no live feature, else None."""
    if statistics.sq_x > 0 and statistics.sq_y > 0:
        return None
    name = "X" if not statistics.sq_x > 0 else "Y"
    return undefined(
        f"{function} is undefined: {name} is constant (every feature has zero "
        "variance, all rows equal up to rounding)."
    )


def _unbiased_hsic_feature(frobenius_sq, rows_product, sq_a, sq_b, n):
    """Song et al.'s unbiased HSIC of linear kernels, times n(n-3), from features."""
    return frobenius_sq - n / (n - 2) * rows_product + sq_a * sq_b / ((n - 1) * (n - 2))


@validate_params(
    {**PAIR, "debiased": ["boolean"], **PLUMBING},
    prefer_skip_nested_validation=True,
)
def linear_cka(X, Y, *, debiased=False, batch_size=None, device="cpu"):
    r"""Linear centred kernel alignment (CKA) between two row-aligned spaces.

    With :math:`X_c, Y_c` the column-centred matrices (Kornblith et al., 2019):

    .. math:: \operatorname{CKA}(X, Y) = \frac{\lVert Y_c^\top X_c\rVert_F^2}
              {\lVert X_c^\top X_c\rVert_F \, \lVert Y_c^\top Y_c\rVert_F}

    which equals the kernel form :math:`\operatorname{HSIC}(K, L) /
    \sqrt{\operatorname{HSIC}(K, K)\,\operatorname{HSIC}(L, L)}` with
    :math:`K = XX^\top`, :math:`L = YY^\top` and
    :math:`\operatorname{HSIC}(K, L) = \operatorname{tr}(KHLH)/(n-1)^2`,
    :math:`H = I - \mathbf{1}\mathbf{1}^\top/n`. It lies in [0, 1], is
    invariant to orthogonal maps, isotropic scaling and translations of
    either space, and *not* to general invertible linear maps. The dimensions
    of ``X`` and ``Y`` may differ.

    ``debiased=True`` replaces HSIC by the unbiased estimator of Song et al.
    (2012), which removes the upward bias of CKA when the dimension is large
    compared with ``n``. With :math:`\tilde K, \tilde L` the kernels with zero
    diagonals:

    .. math:: \operatorname{HSIC}_1(K, L) = \frac{1}{n(n-3)}\Big[
              \operatorname{tr}(\tilde K \tilde L)
              + \frac{\mathbf{1}^\top\tilde K\mathbf{1}\;
                      \mathbf{1}^\top\tilde L\mathbf{1}}{(n-1)(n-2)}
              - \frac{2}{n-2}\,\mathbf{1}^\top\tilde K\tilde L\mathbf{1}\Big]

    Debiased CKA lies in [-1, 1] and is near 0 for independent spaces.

    Everything is computed from feature-space sums accumulated over row
    batches, in float64: O(n (d_x + d_y)^2) time and O((d_x + d_y)^2) memory;
    no n x n Gram matrix is ever formed.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    debiased : bool, default=False
        Use the unbiased HSIC estimator (needs at least 4 rows).
    batch_size : int, default=None
        Rows processed at once. None sizes batches by sklatent's batch policy
        (scikit-learn's ``working_memory``). The result does not depend on it
        beyond rounding.
    device : str, default="cpu"
        Where the kernels run (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or
        ``"auto"``).

    Returns
    -------
    float
        The CKA. NaN, with an :class:`~sklearn.exceptions.UndefinedMetricWarning`,
        when a space is constant (zero variance).

    See Also
    --------
    rbf_cka : CKA with Gaussian kernels.
    procrustes_similarity : Similarity up to a rotation, not up to scale alone.

    Notes
    -----
    The debiased value uses the feature-space identity of Kornblith et al.'s
    reference code: with centred rows, :math:`n(n-3)\,\operatorname{HSIC}_1 =
    \lVert Y_c^\top X_c\rVert_F^2 - \frac{n}{n-2}\sum_i \lVert x_i\rVert^2
    \lVert y_i\rVert^2 + \frac{\lVert X_c\rVert_F^2 \lVert Y_c\rVert_F^2}
    {(n-1)(n-2)}`. The biased value is clipped to [0, 1] and the debiased one
    to [-1, 1], against rounding. Features that are constant up to rounding
    (:func:`sklatent._kernels.constant_features`) are left out, and each
    space is scaled by a power of two first, so any finite input gives a
    finite value.

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee, G. Hinton. "Similarity of Neural
       Network Representations Revisited." ICML 2019.
    .. [2] L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. "Feature
       Selection via Dependence Maximization." JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import linear_cka
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 8))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> round(linear_cka(X, 3 * X @ Q + 1), 6)
    1.0
    >>> round(linear_cka(X, X * [1, 1, 1, 1, 1, 1, 1, 20]), 2)
    0.39
    """
    check_pair = (
        _dask.check_metric_pair if _dask.any_dask(X, Y) else _validation.check_pair
    )
    X, Y = check_pair(X, Y, function="linear_cka", min_rows=4 if debiased else 2)
    device = _backend.resolve_device(device, X)
    m = _centred_statistics(
        X, Y, device=device, batch_size=batch_size, grams=True, row_products=debiased
    )
    if (nan := _constant_space("linear_cka", m)) is not None:
        return nan
    hsic_xy = float(torch.linalg.matrix_norm(m.cross) ** 2)
    hsic_xx = float(torch.linalg.matrix_norm(m.xtx) ** 2)
    hsic_yy = float(torch.linalg.matrix_norm(m.yty) ** 2)
    if debiased:
        rx_ry, rx_rx, ry_ry = m.row_products
        hsic_xy = _unbiased_hsic_feature(hsic_xy, rx_ry, m.sq_x, m.sq_y, m.n)
        hsic_xx = _unbiased_hsic_feature(hsic_xx, rx_rx, m.sq_x, m.sq_x, m.n)
        hsic_yy = _unbiased_hsic_feature(hsic_yy, ry_ry, m.sq_y, m.sq_y, m.n)
    if not (hsic_xx > 0 and hsic_yy > 0):
        return undefined(
            "linear_cka is undefined: the debiased HSIC of X or Y with itself is "
            "not positive (too few rows for the estimator)."
        )
    value = hsic_xy / math.sqrt(hsic_xx * hsic_yy)
    return min(1.0, max(-1.0 if debiased else 0.0, value))


def _accumulation_dtype(device):
    """float64 for sums of kernel blocks, except where the device lacks it."""
    return torch.float64 if statistics_device(device) == device else torch.float32


@validate_params(
    {
        **PAIR,
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "debiased": ["boolean"],
        **PLUMBING,
    },
    prefer_skip_nested_validation=True,
)
def rbf_cka(X, Y, *, threshold=1.0, debiased=False, batch_size=None, device="cpu"):
    r"""CKA with Gaussian (RBF) kernels, bandwidth set by the median distance.

    The kernels are :math:`K_{ij} = \exp\!\big(-\lVert x_i - x_j\rVert^2 /
    (2\sigma_X^2)\big)` and likewise :math:`L` for ``Y``, with
    :math:`\sigma_X^2 = \text{threshold}^2 \cdot
    \operatorname{median}_{ij}\lVert x_i - x_j\rVert^2`, the median taken over
    all :math:`n^2` entries of the squared-distance matrix as in Kornblith et
    al.'s reference code (so :math:`\sigma_X` is ``threshold`` times the
    median distance). Then

    .. math:: \operatorname{CKA} = \frac{\operatorname{HSIC}(K, L)}
              {\sqrt{\operatorname{HSIC}(K, K)\,\operatorname{HSIC}(L, L)}},
              \qquad \operatorname{HSIC}(K, L) =
              \frac{\operatorname{tr}(KHLH)}{(n-1)^2},

    or, with ``debiased=True``, the unbiased :math:`\operatorname{HSIC}_1` of
    Song et al. (2012) (see :func:`linear_cka`). It is invariant to
    orthogonal maps, isotropic scaling and translations of either space.

    The kernels are built a block of rows at a time: :math:`\operatorname{tr}
    (KHLH) = \sum_{ij} K_{ij}L_{ij} - \frac{2}{n}(K\mathbf{1})^\top
    (L\mathbf{1}) + \frac{\mathbf{1}^\top K\mathbf{1}\,
    \mathbf{1}^\top L\mathbf{1}}{n^2}` needs only each block and the row
    sums. Memory is O(n d + n * batch_size), time O(n^2 d): about two passes
    per space for the exact median (one when :math:`n^2 \le 2^{22}`), and one
    for the kernels.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    threshold : float, default=1.0
        Bandwidth as a fraction of the median distance, > 0. Kornblith et al.
        use 0.2, 0.4 and 0.8 in the paper, 1.0 in their code.
    debiased : bool, default=False
        Use the unbiased HSIC estimator (needs at least 4 rows).
    batch_size : int, default=None
        Rows of the kernel matrices built at once. None sizes blocks by
        sklatent's batch policy.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        The CKA. NaN, with an :class:`~sklearn.exceptions.UndefinedMetricWarning`,
        when a median distance is zero (more than half the pairs coincide).

    See Also
    --------
    linear_cka : The linear kernel, computed in feature space.

    Notes
    -----
    Distances are computed in the inputs' precision (float32 unless one input
    is float64) by :func:`sklatent._kernels.squared_euclidean`, after scaling
    each space by a power of two so that no square overflows; sums are
    accumulated in float64.

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee, G. Hinton. "Similarity of Neural
       Network Representations Revisited." ICML 2019.
    .. [2] A. Gretton, O. Bousquet, A. Smola, B. Schölkopf. "Measuring
       Statistical Dependence with Hilbert-Schmidt Norms." ALT 2005.
    .. [3] L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. "Feature
       Selection via Dependence Maximization." JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import rbf_cka
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> round(rbf_cka(X, 2 * X @ Q, threshold=0.8), 6)
    1.0
    """
    X, Y = _validation.check_pair(
        X, Y, function="rbf_cka", min_rows=4 if debiased else 2
    )
    device = _backend.resolve_device(device, X)
    dtype = compute_dtype(X, Y)
    acc = _accumulation_dtype(device)
    n = X.shape[0]
    batches = list(
        _backend.row_batches(
            n, batch_size, row_bytes=n * (4 * dtype.itemsize + 16), device=device
        )
    )
    spaces = []
    for Z in (X, Y):
        scale = power_of_two_scale(max_abs(Z))
        spaces.append(rows(Z, slice(None), scale=scale, device=device, dtype=dtype))
    medians = [median_squared_distance(Z, batches) for Z in spaces]
    if not (medians[0] > 0 and medians[1] > 0):
        return undefined(
            "rbf_cka is undefined: the median distance of X or Y is zero (more "
            "than half of its pairs of rows coincide)."
        )
    gammas = [1.0 / (2.0 * threshold**2 * median) for median in medians]

    products = torch.zeros(3, dtype=acc, device=device)  # KL, KK, LL
    row_sums = torch.zeros((2, n), dtype=acc, device=device)
    for batch in batches:
        kernels = []
        for Z, gamma in zip(spaces, gammas, strict=True):
            G = squared_euclidean(Z[batch], Z).mul_(-gamma).exp_()
            if debiased:
                local = torch.arange(G.shape[0], device=G.device)
                G[local, local + batch.start] = 0
            kernels.append(G)
        K, L = kernels
        products[0] += (K * L).sum(dtype=acc)
        products[1] += (K * K).sum(dtype=acc)
        products[2] += (L * L).sum(dtype=acc)
        row_sums[0, batch] = K.sum(1, dtype=acc)
        row_sums[1, batch] = L.sum(1, dtype=acc)
    totals = row_sums.sum(1)
    cross = row_sums @ row_sums.T

    def hsic(a, b, product):
        if debiased:
            return (
                product
                + totals[a] * totals[b] / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * cross[a, b]
            )
        return product - 2.0 / n * cross[a, b] + totals[a] * totals[b] / n**2

    hsic_kl = float(hsic(0, 1, products[0]))
    hsic_kk = float(hsic(0, 0, products[1]))
    hsic_ll = float(hsic(1, 1, products[2]))
    if not (hsic_kk > 0 and hsic_ll > 0):
        return undefined("rbf_cka is undefined: a kernel has zero HSIC with itself.")
    value = hsic_kl / math.sqrt(hsic_kk * hsic_ll)
    return min(1.0, max(-1.0 if debiased else 0.0, value))


def _procrustes_similarity(X, Y, *, batch_size, device, function):
    X, Y = _validation.check_pair(X, Y, function=function, min_rows=2)
    device = _backend.resolve_device(device, X)
    m = _centred_statistics(
        X, Y, device=device, batch_size=batch_size, grams=False, row_products=False
    )
    if (nan := _constant_space(function, m)) is not None:
        return nan
    nuclear = float(torch.linalg.svdvals(m.cross.cpu()).sum())
    return min(1.0, max(0.0, nuclear / math.sqrt(m.sq_x * m.sq_y)))


@validate_params({**PAIR, **PLUMBING}, prefer_skip_nested_validation=True)
def procrustes_similarity(X, Y, *, batch_size=None, device="cpu"):
    r"""Cosine of the Procrustes shape angle between two row-aligned spaces.

    After centring the columns, the best rotation of one space onto the
    other (orthogonal Procrustes, zero-padding the smaller dimension) gives

    .. math:: \rho(X, Y) = \max_{Q^\top Q = I}
              \frac{\langle X_c Q, Y_c\rangle_F}{\lVert X_c\rVert_F\,
              \lVert Y_c\rVert_F}
              = \frac{\lVert X_c^\top Y_c\rVert_*}{\lVert X_c\rVert_F\,
              \lVert Y_c\rVert_F} \in [0, 1],

    with :math:`\lVert\cdot\rVert_*` the nuclear norm (sum of singular
    values). It is 1 exactly when :math:`Y = sXQ + b` for an orthogonal
    :math:`Q` and :math:`s > 0`, and it is invariant to exactly those maps.
    Computed from feature-space sums over row batches in float64, like
    :func:`linear_cka` (constant features left out, each space scaled by a
    power of two, so any finite input gives a finite value).

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    batch_size : int, default=None
        Rows processed at once. None sizes batches by sklatent's batch policy.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        NaN, with an :class:`~sklearn.exceptions.UndefinedMetricWarning`,
        when a space is constant.

    See Also
    --------
    procrustes_distance : The angle itself, a metric.

    References
    ----------
    .. [1] A. H. Williams, E. Kunz, S. Kornblith, S. W. Linderman.
       "Generalized Shape Metrics on Neural Representations." NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import procrustes_similarity
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> round(procrustes_similarity(X, 5 * X @ Q - 2), 6)
    1.0
    """
    return _procrustes_similarity(
        X, Y, batch_size=batch_size, device=device, function="procrustes_similarity"
    )


@validate_params({**PAIR, **PLUMBING}, prefer_skip_nested_validation=True)
def procrustes_distance(X, Y, *, batch_size=None, device="cpu"):
    r"""Angle between two spaces up to rotation and scale (Procrustes shape).

    .. math:: d(X, Y) = \arccos \rho(X, Y) \in [0, \pi/2]

    with :math:`\rho` the :func:`procrustes_similarity`. This is the angular
    shape metric of Williams et al. (2021) with :math:`\alpha = 1` (rotations
    only): a true metric on centred, scale-normalised representations
    (symmetric, zero only for :math:`Y = sXQ + b`, triangle inequality), so
    distances between many networks can be clustered or embedded.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    batch_size : int, default=None
        Rows processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        The angle in radians.

    See Also
    --------
    procrustes_similarity : Its cosine.

    References
    ----------
    .. [1] A. H. Williams, E. Kunz, S. Kornblith, S. W. Linderman.
       "Generalized Shape Metrics on Neural Representations." NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import procrustes_distance
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(procrustes_distance(X, X[:, ::-1]), 6)
    0.0
    >>> round(procrustes_distance(X, X * [1, 0]), 4)
    0.6591
    """
    similarity = _procrustes_similarity(
        X, Y, batch_size=batch_size, device=device, function="procrustes_distance"
    )
    return math.acos(similarity) if not math.isnan(similarity) else similarity
