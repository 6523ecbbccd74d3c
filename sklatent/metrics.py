"""How alike are two latent spaces: similarity indices, retrieval metrics, scorers.

Every function here is a pure function of two row-aligned embedding matrices
``X`` (n, d_x) and ``Y`` (n, d_y): row ``i`` of each is the same item, embedded
by two encoders (or translated, and true). Inputs may be numpy arrays, lists,
pandas frames, memory maps or torch tensors; results are Python floats (or a
numpy array for :func:`retrieval_ranks`). The work runs as torch kernels on
``device`` over blocks of rows, so memory grows with the block size, never
with an n x n matrix:

- space similarity: :func:`linear_cka` (O(n d^2) time, O(d^2) memory),
  :func:`rbf_cka` (O(n^2 d) time, O(n * batch) memory), and the Procrustes
  shape metric :func:`procrustes_similarity` / :func:`procrustes_distance`;
- correspondence and retrieval (row ``i`` of ``X`` should find row ``i`` of
  ``Y``): :func:`mean_cosine`, :func:`retrieval_ranks`, :func:`mrr`,
  :func:`top_k_accuracy`, :func:`jaccard_at_k`;
- scorers for model selection: :func:`translation_scorer` and the ready-made
  :data:`mean_cosine_scorer`, :data:`mrr_scorer`,
  :data:`top_1_accuracy_scorer`, :data:`linear_cka_scorer`.

Ties in retrieval are broken in the item's favour: the rank of item ``i`` is
``1 + #{j : s(x_i, y_j) > s(x_i, y_i)}``, so a candidate that scores exactly as
well as the true match does not push it down. k-nearest sets break ties by
the lower row index. Ties are equal computed scores, compared exactly.

This module imports no estimator, so the estimators themselves may use it.
"""

import math
import numbers
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import get_config
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_array

from . import _backend, _retrieval

__all__ = [
    "jaccard_at_k",
    "linear_cka",
    "linear_cka_scorer",
    "mean_cosine",
    "mean_cosine_scorer",
    "mrr",
    "mrr_scorer",
    "procrustes_distance",
    "procrustes_similarity",
    "rbf_cka",
    "retrieval_ranks",
    "top_1_accuracy_scorer",
    "top_k_accuracy",
    "translation_scorer",
]

# Largest automatic block of query rows for the retrieval metrics.
_MAX_QUERY_ROWS = 4096
# Exact median of the squared distances (rbf_cka): values gathered at once for
# the final sort, and bins of each refining histogram pass.
_GATHER_LIMIT = 2**22
_HISTOGRAM_BINS = 2**16


# --------------------------------------------------------------------------
# Validation and plumbing
# --------------------------------------------------------------------------


def _check_matrix(X, name):
    """Validate one embedding matrix: 2-D, non-empty, finite, floating."""
    ndim = X.ndim if hasattr(X, "ndim") else np.ndim(X)
    if ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, of shape (n_samples, n_features); got a "
            f"{ndim}-D input. Reshape a single feature with {name}.reshape(-1, 1)."
        )
    if not isinstance(X, torch.Tensor):
        return check_array(X, dtype=[np.float64, np.float32], input_name=name)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found array with shape {tuple(X.shape)} as input {name}; "
            "at least one row and one column are required."
        )
    return _backend.check_tensor_values(X.detach(), name)


def _check_pair(X, Y, *, function, min_rows=1, same_features=False):
    """Validate a row-aligned pair ``(X, Y)`` for ``function``."""
    X = _check_matrix(X, "X")
    Y = _check_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            "X and Y must have the same number of rows (row i of each is the "
            f"same item); got X with {X.shape[0]} rows and Y with {Y.shape[0]}."
        )
    if X.shape[0] < min_rows:
        raise ValueError(
            f"{function} needs at least {min_rows} rows; got {X.shape[0]}."
        )
    if same_features and X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}; {function} "
            "compares vectors of one space. Translate X into Y's space first "
            "(e.g. with sklatent.LatentTranslator), or compare the spaces with "
            "linear_cka, which accepts different dimensions."
        )
    return X, Y


