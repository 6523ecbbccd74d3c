"""Torch kernels for retrieval metrics: scores, rank counts, k-nearest sets.

Every function takes tensors and returns tensors on the same device; nothing
here knows scikit-learn or numpy. :mod:`sklatent.metrics` streams query rows
through these kernels, so no function here ever sees more than one block of
queries against all candidates.

Scores follow one convention: larger means closer. They are only meant to be
compared within one query row, which lets the Euclidean score drop the query's
own squared norm (a constant of the row) and skip the square root.
"""

import torch
import torch.nn.functional as F

METRICS = ("cosine", "euclidean")


def prepare_candidates(Y, metric):
    """Precompute what :func:`scores` needs from the candidate rows, once.

    Parameters
    ----------
    Y : torch.Tensor of shape (n_candidates, d)
        Candidate rows.
    metric : {"cosine", "euclidean"}
        How queries and candidates are compared.

    Returns
    -------
    tuple of torch.Tensor
        ``(unit_rows,)`` for cosine, ``(rows, squared_norms)`` for Euclidean.
    """
    if metric == "cosine":
        return (F.normalize(Y, dim=1),)
    return Y, (Y * Y).sum(1)


def scores(Q, prepared, metric):
    r"""Score every query row against every candidate row.

    Cosine: :math:`S_{ij} = \cos(q_i, y_j)` (a zero row scores 0 against
    everything). Euclidean: :math:`S_{ij} = 2\, q_i \cdot y_j -
    \lVert y_j\rVert^2 = \lVert q_i\rVert^2 - \lVert q_i - y_j\rVert^2`, which
    orders each row exactly as the negative distance does.

    Parameters
    ----------
    Q : torch.Tensor of shape (n_queries, d)
        Query rows.
    prepared : tuple of torch.Tensor
        The output of :func:`prepare_candidates`.
    metric : {"cosine", "euclidean"}
        The metric ``prepared`` was built for.

    Returns
    -------
    torch.Tensor of shape (n_queries, n_candidates)
    """
    if metric == "cosine":
        return F.normalize(Q, dim=1) @ prepared[0].T
    Y, squared_norms = prepared
    return torch.addmm(squared_norms.neg().unsqueeze(0), Q, Y.T, alpha=2.0)


def count_above(block, reference):
    """Count, in each row of ``block``, the entries strictly above a reference.

    Parameters
    ----------
    block : torch.Tensor of shape (n, m)
        Scores.
    reference : torch.Tensor of shape (n,)
        One reference score per row.

    Returns
    -------
    torch.Tensor of shape (n,), int32
    """
    return (block > reference.unsqueeze(1)).sum(1, dtype=torch.int32)


def top_k_mask(block, k):
    """Mark each row's ``k`` largest entries, ties going to the lower column.

    The set is exact and deterministic: every entry strictly above the row's
    ``k``-th largest value is kept, then entries equal to it in increasing
    column order until ``k`` are kept (a stable descending sort would choose
    the same set).

    Parameters
    ----------
    block : torch.Tensor of shape (n, m)
        Scores; ``-inf`` may mark excluded entries.
    k : int
        Entries kept per row, ``1 <= k <= m``.

    Returns
    -------
    torch.Tensor of shape (n, m), bool
    """
    kth = torch.topk(block, k, dim=1).values[:, -1:]
    mask = block >= kth
    extra = mask.sum(1) - k
    tied = torch.nonzero(extra > 0).flatten()
    if tied.numel():
        rows, row_kth = block[tied], kth[tied]
        above = rows > row_kth
        equal = rows == row_kth
        room = k - above.sum(1, keepdim=True)
        mask[tied] = above | (equal & (equal.cumsum(1) <= room))
    return mask
