"""Similarity of two spaces through the functional map between their kNN graphs."""

from numbers import Integral

import torch

from .. import _backend, _validation
from .._kernels.spectral import WEIGHTS, spectral_basis
from .._sklearn_compat import Interval, StrOptions
from ._common import PAIR, PLUMBING, compute_dtype, validate_params

MEASURES = ("diagonal", "orthogonal")
"""Values of ``measure`` in :func:`functional_map_similarity`."""


def _centred(Z, device, dtype):
    """``Z`` minus its column means (taken in float64), as a tensor."""
    Z = _backend.to_tensor(Z, device=device, dtype=torch.float64)
    return (Z - Z.mean(dim=0)).to(dtype)


@validate_params(
    {
        **PAIR,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "weights": [StrOptions(set(WEIGHTS))],
        "measure": [StrOptions(set(MEASURES))],
        **PLUMBING,
    },
    prefer_skip_nested_validation=True,
)
def functional_map_similarity(
    X,
    Y,
    *,
    n_components=50,
    n_neighbors=10,
    weights="heat",
    measure="diagonal",
    batch_size=None,
    device="cpu",
):
    r"""How alike the kNN graphs of two row-aligned spaces are, by their functional map.

    Each space, centred, gets a spectral basis :math:`\Phi` (:math:`n \times
    k`): the first ``n_components`` eigenvectors of the normalised Laplacian
    of its ``n_neighbors``-NN cosine graph. Row :math:`i` of ``X`` and of
    ``Y`` being one item, the functional map of that correspondence is
    :math:`C = \Phi_Y^\top \Phi_X` (:math:`k \times k`): it carries the
    coefficients of a function on the items in ``X``'s basis to its
    coefficients in ``Y``'s. When the two graphs are alike, the smooth
    functions of one are those of the other, in the same order, and
    :math:`C` is near diagonal (Fumero et al., 2024). ``measure``:

    - ``"diagonal"``: :math:`1 - \lVert C - \operatorname{diag}(C)\rVert_F /
      \lVert C\rVert_F`, the share of :math:`C` off its diagonal subtracted
      from 1 (Fumero et al.'s similarity);
    - ``"orthogonal"``: :math:`\lVert \operatorname{diag}(C^\top C)\rVert^2
      / \lVert C^\top C\rVert_F^2`, how close :math:`C^\top C` is to
      diagonal.

    Both lie in [0, 1], are 1 for spaces with the same kNN graph (any
    rotation, scaling or translation of a space), and change sign with no
    eigenvector's sign. Eigenvectors of near-equal eigenvalues may mix, which
    lowers ``"diagonal"`` more than ``"orthogonal"``.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    n_components : int, default=50
        Basis functions :math:`k` of each space (the paper's default); needs
        more rows than this.
    n_neighbors : int, default=10
        Neighbours of each row in the kNN graphs.
    weights : {"heat", "cosine", "binary"}, default="heat"
        Edge weights of the graphs
        (:func:`sklatent._kernels.spectral.knn_graph`).
    measure : {"diagonal", "orthogonal"}, default="diagonal"
        How closeness of :math:`C` to diagonal is scored (see above).
    batch_size : int, default=None
        Rows compared with all rows at once while building the graphs; None
        sizes blocks by sklatent's batch policy. Memory grows with it times
        ``n_samples``, never with ``n_samples`` squared.
    device : str, default="cpu"
        Where the graphs are built (``"cpu"``, ``"cuda"``, ``"cuda:N"``,
        ``"mps"`` or ``"auto"``); the eigensolver runs on the CPU.

    Returns
    -------
    float
        The similarity, in [0, 1].

    See Also
    --------
    linear_cka : Similarity of the two spaces' linear kernels.
    jaccard_at_k : Overlap of each item's nearest neighbours.
    sklatent.matching.match_spaces : Functional maps from a few known pairs.

    Notes
    -----
    Time: two kNN graphs, :math:`O(n^2 d)` over blocks of rows, and two
    sparse eigensolves (:func:`sklatent._kernels.spectral.spectral_basis`;
    about 3 s for 5,000 rows of 384 features on two CPU cores).

    References
    ----------
    .. [1] M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà.
       "Latent functional maps: a spectral framework for representation
       alignment." NeurIPS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import functional_map_similarity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 8)) + rng.integers(3, size=(300, 1)) * 4
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    >>> round(functional_map_similarity(X, 3 * X @ Q + 1, n_components=10), 3)
    1.0
    >>> noise = rng.standard_normal((300, 8))
    >>> functional_map_similarity(X, noise, n_components=10) < 0.6
    True
    """
    X, Y = _validation.check_pair(
        X, Y, function="functional_map_similarity", min_rows=2
    )
    n = X.shape[0]
    if n_components >= n:
        raise ValueError(
            f"n_components={n_components} needs more rows than basis functions; "
            f"got {n} rows. Pass n_components < {n}."
        )
    device = _backend.resolve_device(device, X)
    dtype = compute_dtype(X, Y)
    block = _backend.batch_rows(
        n, batch_size, row_bytes=3 * n * dtype.itemsize, device=device
    )
    bases = [
        space_basis(Z, n_components, n_neighbors, weights, device, dtype, block)
        for Z in (X, Y)
    ]
    return map_score(bases[0], bases[1], measure)


def space_basis(Z, n_components, n_neighbors, weights, device, dtype, block):
    """The float64 spectral basis (n x ``n_components``) of ``Z`` centred.

    One space's half of :func:`functional_map_similarity`, for callers that
    score one space against many (a basis is the costly part).
    """
    return spectral_basis(
        _centred(Z, device, dtype),
        n_components,
        n_neighbors=n_neighbors,
        weights=weights,
        block_rows=block,
    )[1].to(torch.float64)


def map_score(basis_x, basis_y, measure):
    """:func:`functional_map_similarity` of two spaces from their bases."""
    C = basis_y.T @ basis_x
    if measure == "diagonal":
        off = C - torch.diag(C.diagonal())
        score = 1.0 - torch.linalg.matrix_norm(off) / torch.linalg.matrix_norm(C)
    else:
        gram = C.T @ C
        score = gram.diagonal().square().sum() / gram.square().sum()
    return float(score.clamp(0.0, 1.0))