def _check_int(value, name, *, low=1, high=None, allow_none=False):
    """Check an integer parameter in ``[low, high]``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}.")
    if high is not None and value > high:
        raise ValueError(
            f"{name}={value} is larger than the number of candidate rows "
            f"({high}); pass {name} <= {high}."
        )
    return int(value)


def _check_option(value, name, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}.")
    return value


def _compute_dtype(*arrays):
    """float64 if any input is float64, else float32."""
    for array in arrays:
        if _backend.torch_dtype(array) == torch.float64:
            return torch.float64
    return torch.float32


def _accumulation_dtype(device):
    """float64 for sums and cross products, except where the device lacks it."""
    return torch.float32 if device.type == "mps" else torch.float64


def _batches(n_rows, batch_size, row_bytes, max_rows=None):
    """Row slices; ``batch_size=None`` sizes them from ``working_memory``.

    ``max_rows`` caps the automatic size: a score block far larger than the
    caches gains nothing and costs page faults.
    """
    batch_size = _check_int(batch_size, "batch_size", allow_none=True)
    if batch_size is None and max_rows is not None:
        budget = get_config()["working_memory"] * 2**20
        batch_size = max(1, min(max_rows, int(budget // row_bytes)))
    return list(_backend.row_batches(n_rows, batch_size, row_bytes=row_bytes))


def _rows(X, rows, device, dtype):
    return _backend.to_tensor(X[rows], device=device, dtype=dtype)


def _undefined(message):
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)
    return float("nan")


# --------------------------------------------------------------------------
# Space similarity: CKA and the Procrustes shape metric
# --------------------------------------------------------------------------


def _centered_moments(X, Y, *, device, batch_size, grams, row_norms):
    """Second moments of the column-centred ``X`` and ``Y``, accumulated by rows.

    Two passes over the rows: column means, then centred products, all in the
    accumulation dtype (float64). Returns a dict with ``n``, ``cross``
    (:math:`Y_c^\\top X_c`), ``sq_x`` and ``sq_y`` (squared Frobenius norms),
    and when asked ``xtx``/``yty`` (the feature Gram matrices) and
    ``rx_ry``/``rx_rx``/``ry_ry`` (sums of products of the rows' squared norms).
    """
    acc = _accumulation_dtype(device)
    n, d_x = X.shape
    d_y = Y.shape[1]
    batches = _batches(n, batch_size, row_bytes=3 * 8 * (d_x + d_y))
    mean_x = torch.zeros(d_x, dtype=acc, device=device)
    mean_y = torch.zeros(d_y, dtype=acc, device=device)
    for rows in batches:
        mean_x += _rows(X, rows, device, acc).sum(0)
        mean_y += _rows(Y, rows, device, acc).sum(0)
    mean_x /= n
    mean_y /= n

    out = {"n": n, "cross": torch.zeros((d_y, d_x), dtype=acc, device=device)}
    if grams:
        out["xtx"] = torch.zeros((d_x, d_x), dtype=acc, device=device)
        out["yty"] = torch.zeros((d_y, d_y), dtype=acc, device=device)
    scalars = torch.zeros(5, dtype=acc, device=device)
    for rows in batches:
        x = _rows(X, rows, device, acc) - mean_x
        y = _rows(Y, rows, device, acc) - mean_y
        out["cross"].addmm_(y.T, x)
        if grams:
            out["xtx"].addmm_(x.T, x)
            out["yty"].addmm_(y.T, y)
        rx = (x * x).sum(1)
        ry = (y * y).sum(1)
        scalars[0] += rx.sum()
        scalars[1] += ry.sum()
        if row_norms:
            scalars[2] += rx @ ry
            scalars[3] += rx @ rx
            scalars[4] += ry @ ry
    sq_x, sq_y, rx_ry, rx_rx, ry_ry = scalars.tolist()
    out.update(sq_x=sq_x, sq_y=sq_y, rx_ry=rx_ry, rx_rx=rx_rx, ry_ry=ry_ry)
    return out


def _unbiased_hsic_feature(frobenius_sq, rows_product, sq_a, sq_b, n):
    """Song et al.'s unbiased HSIC of linear kernels, times n(n-3), from features."""
    return frobenius_sq - n / (n - 2) * rows_product + sq_a * sq_b / ((n - 1) * (n - 2))


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
        Rows processed at once. None sizes batches from scikit-learn's
        ``working_memory``. The result does not depend on it beyond rounding.
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
    to [-1, 1], against rounding.

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
    X, Y = _check_pair(X, Y, function="linear_cka", min_rows=4 if debiased else 2)
    device = _backend.resolve_device(device, X)
    m = _centered_moments(
        X, Y, device=device, batch_size=batch_size, grams=True, row_norms=debiased
    )
    hsic_xy = float(torch.linalg.matrix_norm(m["cross"]) ** 2)
    hsic_xx = float(torch.linalg.matrix_norm(m["xtx"]) ** 2)
    hsic_yy = float(torch.linalg.matrix_norm(m["yty"]) ** 2)
    if debiased:
        n = m["n"]
        hsic_xy = _unbiased_hsic_feature(hsic_xy, m["rx_ry"], m["sq_x"], m["sq_y"], n)
        hsic_xx = _unbiased_hsic_feature(hsic_xx, m["rx_rx"], m["sq_x"], m["sq_x"], n)
        hsic_yy = _unbiased_hsic_feature(hsic_yy, m["ry_ry"], m["sq_y"], m["sq_y"], n)
    if not (hsic_xx > 0 and hsic_yy > 0):
        return _undefined(
            "linear_cka is undefined: X or Y has zero variance (all rows equal)."
        )
    value = hsic_xy / math.sqrt(hsic_xx * hsic_yy)
    return min(1.0, max(-1.0 if debiased else 0.0, value))


def _squared_distances(Z, squared_norms, rows):
    """Squared Euclidean distances of rows ``rows`` of ``Z`` to all rows."""
    D = torch.addmm(
        squared_norms[rows].unsqueeze(1) + squared_norms.unsqueeze(0),
        Z[rows],
        Z.T,
        alpha=-2.0,
    ).clamp_(min=0)
    local = torch.arange(D.shape[0], device=D.device)
    D[local, local + rows.start] = 0
    return D


def _bin_of(values, low, scale):
    """Histogram bin of each value: a monotone map onto [0, _HISTOGRAM_BINS)."""
    return ((values - low) * scale).floor_().clamp_(0, _HISTOGRAM_BINS - 1).long()


def _members(D, levels):
    """The entries of ``D`` that fall in the chosen bin at every level."""
    if not levels:
        return D.flatten()
    mask = None
    for low, scale, chosen in levels:
        hit = _bin_of(D, low, scale) == chosen
        mask = hit if mask is None else mask & hit
    return D[mask]


def _gather_order_statistic(blocks, total, position, upper):
    """Sorted values around the ``position``-th smallest entry of all blocks.

    The entries (``total`` of them, streamed by ``blocks()``) are never held
    at once: while more than ``_GATHER_LIMIT`` candidates remain, one pass
    histograms them into ``_HISTOGRAM_BINS`` equal bins and keeps the bin
    holding the wanted position. Each bin map is monotone and evaluated the
    same way on every pass, so the kept set is a contiguous run of the sorted
    entries and the count before it is exact.

    Returns
    -------
    values : torch.Tensor
        The kept entries, sorted.
    before : int
        Number of entries sorted before ``values[0]``.
    """
    levels = []
    before, count, low, high = 0, total, 0.0, upper
    while count > _GATHER_LIMIT:
        if not high > low:
            # The kept entries agree to the last bit of the bin map: return
            # their smallest value as the order statistic.
            smallest = min(
                float(kept.min())
                for kept in (_members(D, levels) for D in blocks())
                if kept.numel()
            )
            return torch.tensor([smallest], dtype=torch.float64), position
        scale = _HISTOGRAM_BINS / (high - low)
        histogram = None
        for D in blocks():
            counts = torch.bincount(
                _bin_of(_members(D, levels), low, scale), minlength=_HISTOGRAM_BINS
            )
            histogram = counts if histogram is None else histogram + counts
        cumulative = histogram.cpu().cumsum(0)
        chosen = int(torch.searchsorted(cumulative, position - before, right=True))
        before += int(cumulative[chosen - 1]) if chosen else 0
        count = int(histogram[chosen])
        levels.append((low, scale, chosen))
        low, high = low + chosen / scale, low + (chosen + 1) / scale
    values = torch.cat([_members(D, levels) for D in blocks()]).to(torch.float64)
    return torch.sort(values.cpu()).values, before


def _median_squared_distance(Z, batches):
    """Exact median of all n^2 squared distances of the rows of ``Z``.

    As ``numpy.median`` of the full distance matrix (diagonal zeros included,
    the two middle values averaged when n^2 is even), the bandwidth rule of
    Kornblith et al.'s reference code, without holding the matrix.
    """
    n = Z.shape[0]
    squared_norms = (Z * Z).sum(1)
    upper = 4.0 * float(squared_norms.max())
    if upper == 0:
        return 0.0

    def blocks():
        return (_squared_distances(Z, squared_norms, rows) for rows in batches)

    total = n * n
    lower = (total - 1) // 2
    values, before = _gather_order_statistic(blocks, total, lower, upper)
    median = float(values[lower - before])
    if total % 2 == 0:
        if lower + 1 - before < values.numel():
            second = float(values[lower + 1 - before])
        else:
            more, more_before = _gather_order_statistic(blocks, total, lower + 1, upper)
            second = float(more[lower + 1 - more_before])
        median = (median + second) / 2
    return median


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
        Bandwidth as a fraction of the median distance. Kornblith et al. use
        0.2, 0.4 and 0.8 in the paper, 1.0 in their code.
    debiased : bool, default=False
        Use the unbiased HSIC estimator (needs at least 4 rows).
    batch_size : int, default=None
        Rows of the kernel matrices built at once. None sizes blocks from
        scikit-learn's ``working_memory``.
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
    is float64); sums are accumulated in float64.

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
    X, Y = _check_pair(X, Y, function="rbf_cka", min_rows=4 if debiased else 2)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a positive number; got {threshold!r}.")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0; got {threshold}.")
    device = _backend.resolve_device(device, X)
    dtype = _compute_dtype(X, Y)
    acc = _accumulation_dtype(device)
    n = X.shape[0]
    spaces = []
    for Z in (X, Y):
        Z = _backend.to_tensor(Z, device=device, dtype=dtype)
        Z = Z - Z.mean(0, dtype=acc).to(dtype)
        spaces.append((Z, (Z * Z).sum(1)))
    batches = _batches(n, batch_size, row_bytes=n * (4 * dtype.itemsize + 16))
    medians = [_median_squared_distance(Z, batches) for Z, _ in spaces]
    if not (medians[0] > 0 and medians[1] > 0):
        return _undefined(
            "rbf_cka is undefined: the median distance of X or Y is zero (more "
            "than half of its pairs of rows coincide)."
        )
    gammas = [1.0 / (2.0 * threshold**2 * median) for median in medians]

    products = torch.zeros(3, dtype=acc, device=device)  # KL, KK, LL
    row_sums = torch.zeros((2, n), dtype=acc, device=device)
    for rows in batches:
        kernels = []
        for (Z, squared_norms), gamma in zip(spaces, gammas, strict=True):
            G = _squared_distances(Z, squared_norms, rows).mul_(-gamma).exp_()
            if debiased:
                local = torch.arange(G.shape[0], device=G.device)
                G[local, local + rows.start] = 0
            kernels.append(G)
        K, L = kernels
        products[0] += (K * L).sum(dtype=acc)
        products[1] += (K * K).sum(dtype=acc)
        products[2] += (L * L).sum(dtype=acc)
        row_sums[0, rows] = K.sum(1, dtype=acc)
        row_sums[1, rows] = L.sum(1, dtype=acc)
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
        return _undefined("rbf_cka is undefined: a kernel has zero HSIC with itself.")
    value = hsic_kl / math.sqrt(hsic_kk * hsic_ll)
    return min(1.0, max(-1.0 if debiased else 0.0, value))


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
    :func:`linear_cka`.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    batch_size : int, default=None
        Rows processed at once. None sizes batches from scikit-learn's
        ``working_memory``.
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
    X, Y = _check_pair(X, Y, function="procrustes_similarity", min_rows=2)
    device = _backend.resolve_device(device, X)
    m = _centered_moments(
        X, Y, device=device, batch_size=batch_size, grams=False, row_norms=False
    )
    if not (m["sq_x"] > 0 and m["sq_y"] > 0):
        return _undefined(
            "procrustes_similarity is undefined: X or Y has zero variance."
        )
    nuclear = float(torch.linalg.svdvals(m["cross"].cpu()).sum())
    return min(1.0, max(0.0, nuclear / math.sqrt(m["sq_x"] * m["sq_y"])))


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
    similarity = procrustes_similarity(X, Y, batch_size=batch_size, device=device)
    return math.acos(similarity) if not math.isnan(similarity) else similarity


