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
    :math:`i = \arg\max_{i'} \operatorname{CSLS}(q_{i'}, c_j)`. Mutual pairs
    are one-to-one by construction. Three passes over blocks of ``block_rows``
    rows of ``Q`` against all of ``C`` (two for the neighbourhoods, one for the
    scores), so memory stays bounded by ``block_rows`` times ``len(C)``.

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
    q_neighbourhood = neighbourhood_similarity(Q, C, k, block_rows=block_rows)
    c_neighbourhood = neighbourhood_similarity(C, Q, k, block_rows=block_rows)
    best_c = torch.empty(Q.shape[0], dtype=torch.int64, device=Q.device)
    best_score = Q.new_empty(Q.shape[0])
    column_best = Q.new_full((C.shape[0],), -torch.inf)
    for start in range(0, Q.shape[0], block_rows):
        stop = min(start + block_rows, Q.shape[0])
        scores = csls_scores(
            Q[start:stop], C, q_neighbourhood[start:stop], c_neighbourhood
        )
        best_score[start:stop], best_c[start:stop] = scores.max(dim=1)
        # A column's best value, not its row: the row i of Q is the best of
        # its best column exactly when its own best reaches that value.
        torch.maximum(column_best, scores.amax(dim=0), out=column_best)
    q_indices = torch.nonzero(best_score >= column_best[best_c]).squeeze(1)
    c_indices = best_c[q_indices]
    # Ties (two rows of Q with one best value in a column): keep the first.
    order = torch.argsort(c_indices, stable=True)
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
