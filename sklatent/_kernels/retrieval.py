r"""Retrieval kernels: scores of query blocks against candidates, rank counts.

Every function takes tensors and returns tensors on the same device; nothing
here knows scikit-learn or numpy. :mod:`sklatent.metrics` streams query rows
through these kernels, so no function here ever sees more than one block of
queries against all candidates.

Scores follow one convention: larger means closer. They are only compared
within one query row, so any quantity constant along a row may be kept or
dropped. Three scores, all from :mod:`.similarity` and :mod:`.csls`:

- ``"cosine"``: :math:`\cos(q_i, y_j)` (:func:`~.similarity.cosine_similarity`);
- ``"euclidean"``: :math:`-\lVert q_i - y_j\rVert^2`
  (:func:`~.similarity.squared_euclidean`, accurate near zero, so a row equal
  to a candidate scores exactly 0);
- ``"csls"``: :math:`2\cos(q_i, y_j) - r_Y(q_i) - r_Q(y_j)`
  (:func:`~.csls.csls_scores`), where :math:`r_Q(y_j)` is taken over *all*
  queries, not only the block.
"""

from typing import NamedTuple

import torch

from .csls import csls_scores, neighbourhood_similarity
from .similarity import cosine_similarity, squared_euclidean, unit_rows

METRICS = ("cosine", "euclidean", "csls")


class Candidates(NamedTuple):
    """What :func:`scores` needs from the candidate rows, computed once.

    Parameters
    ----------
    metric : {"cosine", "euclidean", "csls"}
        How queries and candidates are compared.
    rows : torch.Tensor of shape (m, d)
        The candidate rows; unit rows for ``"csls"``.
    k : int or None
        The CSLS neighbourhood size.
    neighbourhood : torch.Tensor of shape (m,) or None
        For ``"csls"``, :math:`r_Q(y_j)`: the mean cosine of each candidate to
        its ``k`` most similar queries.
    """

    metric: str
    rows: torch.Tensor
    k: int | None = None
    neighbourhood: torch.Tensor | None = None


def prepare_candidates(Y, metric, *, queries=None, k=None, block_rows=None):
    """Precompute what :func:`scores` needs from the candidate rows, once.

    Parameters
    ----------
    Y : torch.Tensor of shape (m, d)
        Candidate rows.
    metric : {"cosine", "euclidean", "csls"}
        How queries and candidates are compared.
    queries : torch.Tensor of shape (n, d), default=None
        Every query row (``"csls"`` only), on ``Y``'s device.
    k : int, default=None
        CSLS neighbourhood size (``"csls"`` only).
    block_rows : int, default=None
        Candidate rows compared with all queries at once (``"csls"`` only).

    Returns
    -------
    Candidates
    """
    if metric != "csls":
        return Candidates(metric, Y)
    Y = unit_rows(Y)
    neighbourhood = neighbourhood_similarity(
        Y, unit_rows(queries), k, block_rows=block_rows
    )
    return Candidates(metric, Y, k, neighbourhood)


def scores(Q, candidates):
    """Score every query row against every candidate row (larger is closer).

    Parameters
    ----------
    Q : torch.Tensor of shape (n_queries, d)
        A block of query rows.
    candidates : Candidates
        From :func:`prepare_candidates`.

    Returns
    -------
    torch.Tensor of shape (n_queries, m)
    """
    Y = candidates.rows
    if candidates.metric == "cosine":
        return cosine_similarity(Q, Y)
    if candidates.metric == "euclidean":
        return squared_euclidean(Q, Y).neg_()
    Q = unit_rows(Q)
    own = neighbourhood_similarity(Q, Y, candidates.k, block_rows=Q.shape[0])
    return csls_scores(Q, Y, own, candidates.neighbourhood)


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