# --------------------------------------------------------------------------
# Correspondence and retrieval
# --------------------------------------------------------------------------


def _retrieval_setup(X, Y, *, function, metric, device, same_features=True):
    _check_option(metric, "metric", _retrieval.METRICS)
    X, Y = _check_pair(X, Y, function=function, same_features=same_features)
    device = _backend.resolve_device(device, X)
    return X, Y, device, _compute_dtype(X, Y)


def mean_cosine(X, Y, *, batch_size=None, device="cpu"):
    r"""Mean cosine similarity between the two vectors of each item.

    .. math:: \frac{1}{n}\sum_{i=1}^{n}
              \frac{x_i \cdot y_i}{\lVert x_i\rVert\,\lVert y_i\rVert}

    The fidelity of a translation (Maiorca et al., 2023; Jha et al., 2025) and
    the cosine of the relative representations paper (Moschella et al.,
    2023). ``X`` and ``Y`` must live in one space. A zero row has cosine 0.
    A high value is necessary, not sufficient: on anisotropic spaces, where
    every vector shares a direction, unrelated vectors have a high cosine
    too; check :func:`mrr` as well.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Estimates (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Reference vectors of the same items.
    batch_size : int, default=None
        Rows processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [-1, 1].

    See Also
    --------
    mrr : Does each vector find its match among all the others?

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.

    Examples
    --------
    >>> from sklatent.metrics import mean_cosine
    >>> round(mean_cosine([[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [2.0, 2.0]]), 6)
    0.853553
    """
    X, Y, device, dtype = _retrieval_setup(
        X, Y, function="mean_cosine", metric="cosine", device=device
    )
    n, d = X.shape
    cosines = np.empty(n)
    for rows in _batches(n, batch_size, row_bytes=4 * d * (dtype.itemsize)):
        x = F.normalize(_rows(X, rows, device, dtype), dim=1)
        y = F.normalize(_rows(Y, rows, device, dtype), dim=1)
        cosines[rows] = (x * y).sum(1).cpu().numpy()
    return float(cosines.mean())


