r"""The exact median of all pairwise squared distances, in bounded memory.

The median heuristic sets the bandwidth of a Gaussian kernel
:math:`\exp(-\lVert x - x'\rVert^2 / 2\sigma^2)` from the median of the
squared distances between rows. The :math:`n^2` distances are never held at
once: blocks of rows are compared with all rows
(:func:`~.similarity.squared_euclidean`), and while more than
:data:`GATHER_LIMIT` candidate values remain, one pass histograms them into
:data:`HISTOGRAM_BINS` equal bins and keeps the bin that holds the wanted
order statistic.
"""

import torch

from .similarity import row_norms, squared_euclidean

GATHER_LIMIT = 2**22
"""Values gathered at once for the final sort."""

HISTOGRAM_BINS = 2**16
"""Bins of each refining histogram pass."""


def _bin_of(values, low, scale):
    """Histogram bin of each value: a monotone map onto [0, HISTOGRAM_BINS)."""
    return ((values - low) * scale).floor_().clamp_(0, HISTOGRAM_BINS - 1).long()


def _members(D, levels):
    """The entries of ``D`` that fall in the chosen bin at every level."""
    if not levels:
        return D.flatten()
    mask = None
    for low, scale, chosen in levels:
        hit = _bin_of(D, low, scale) == chosen
        mask = hit if mask is None else mask & hit
    return D[mask]


def _order_statistic_window(blocks, total, position, upper):
    """Sorted values around the ``position``-th smallest entry of all blocks.

    The entries (``total`` of them, streamed by ``blocks()``) are never held
    at once: each bin map is monotone and evaluated the same way on every
    pass, so the kept set is a contiguous run of the sorted entries and the
    count before it is exact.

    Returns
    -------
    values : torch.Tensor
        The kept entries, sorted, float64 on the CPU.
    before : int
        Number of entries sorted before ``values[0]``.
    """
    levels = []
    before, count, low, high = 0, total, 0.0, upper
    while count > GATHER_LIMIT:
        if not high > low:
            # The kept entries agree to the last bit of the bin map: return
            # their smallest value as the order statistic.
            smallest = min(
                float(kept.min())
                for kept in (_members(D, levels) for D in blocks())
                if kept.numel()
            )
            return torch.tensor([smallest], dtype=torch.float64), position
        scale = HISTOGRAM_BINS / (high - low)
        histogram = None
        for D in blocks():
            counts = torch.bincount(
                _bin_of(_members(D, levels), low, scale), minlength=HISTOGRAM_BINS
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


def _order_statistic(blocks, total, position, upper):
    values, before = _order_statistic_window(blocks, total, position, upper)
    return float(values[position - before])


def median_squared_distance(Z, batches, *, diagonal=True):
    """Exact median of the squared Euclidean distances between rows of ``Z``.

    As ``numpy.median`` of the full :math:`n \\times n` distance matrix
    (``diagonal=True``: the zeros of the diagonal included, the rule of
    Kornblith et al.'s CKA code) or of the :math:`n(n-1)/2` distinct pairs
    (``diagonal=False``: ``numpy.median(scipy.spatial.distance.pdist(Z,
    "sqeuclidean"))``), the two middle values averaged for an even count.

    Parameters
    ----------
    Z : torch.Tensor of shape (n, d)
        Rows; float32 or float64.
    batches : list of slice
        Row blocks covering ``range(n)``, each compared with all rows at once
        (memory: block rows times ``n``).
    diagonal : bool, default=True
        Include the ``n`` zero distances of rows to themselves.

    Returns
    -------
    float
        The median; 0.0 when it is zero (more than half the pairs coincide).
    """
    n = Z.shape[0]
    if not diagonal and n < 2:
        raise ValueError("The median of distinct pairs needs at least 2 rows.")
    centred = Z - Z.mean(0)
    upper = 4.0 * float(row_norms(centred).max()) ** 2
    if upper == 0:
        return 0.0

    def blocks():
        return (squared_euclidean(Z[rows], Z) for rows in batches)

    # The diagonal zeros sort first (ties at zero are equal values), so the
    # distinct pairs' order statistics are shifted by n; each distinct pair
    # appears twice among the n^2 entries, which leaves the median unchanged.
    offset, count = (0, n * n) if diagonal else (n, n * (n - 1))
    total = n * n
    lower = offset + (count - 1) // 2
    values, before = _order_statistic_window(blocks, total, lower, upper)
    median = float(values[lower - before])
    if count % 2 == 0:
        if lower + 1 - before < values.numel():
            second = float(values[lower + 1 - before])
        else:
            second = _order_statistic(blocks, total, lower + 1, upper)
        median = (median + second) / 2
    return median
