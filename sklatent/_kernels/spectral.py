r"""Spectral bases of a point cloud: a kNN graph, its Laplacian, its eigenvectors.

The first eigenvectors of a graph Laplacian are the smoothest functions on
the graph, a basis in which functions on the points (descriptors, indicators)
are expressed by a few coefficients. Latent functional maps (Fumero et al.,
2024) compare two embedding spaces through such bases.

- :func:`knn_graph`: the symmetric k-nearest-neighbour graph of the rows, as a
  sparse matrix, built from blocks of rows (:func:`~.similarity.nearest_rows`),
  never an n x n dense matrix;
- :func:`spectral_basis`: the first eigenpairs of its symmetric normalised
  Laplacian :math:`L = I - D^{-1/2} W D^{-1/2}`, by Lanczos iterations
  (``scipy.sparse.linalg.eigsh``) on the sparse graph.

The graph is built with torch on the rows' device; the sparse matrices and
the eigensolver live on the CPU (scipy), and the basis is returned on the
rows' device in their dtype.

References
----------
U. von Luxburg. "A tutorial on spectral clustering." Statistics and Computing
17, 2007.
M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà. "Latent
functional maps: a spectral framework for representation alignment." NeurIPS
2024.
"""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from .similarity import nearest_rows, unit_rows

WEIGHTS = ("heat", "cosine", "binary")
"""Edge weights of :func:`knn_graph`."""

LANCZOS_FACTOR = 4
"""The Lanczos subspace of :func:`spectral_basis` holds this many vectors per
eigenpair sought (``ncv``; scipy's default is 2): on a 20,000-row graph of
noisy 384-d rows, 50 eigenpairs took 28 s with 2 and 13 s with 4 on two
CPU cores (``benchmarks/bench_functional_maps.py``)."""


def knn_graph(X, n_neighbors, *, weights="heat", block_rows):
    r"""The symmetric k-nearest-neighbour graph of the rows, by cosine.

    Each row is joined to its ``n_neighbors`` most cosine-similar other rows;
    the graph is made symmetric by keeping an edge found from either end
    (:math:`W = \max(W_0, W_0^\top)`). Edge weights:

    - ``"heat"``: :math:`w_{ij} = \exp(-d_{ij}^2 / \sigma^2)`, for
      :math:`d_{ij}` the Euclidean distance of the unit rows
      (:math:`d^2 = 2 - 2\cos`) and :math:`\sigma^2` the mean of
      :math:`d^2` over the edges;
    - ``"cosine"``: :math:`w_{ij} = \max(\cos(x_i, x_j), 0)`;
    - ``"binary"``: :math:`w_{ij} = 1`.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
        The rows, ``n >= 2``; scaling a row changes nothing.
    n_neighbors : int
        Neighbours of each row (at most ``n - 1`` are used).
    weights : {"heat", "cosine", "binary"}, default="heat"
        The edge weights.
    block_rows : int
        Rows compared with all rows at once: memory grows with ``block_rows``
        times ``n``.

    Returns
    -------
    scipy.sparse.csr_array of shape (n, n), float64
        Symmetric, non-negative, zero diagonal.
    """
    n = X.shape[0]
    U = unit_rows(X)
    cosines, columns = nearest_rows(
        U, U, n_neighbors, block_rows=block_rows, exclude_self=True
    )
    cosines = cosines.to(torch.float64).clamp(-1.0, 1.0).cpu().numpy()
    if weights == "heat":
        squares = 2.0 - 2.0 * cosines
        scale = squares.mean()
        values = np.exp(-squares / scale) if scale > 0 else np.ones_like(squares)
    elif weights == "cosine":
        # A neighbour at a cosine of 0 or less keeps a tiny weight, so that
        # the graph keeps the edge (and the row stays connected).
        values = np.maximum(cosines, np.finfo(np.float64).tiny)
    else:
        values = np.ones_like(cosines)
    rows = np.repeat(np.arange(n), cosines.shape[1])
    W = scipy.sparse.csr_array(
        (values.ravel(), (rows, columns.cpu().numpy().ravel())), shape=(n, n)
    )
    return W.maximum(W.T).tocsr()