def retrieval_ranks(X, Y, *, metric="cosine", batch_size=None, device="cpu"):
    r"""Rank of each item's true match when its query searches all candidates.

    Row :math:`i` of ``X`` is a query, the rows of ``Y`` are the candidates,
    and row :math:`i` of ``Y`` is the query's true match:

    .. math:: \operatorname{rank}_i = 1 + \#\{j : s(x_i, y_j) > s(x_i, y_i)\}

    Ties count in the item's favour (optimistic): a candidate that scores
    exactly as well as the true match does not push it down. This is the
    full, untruncated rank of latent functional maps (Fumero et al., 2024)
    and vec2vec (Jha et al., 2025); its mean is vec2vec's mean rank.

    Ties are equal *computed* scores, compared exactly, with no tolerance:
    exact ties (duplicate candidates, or integer-valued data under the
    Euclidean metric in float64) are handled exactly, while scores that are
    equal in exact arithmetic but rounded differently are not tied.

    Queries are processed a block at a time against all candidates, so memory
    is O(n d + batch_size * n): never an n x n matrix. A query's score row and
    its true-match score come from the same matrix product, so the block size
    can only matter where two candidates' scores agree to within rounding
    (BLAS kernels round differently for different block shapes); on
    continuous data the ranks are the same for every ``batch_size``.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Queries (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Candidates; row ``i`` is the match of query ``i``.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or Euclidean distance (nearer ranks first).
    batch_size : int, default=None
        Queries processed at once. None sizes blocks from scikit-learn's
        ``working_memory``, at most 4096 queries.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    ndarray of shape (n_samples,), dtype int64
        The rank of each query's true match, from 1 (best) to n_samples.

    See Also
    --------
    mrr, top_k_accuracy : Summaries of these ranks.

    References
    ----------
    .. [1] M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà.
       "Latent Functional Maps." NeurIPS 2024.
    .. [2] R. Jha, C. Zhang, V. Shmatikov, J. X. Morris. "Harnessing the
       Universal Geometry of Embeddings." arXiv:2505.12540, 2025.

    Examples
    --------
    >>> from sklatent.metrics import retrieval_ranks
    >>> Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> X = [[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]]
    >>> retrieval_ranks(X, Y)
    array([1, 3, 1])
    """
    X, Y, device, dtype = _retrieval_setup(
        X, Y, function="retrieval_ranks", metric=metric, device=device
    )
    return _ranks(
        X, Y, metric=metric, batch_size=batch_size, device=device, dtype=dtype
    )


