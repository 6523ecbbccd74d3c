"""Torch kernels: every similarity, distance, moment and solver, once.

Every function here takes tensors and returns tensors on the same device;
nothing here knows scikit-learn or numpy. One module a job:

- :mod:`.similarity`: cosine, dot, Euclidean, L1, L-infinity, robust norms;
- :mod:`.fused`: the compiled L1 / L-infinity distance behind them;
- :mod:`.csls`: cross-domain similarity local scaling;
- :mod:`.inverse`: the inverse relative projection (cosine relative vectors
  back to absolute ones);
- :mod:`.relative`: the relative projection built on the similarities;
- :mod:`.moments`: float64 moments, exact merges, the constant-feature rule;
- :mod:`.powers`: exact power-of-two scaling of data of extreme magnitude;
- :mod:`.solvers`: Procrustes and least squares;
- :mod:`.spectral`: kNN graphs and the spectral bases of their Laplacians;
- :mod:`.matching`, :mod:`.retrieval`: mutual CSLS pairs, retrieval blocks.
"""

from .csls import csls_scores, neighbourhood_similarity
from .inverse import anchor_pseudo_inverse, inverse_relative_projection
from .moments import (
    CrossMoments,
    column_moments,
    constant_features,
    cross_moments,
    gram_factor,
    merge_cross_moments,
    merge_moments,
    pool_moments,
    safe_scale,
    stack_factors,
    statistics_device,
)
from .powers import binary_exponent, exponent_of, scale_exactly
from .relative import (
    keep_top_k,
    layer_normalize,
    relative_projection,
    resolve_similarities,
)
from .similarity import (
    SIMILARITIES,
    cosine_similarity,
    dot_similarity,
    euclidean_similarity,
    l1_similarity,
    largest_safe_value,
    linf_similarity,
    paired_cosine,
    row_norms,
    squared_euclidean,
    unit_rows,
)
from .solvers import least_squares, procrustes

__all__ = [
    "SIMILARITIES",
    "CrossMoments",
    "anchor_pseudo_inverse",
    "binary_exponent",
    "column_moments",
    "constant_features",
    "cosine_similarity",
    "cross_moments",
    "csls_scores",
    "dot_similarity",
    "euclidean_similarity",
    "exponent_of",
    "gram_factor",
    "inverse_relative_projection",
    "keep_top_k",
    "l1_similarity",
    "largest_safe_value",
    "layer_normalize",
    "least_squares",
    "linf_similarity",
    "merge_cross_moments",
    "merge_moments",
    "neighbourhood_similarity",
    "paired_cosine",
    "pool_moments",
    "procrustes",
    "relative_projection",
    "resolve_similarities",
    "row_norms",
    "safe_scale",
    "scale_exactly",
    "squared_euclidean",
    "stack_factors",
    "statistics_device",
    "unit_rows",
]
