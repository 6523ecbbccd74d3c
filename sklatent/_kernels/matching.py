r"""Kernels for finding correspondences between two unpaired sets of rows.

- :func:`mutual_csls_pairs`: the pairs of rows that are each other's best
  match by CSLS (:mod:`~._kernels.csls`), with their scores, in blocks of rows;
- :func:`sorted_similarity_profiles`: VecMap's rotation-invariant description
  of each row by the sorted row of the square-rooted similarity matrix.

Rows are expected as unit vectors, so that a product of rows is a cosine.

References
----------
A. Conneau, G. Lample, M. Ranzato, L. Denoyer, H. Jégou. "Word translation
without parallel data." ICLR 2018.
M. Artetxe, G. Labaka, E. Agirre. "A robust self-learning method for fully
unsupervised cross-lingual mappings of word embeddings." ACL 2018.
"""

import torch

from .csls import csls_scores, neighbourhood_similarity
from .similarity import unit_rows
from .solvers import procrustes


def mutual_csls_pairs(Q, C, k, *, block_rows):
    r"""Pairs of rows of ``Q`` and ``C`` that are each other's best CSLS match.

    Row :math:`i` of ``Q`` and row :math:`j` of ``C`` are paired when
    :math:`j = \arg\max_{j'} \operatorname{CSLS}(q_i, c_{j'})` and
    :math:`i = \arg\max_{i'} \operatorname{CSLS}(q_{i'}, c_j)`, for
    :math:`\operatorname{CSLS}(q_i, c_j) = 2 \cos(q_i, c_j) - r_C(q_i) -
    r_Q(c_j)` (:mod:`~._kernels.csls`). Mutual pairs are one-to-one by
    construction.

    Two passes over blocks of ``block_rows`` rows: each block of ``Q``
    against all of ``C`` gives, from one product, the ``k`` largest cosines
    of each row (its neighbourhood :math:`r_C(q_i)`, and its candidates) and
    each column's best :math:`2 \cos(q_i, c_j) - r_C(q_i)`, which the
    columns' own neighbourhoods do not change; blocks of ``C`` against all of
    ``Q`` give :math:`r_Q(c_j)`. A row's best match is then the best of its
    ``k`` candidates, exactly, whenever that beats the bound :math:`2
    \cos_{(k)} - r_C(q_i) - \min_j r_Q(c_j)` on every other column
    (:math:`\cos_{(k)}` the row's ``k``-th largest cosine); the few rows
    where it does not are scored against all of ``C`` again. So a call costs
    about two products of ``Q`` and ``C`` where computing the neighbourhoods
    and then the scores costs three, with the same pairs; memory stays
    bounded by ``block_rows`` times ``max(len(Q), len(C))``.

    Parameters
    ----------
    Q : torch.Tensor of shape (n, d)
        Unit rows.
    C : torch.Tensor of shape (m, d)
        Unit rows, on ``Q``'s device.
    k : int
        Neighbours of the CSLS neighbourhood similarity.
    block_rows : int
        Rows of ``Q`` compared with all of ``C`` at once.

    Returns
    -------
    q_indices : torch.Tensor of shape (p,), int64
        Rows of ``Q``, in increasing order.
    c_indices : torch.Tensor of shape (p,), int64
        Their partners in ``C``.
    scores : torch.Tensor of shape (p,)
        :math:`\operatorname{CSLS}(q_i, c_j)` of each pair.
    """
    block_rows = max(1, block_rows)
    n, m = Q.shape[0], C.shape[0]
    k_q = min(k, m)
    candidates = Q.new_empty((n, k_q))
    columns = torch.empty((n, k_q), dtype=torch.int64, device=Q.device)
    q_neighbourhood = Q.new_empty(n)
    column_part = Q.new_full((m,), -torch.inf)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        cosines = Q[start:stop] @ C.T
        candidates[start:stop], columns[start:stop] = cosines.topk(k_q, dim=1)
        q_neighbourhood[start:stop] = candidates[start:stop].mean(dim=1)
        cosines.mul_(2.0).sub_(q_neighbourhood[start:stop].unsqueeze(1))
        torch.maximum(column_part, cosines.amax(dim=0), out=column_part)
    c_neighbourhood = neighbourhood_similarity(C, Q, k, block_rows=block_rows)
    column_best = column_part - c_neighbourhood
    scores = 2.0 * candidates - q_neighbourhood.unsqueeze(1)
    best_score, best = (scores - c_neighbourhood[columns]).max(dim=1)
    best_c = columns.gather(1, best.unsqueeze(1)).squeeze(1)
    if k_q < m:
        bound = 2.0 * candidates[:, -1] - q_neighbourhood - c_neighbourhood.min()
        unsure = torch.nonzero(best_score <= bound).squeeze(1)
        for start in range(0, len(unsure), block_rows):
            rows = unsure[start : start + block_rows]
            full = csls_scores(Q[rows], C, q_neighbourhood[rows], c_neighbourhood)
            best_score[rows], best_c[rows] = full.max(dim=1)
    # A column's best value, not its row: row i of Q is the best of its best
    # column when its own best reaches that value. The candidates' scores
    # repeat the column's arithmetic exactly; a row compared again with all
    # of C may differ from it in the last bits, hence the slack.
    slack = 16 * torch.finfo(Q.dtype).eps
    q_indices = torch.nonzero(best_score >= column_best[best_c] - slack).squeeze(1)
    c_indices = best_c[q_indices]
    # Two rows of Q at one column's best value: keep the higher score (the
    # first of equal ones).
    order = torch.argsort(best_score[q_indices], descending=True, stable=True)
    order = order[torch.argsort(c_indices[order], stable=True)]
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = c_indices[order][1:] != c_indices[order][:-1]
    q_indices = torch.sort(q_indices[order][first]).values
    return q_indices, best_c[q_indices], best_score[q_indices]


def sorted_similarity_profiles(X, reference):
    r"""Each row's sorted similarities to a reference set, invariant to rotations.

    VecMap's seed-free initialisation (Artetxe et al., 2018) describes a row
    by its row of the square-rooted similarity matrix
    :math:`(R R^\top)^{1/2} = U \Sigma U^\top` (thin SVD
    :math:`R = U \Sigma V^\top`), sorted. That row is the similarity to the
    polar factor :math:`U V^\top` of the reference (the orthogonal matrix
    nearest to it, :func:`~._kernels.solvers.procrustes`), so a row of any
    set ``X`` is described by

    .. math:: p(x) = \operatorname{sort}\big(x\, (U V^\top)^\top\big),

    which an orthogonal map applied to both ``X`` and the reference leaves
    unchanged, and which, sorted, no longer depends on the order of the
    reference rows: two references drawn from the same distribution give
    comparable profiles. Profiles are made unit rows, centred on their mean
    and made unit rows again, as VecMap normalises them.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
        Unit rows (centred, then normalised).
    reference : torch.Tensor of shape (s, d)
        Rows of the same space, normalised like ``X``.

    Returns
    -------
    torch.Tensor of shape (n, s)
        One profile per row of ``X``, in decreasing order, unit rows.
    """
    profiles = X @ procrustes(reference)[0].T
    profiles = unit_rows(profiles.sort(dim=1, descending=True).values)
    return unit_rows(profiles - profiles.mean(dim=0))