def _ranks(X, Y, *, metric, batch_size, device, dtype):
    n, d = X.shape
    prepared = _retrieval.prepare_candidates(
        _backend.to_tensor(Y, device=device, dtype=dtype), metric
    )
    ranks = np.empty(n, dtype=np.int64)
    row_bytes = n * (dtype.itemsize + 1) + d * dtype.itemsize
    for rows in _batches(n, batch_size, row_bytes, max_rows=_MAX_QUERY_ROWS):
        S = _retrieval.scores(_rows(X, rows, device, dtype), prepared, metric)
        local = torch.arange(S.shape[0], device=S.device)
        own = S[local, local + rows.start]
        ranks[rows] = (_retrieval.count_above(S, own) + 1).cpu().numpy()
    return ranks


def mrr(X, Y, *, k=None, metric="cosine", batch_size=None, device="cpu"):
    r"""Mean reciprocal rank of each query's true match among all candidates.

    .. math:: \operatorname{MRR} = \frac{1}{n}\sum_{i=1}^{n}
              \frac{\mathbb{1}[\operatorname{rank}_i \le k]}{\operatorname{rank}_i}

    with :math:`\operatorname{rank}_i` from :func:`retrieval_ranks` (ties in
    the item's favour). ``k=None`` uses the full rank (no truncation), as
    latent functional maps and vec2vec do; an integer ``k`` truncates it as
    the relative representations paper does: a match outside the top ``k``
    contributes 0. Without ties, ``rank_i`` is the match's position in the
    query's ``k`` nearest candidates.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Queries (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Candidates; row ``i`` is the match of query ``i``.
    k : int, default=None
        Truncation; None means none.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or Euclidean distance.
    batch_size : int, default=None
        Queries processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In (0, 1] for ``k=None``, in [0, 1] otherwise.

    See Also
    --------
    retrieval_ranks : The ranks themselves.
    top_k_accuracy : The fraction of ranks within ``k``.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà.
       "Latent Functional Maps." NeurIPS 2024.

    Examples
    --------
    >>> from sklatent.metrics import mrr
    >>> Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> X = [[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]]
    >>> round(mrr(X, Y), 4)
    0.7778
    >>> round(mrr(X, Y, k=2), 4)
    0.6667
    """
    X, Y, device, dtype = _retrieval_setup(
        X, Y, function="mrr", metric=metric, device=device
    )
    k = _check_int(k, "k", high=X.shape[0], allow_none=True)
    ranks = _ranks(
        X, Y, metric=metric, batch_size=batch_size, device=device, dtype=dtype
    )
    reciprocal = 1.0 / ranks
    if k is not None:
        reciprocal[ranks > k] = 0.0
    return float(reciprocal.mean())


