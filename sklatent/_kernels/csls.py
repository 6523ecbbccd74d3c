r"""Cross-domain similarity local scaling (CSLS), against hubness.

Nearest-neighbour retrieval across two spaces suffers from *hubs*: points that
are the nearest neighbour of many queries. CSLS (Conneau et al., 2018)
penalises them with the mean similarity of each point to its ``k`` nearest
neighbours in the other set:

.. math:: \operatorname{CSLS}(x, y) = 2 \cos(x, y) - r_Y(x) - r_X(y), \qquad
          r_Y(x) = \frac{1}{k} \sum_{y' \in N_k^Y(x)} \cos(x, y')

Rows are expected as unit vectors (see :func:`~._kernels.similarity.unit_rows`),
so that a product of rows is a cosine. Everything works on blocks of rows, so
memory stays bounded by ``block_rows`` times the other set's size.

References
----------
A. Conneau, G. Lample, M. Ranzato, L. Denoyer, H. Jégou. "Word translation
without parallel data." ICLR 2018.
"""

import torch

from .similarity import nearest_rows


def neighbourhood_similarity(Q, C, k, *, block_rows):
    """Mean cosine of each row of ``Q`` to its ``k`` most similar rows of ``C``.

    Parameters
    ----------
    Q : torch.Tensor of shape (n, d)
        Unit rows.
    C : torch.Tensor of shape (m, d)
        Unit rows, on ``Q``'s device.
    k : int
        Neighbours averaged; ``min(k, m)`` are used.
    block_rows : int
        Rows of ``Q`` compared with all of ``C`` at once.

    Returns
    -------
    torch.Tensor of shape (n,)
        :math:`r_C(q)` for each row of ``Q``.
    """
    return nearest_rows(Q, C, k, block_rows=block_rows)[0].mean(1)


def csls_scores(Q, C, q_neighbourhood, c_neighbourhood):
    r"""CSLS of each row of ``Q`` against each row of ``C``.

    Parameters
    ----------
    Q : torch.Tensor of shape (n, d)
        Unit rows (a block of queries).
    C : torch.Tensor of shape (m, d)
        Unit rows (the candidates).
    q_neighbourhood : torch.Tensor of shape (n,)
        :math:`r_C(q)`, from :func:`neighbourhood_similarity` ``(Q, C, k)``.
    c_neighbourhood : torch.Tensor of shape (m,)
        :math:`r_Q(c)`, from :func:`neighbourhood_similarity` of the candidates
        against *all* queries (not only this block).

    Returns
    -------
    torch.Tensor of shape (n, m)
        :math:`2 \cos(q_i, c_j) - r_C(q_i) - r_Q(c_j)`.
    """
    scores = torch.addmm(c_neighbourhood.neg().unsqueeze(0), Q, C.T, alpha=2.0)
    return scores.sub_(q_neighbourhood.unsqueeze(1))