def normalized_adjacency(W):
    r"""The normalised adjacency :math:`D^{-1/2} W D^{-1/2}` of a graph.

    Its eigenvalues :math:`\mu` are those of the normalised Laplacian
    :math:`L = I - D^{-1/2} W D^{-1/2}` as :math:`\lambda = 1 - \mu`, with the
    same eigenvectors. A row without edges stays zero (an isolated point).

    Parameters
    ----------
    W : scipy.sparse array of shape (n, n)
        Symmetric, non-negative weights.

    Returns
    -------
    scipy.sparse.csr_array of shape (n, n), float64
    """
    degrees = np.asarray(W.sum(axis=1)).ravel()
    inverse_root = np.zeros_like(degrees)
    np.divide(1.0, np.sqrt(degrees), out=inverse_root, where=degrees > 0)
    scaling = scipy.sparse.diags_array(inverse_root)
    return (scaling @ W @ scaling).tocsr()


def spectral_basis(
    X, n_components, *, n_neighbors=10, weights="heat", block_rows, random_state=0
):
    r"""The first eigenpairs of the normalised Laplacian of the rows' kNN graph.

    The graph is :func:`knn_graph`; its normalised Laplacian :math:`L = I -
    D^{-1/2} W D^{-1/2}` has eigenvalues in :math:`[0, 2]`. The
    ``n_components`` smallest, with orthonormal eigenvectors, are found by
    Lanczos iterations (``scipy.sparse.linalg.eigsh``) for the *largest*
    eigenvalues of :math:`(I + D^{-1/2} W D^{-1/2}) / 2 = I - L/2`, a
    positive semi-definite operator whose largest eigenvalues converge
    quickly and which needs no factorisation. Time: the graph costs
    :math:`O(n^2 d)` in blocks of rows, the eigensolver
    :math:`O(n \cdot k \cdot \text{n\_neighbors})` per iteration plus
    :math:`O(n k^2)` for its orthogonalisations (13 to 28 s for 20,000
    rows of 384 features and 50 eigenpairs on two CPU cores). A graph with
    fewer rows than the Lanczos subspace (:data:`LANCZOS_FACTOR`) is small
    enough to decompose densely.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
        The rows; ``n > n_components``.
    n_components : int
        Eigenpairs returned, ``1 <= n_components < n``.
    n_neighbors : int, default=10
        Neighbours of each row in the graph.
    weights : {"heat", "cosine", "binary"}, default="heat"
        Edge weights of the graph (:func:`knn_graph`).
    block_rows : int
        Rows compared with all rows at once while building the graph.
    random_state : int, default=0
        Seeds the starting vector of the Lanczos iterations, so the basis is
        reproducible (eigenvectors are defined up to sign, and up to a
        rotation within a repeated eigenvalue).

    Returns
    -------
    eigenvalues : torch.Tensor of shape (n_components,)
        Eigenvalues of :math:`L`, in increasing order; the first is 0 (one per
        connected component).
    eigenvectors : torch.Tensor of shape (n, n_components)
        Orthonormal columns; column ``j`` goes with ``eigenvalues[j]``.
    """
    n = X.shape[0]
    A = normalized_adjacency(
        knn_graph(X, n_neighbors, weights=weights, block_rows=block_rows)
    )
    operator = 0.5 * (scipy.sparse.eye_array(n, format="csr") + A)
    subspace = max(LANCZOS_FACTOR * n_components + 1, 40)
    if subspace >= n:
        # A graph this small is one block: its dense eigendecomposition.
        values, vectors = np.linalg.eigh(operator.toarray())
    else:
        start = np.random.default_rng(random_state).standard_normal(n)
        values, vectors = scipy.sparse.linalg.eigsh(
            operator, k=n_components, which="LA", v0=start, ncv=subspace, tol=1e-8
        )
    order = np.argsort(-values)[:n_components]
    eigenvalues = np.clip(2.0 * (1.0 - values[order]), 0.0, 2.0)
    eigenvectors = vectors[:, order]
    return (
        torch.as_tensor(eigenvalues, dtype=X.dtype, device=X.device),
        torch.as_tensor(eigenvectors, dtype=X.dtype, device=X.device),
    )