def top_k_accuracy(X, Y, k=1, *, metric="cosine", batch_size=None, device="cpu"):
    r"""Fraction of queries whose true match is among their ``k`` best candidates.

    .. math:: \frac{1}{n}\sum_{i=1}^{n} \mathbb{1}[\operatorname{rank}_i \le k]

    with :math:`\operatorname{rank}_i` from :func:`retrieval_ranks` (ties in
    the item's favour). ``k=1`` is vec2vec's top-1 accuracy; also called
    Recall@k with one relevant candidate per query.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Queries (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Candidates; row ``i`` is the match of query ``i``.
    k : int, default=1
        Number of best candidates accepted, ``1 <= k <= n_samples``.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or Euclidean distance.
    batch_size : int, default=None
        Queries processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [0, 1].

    See Also
    --------
    retrieval_ranks, mrr

    References
    ----------
    .. [1] R. Jha, C. Zhang, V. Shmatikov, J. X. Morris. "Harnessing the
       Universal Geometry of Embeddings." arXiv:2505.12540, 2025.

    Examples
    --------
    >>> from sklatent.metrics import top_k_accuracy
    >>> Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> X = [[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]]
    >>> round(top_k_accuracy(X, Y, k=1), 4)
    0.6667
    >>> top_k_accuracy(X, Y, k=3)
    1.0
    """
    X, Y, device, dtype = _retrieval_setup(
        X, Y, function="top_k_accuracy", metric=metric, device=device
    )
    k = _check_int(k, "k", high=X.shape[0])
    ranks = _ranks(
        X, Y, metric=metric, batch_size=batch_size, device=device, dtype=dtype
    )
    return float(np.mean(ranks <= k))


