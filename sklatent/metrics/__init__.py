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
- neighbourhoods: :func:`jaccard_at_k` and :func:`mutual_knn_alignment`
  (does each item keep its k nearest neighbours from one space to the other?),
  and :func:`functional_map_similarity` (do the kNN graphs have the same
  smooth functions?);
- correspondence and retrieval (row ``i`` of ``X`` should find row ``i`` of
  ``Y``): :func:`mean_cosine`, :func:`retrieval_ranks`, :func:`mrr`,
  :func:`top_k_accuracy`, by cosine, Euclidean distance or CSLS;
- scorers for model selection: :func:`translation_scorer` and the ready-made
  :data:`mean_cosine_scorer`, :data:`mrr_scorer`,
  :data:`top_1_accuracy_scorer`, :data:`linear_cka_scorer`.

Ties in retrieval are broken in the item's favour: the rank of item ``i`` is
``1 + #{j : s(x_i, y_j) > s(x_i, y_i)}``, so a candidate that scores exactly as
well as the true match does not push it down. k-nearest sets break ties by
the lower row index. Ties are equal computed scores, compared exactly.

One module a job: ``_similarity_index`` (CKA, Procrustes), ``_retrieval``
(ranks and neighbourhoods), ``_spectral`` (functional maps), ``_scorers``;
the maths lives in :mod:`sklatent._kernels`. This package imports no estimator, so the
estimators themselves may use it.
"""

from ._retrieval import (
    jaccard_at_k,
    mean_cosine,
    mrr,
    mutual_knn_alignment,
    retrieval_ranks,
    top_k_accuracy,
)
from ._scorers import (
    linear_cka_scorer,
    mean_cosine_scorer,
    mrr_scorer,
    top_1_accuracy_scorer,
    translation_scorer,
)
from ._similarity_index import (
    linear_cka,
    procrustes_distance,
    procrustes_similarity,
    rbf_cka,
)
from ._spectral import functional_map_similarity

__all__ = [
    "functional_map_similarity",
    "jaccard_at_k",
    "linear_cka",
    "linear_cka_scorer",
    "mean_cosine",
    "mean_cosine_scorer",
    "mrr",
    "mrr_scorer",
    "mutual_knn_alignment",
    "procrustes_distance",
    "procrustes_similarity",
    "rbf_cka",
    "retrieval_ranks",
    "top_1_accuracy_scorer",
    "top_k_accuracy",
    "translation_scorer",
]