def jaccard_at_k(
    X, Y, k=10, *, space="target", metric="cosine", batch_size=None, device="cpu"
):
    r"""Mean Jaccard overlap of each item's ``k`` nearest neighbours.

    With :math:`N_k(q; Z)` the indices of the ``k`` rows of ``Z`` nearest to
    :math:`q` (ties going to the lower index):

    .. math:: J_k = \frac{1}{n}\sum_{i=1}^{n}
              \frac{|A_i \cap B_i|}{|A_i \cup B_i|}

    - ``space="target"`` (the relative representations paper, Moschella et
      al., 2023): :math:`A_i = N_k(x_i; Y)`, :math:`B_i = N_k(y_i; Y)`: the
      neighbourhood that the query retrieves among the candidates against the
      true match's own neighbourhood among them (which contains :math:`i`).
      ``X`` and ``Y`` live in one space (e.g. translated and true, or two
      relative representations on parallel anchors).
    - ``space="own"``: :math:`A_i = N_k(x_i; X \setminus x_i)`,
      :math:`B_i = N_k(y_i; Y \setminus y_i)`: does each item keep its
      neighbours from one space to the other? (the k-NN overlap used to
      compare representations; the dimensions may differ). The item itself
      is excluded from both sets.

    Computed a block of rows at a time against all rows, so memory is
    O(n d + batch_size * n).

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        Queries, or the first representation for ``space="own"``.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Candidates, or the second representation for ``space="own"``.
    k : int, default=10
        Neighbourhood size, at most n_samples (n_samples - 1 for
        ``space="own"``).
    space : {"target", "own"}, default="target"
        Where each neighbourhood is taken, as above.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or Euclidean distance.
    batch_size : int, default=None
        Rows processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [0, 1].

    See Also
    --------
    mrr : Where the true match ranks, rather than the neighbourhood overlap.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import jaccard_at_k
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> jaccard_at_k(X @ Q, X @ Q, k=5)
    1.0
    >>> jaccard_at_k(X, 2 * X @ Q, k=5, space="own")
    1.0
    """
    _check_option(space, "space", ("target", "own"))
    X, Y, device, dtype = _retrieval_setup(
        X,
        Y,
        function="jaccard_at_k",
        metric=metric,
        device=device,
        same_features=space == "target",
    )
    n = X.shape[0]
    own = space == "own"
    k = _check_int(k, "k", high=n - 1 if own else n)
    Y_tensor = _backend.to_tensor(Y, device=device, dtype=dtype)
    prepared_y = _retrieval.prepare_candidates(Y_tensor, metric)
    if own:
        prepared_x = _retrieval.prepare_candidates(
            _backend.to_tensor(X, device=device, dtype=dtype), metric
        )
    else:
        prepared_x = prepared_y
    overlaps = np.empty(n)
    row_bytes = n * (2 * dtype.itemsize + 12) + (X.shape[1] + Y.shape[1]) * 8
    for rows in _batches(n, batch_size, row_bytes, max_rows=_MAX_QUERY_ROWS):
        masks = []
        for Z, prepared in ((X, prepared_x), (Y, prepared_y)):
            S = _retrieval.scores(_rows(Z, rows, device, dtype), prepared, metric)
            if own:
                local = torch.arange(S.shape[0], device=S.device)
                S[local, local + rows.start] = -torch.inf
            masks.append(_retrieval.top_k_mask(S, k))
        common = (masks[0] & masks[1]).sum(1).to(torch.float64)
        overlaps[rows] = (common / (2 * k - common)).cpu().numpy()
    return float(overlaps.mean())


# --------------------------------------------------------------------------
# Scorers
# --------------------------------------------------------------------------


def _neg_procrustes_distance(X, Y, **kwargs):
    return -procrustes_distance(X, Y, **kwargs)


_SCORER_FUNCTIONS = {
    "mean_cosine": mean_cosine,
    "mrr": mrr,
    "top_k_accuracy": top_k_accuracy,
    "jaccard_at_k": jaccard_at_k,
    "linear_cka": linear_cka,
    "rbf_cka": rbf_cka,
    "procrustes_similarity": procrustes_similarity,
    "neg_procrustes_distance": _neg_procrustes_distance,
}


def _as_column(Y):
    """A 1-D target is one column, as LatentTranslator reads it."""
    if isinstance(Y, torch.Tensor):
        return Y.reshape(-1, 1) if Y.ndim == 1 else Y
    if np.ndim(Y) == 1:
        return np.asarray(Y).reshape(-1, 1)
    return Y


class _TranslationScorer:
    """Score ``estimator.transform(X)`` against ``Y`` with a metric of this module.

    A module-level class rather than a closure, so that it pickles (joblib
    workers of a parallel search receive it).
    """

    def __init__(self, name, kwargs):
        self.name = name
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        """Return the metric of ``estimator.transform(X)`` against ``y``."""
        if y is None:
            raise ValueError(
                f"The {self.name} scorer compares translations with the true "
                "target embeddings; pass them as y (e.g. GridSearchCV.fit(X, Y))."
            )
        predicted = _as_column(estimator.transform(X))
        return _SCORER_FUNCTIONS[self.name](predicted, _as_column(y), **self.kwargs)

    def __repr__(self):
        options = "".join(f", {key}={value!r}" for key, value in self.kwargs.items())
        return f"translation_scorer({self.name!r}{options})"


def translation_scorer(name, **kwargs):
    """A scorer ``scorer(estimator, X, Y) -> float`` for a translator.

    The scorer calls ``estimator.transform(X)`` and compares the translation
    with the true target embeddings ``Y`` by the metric ``name`` of this
    module (translation as the first argument, truth as the second). Higher
    is always better, so it can drive :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_val_score` or
    :func:`~sklearn.model_selection.learning_curve`. Retrieval metrics rank
    each translated row among the true rows of the *same* evaluation fold.

    Parameters
    ----------
    name : str
        ``"mean_cosine"``, ``"mrr"``, ``"top_k_accuracy"``, ``"jaccard_at_k"``,
        ``"linear_cka"``, ``"rbf_cka"``, ``"procrustes_similarity"`` or
        ``"neg_procrustes_distance"`` (the negated angle).
    **kwargs : dict
        Keyword arguments of the metric, e.g. ``k=5`` or ``metric="euclidean"``
        or ``device="cuda"``.

    Returns
    -------
    callable
        ``scorer(estimator, X, Y) -> float``; it pickles.

    See Also
    --------
    mrr_scorer, mean_cosine_scorer, top_1_accuracy_scorer, linear_cka_scorer :
        Ready-made scorers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklatent.metrics import translation_scorer
    >>> scorer = translation_scorer("top_k_accuracy", k=1)
    >>> scorer
    translation_scorer('top_k_accuracy', k=1)
    >>> X = np.random.RandomState(0).normal(size=(20, 3))
    >>> scorer(FunctionTransformer().fit(X), X, X)
    1.0
    """
    if name not in _SCORER_FUNCTIONS:
        raise ValueError(
            f"Unknown translation scorer {name!r}; use one of "
            f"{sorted(_SCORER_FUNCTIONS)}."
        )
    return _TranslationScorer(name, dict(kwargs))


mean_cosine_scorer = translation_scorer("mean_cosine")
"""Scorer: :func:`mean_cosine` of ``estimator.transform(X)`` and ``Y``."""

mrr_scorer = translation_scorer("mrr")
"""Scorer: full-rank :func:`mrr` of ``estimator.transform(X)`` among ``Y``."""

top_1_accuracy_scorer = translation_scorer("top_k_accuracy", k=1)
"""Scorer: :func:`top_k_accuracy` with ``k=1``."""

linear_cka_scorer = translation_scorer("linear_cka")
"""Scorer: :func:`linear_cka` of ``estimator.transform(X)`` and ``Y``."""
