r"""Correspondence and retrieval: does row ``i`` of ``X`` find row ``i`` of ``Y``?

Queries are streamed a block at a time against all candidates through the
kernels of :mod:`sklatent._kernels.retrieval`, so memory is O(n d +
batch_size * n), never an n x n matrix. Before the Euclidean scores are
computed, the data are scaled by a power of two (one for both sets when they
are compared with each other, one per set for neighbourhoods within a set),
which changes no ranking and keeps every square finite.
"""

from functools import partial
from numbers import Integral

import numpy as np
import torch

from .. import _backend, _dask, _validation
from .._kernels import paired_cosine
from .._kernels.retrieval import count_above, prepare_candidates, scores, top_k_mask
from .._sklearn_compat import Interval, StrOptions
from ._common import (
    PAIR,
    PLUMBING,
    check_k,
    compute_dtype,
    max_abs,
    power_of_two_scale,
    rows,
    validate_params,
)

_MAX_QUERY_ROWS = 4096
"""Largest automatic block of query rows (a larger score block gains nothing)."""

_K = [Interval(Integral, 1, None, closed="left")]
_NEIGHBOUR_METRICS = {"metric": [StrOptions({"cosine", "euclidean"})]}
_RANK_OPTIONS = {
    "metric": [StrOptions({"cosine", "euclidean", "csls"})],
    "csls_k": _K,
}


def _setup(X, Y, *, function, device, same_features=True):
    """Validated inputs, the device, and the computing dtype."""
    X, Y = _validation.check_pair(X, Y, function=function, same_features=same_features)
    device = _backend.resolve_device(device, X)
    return X, Y, device, compute_dtype(X, Y)


@validate_params({**PAIR, **PLUMBING}, prefer_skip_nested_validation=True)
def mean_cosine(X, Y, *, batch_size=None, device="cpu"):
    r"""Mean cosine similarity between the two vectors of each item.

    .. math:: \frac{1}{n}\sum_{i=1}^{n}
              \frac{x_i \cdot y_i}{\lVert x_i\rVert\,\lVert y_i\rVert}

    The fidelity of a translation (Maiorca et al., 2023; Jha et al., 2025) and
    the cosine of the relative representations paper (Moschella et al.,
    2023). ``X`` and ``Y`` must live in one space. A zero row has cosine 0.
    A high value is necessary, not sufficient: on anisotropic spaces, where
    every vector shares a direction, unrelated vectors have a high cosine
    too; check :func:`mrr` as well.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Estimates (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Reference vectors of the same items.
    batch_size : int, default=None
        Rows processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [-1, 1].

    See Also
    --------
    mrr : Does each vector find its match among all the others?

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.

    Examples
    --------
    >>> from sklatent.metrics import mean_cosine
    >>> round(mean_cosine([[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [2.0, 2.0]]), 6)
    0.853553
    """
    if _dask.any_dask(X, Y):
        X, Y = _dask.check_metric_pair(X, Y, function="mean_cosine", same_features=True)
        cosine = partial(mean_cosine, batch_size=batch_size, device=device)
        return float(_dask.weighted_mean(cosine, X, Y))
    X, Y, device, dtype = _setup(X, Y, function="mean_cosine", device=device)
    n, d = X.shape
    cosines = np.empty(n)
    row_bytes = 4 * d * dtype.itemsize
    batches = _backend.row_batches(n, batch_size, row_bytes=row_bytes, device=device)
    for batch in batches:
        x = rows(X, batch, scale=1.0, device=device, dtype=dtype)
        y = rows(Y, batch, scale=1.0, device=device, dtype=dtype)
        cosines[batch] = paired_cosine(x, y).cpu().numpy()
    return float(cosines.mean())


@validate_params(
    {**PAIR, **_RANK_OPTIONS, **PLUMBING}, prefer_skip_nested_validation=True
)
def retrieval_ranks(X, Y, *, metric="cosine", csls_k=10, batch_size=None, device="cpu"):
    r"""Rank of each item's true match when its query searches all candidates.

    Row :math:`i` of ``X`` is a query, the rows of ``Y`` are the candidates,
    and row :math:`i` of ``Y`` is the query's true match:

    .. math:: \operatorname{rank}_i = 1 + \#\{j : s(x_i, y_j) > s(x_i, y_i)\}

    Ties count in the item's favour (optimistic): a candidate that scores
    exactly as well as the true match does not push it down. This is the
    full, untruncated rank of latent functional maps (Fumero et al., 2024)
    and vec2vec (Jha et al., 2025); its mean is vec2vec's mean rank.

    The score :math:`s` is the cosine, the negative Euclidean distance, or
    cross-domain similarity local scaling (Conneau et al., 2018), which
    penalises *hubs*, candidates near to many queries:

    .. math:: \operatorname{CSLS}(x, y) = 2\cos(x, y) - r_Y(x) - r_X(y)

    with :math:`r_Y(x)` the mean cosine of :math:`x` to its ``csls_k``
    nearest rows of ``Y`` and :math:`r_X(y)` that of :math:`y` to its
    ``csls_k`` nearest rows of ``X`` (all queries).

    Ties are equal *computed* scores, compared exactly, with no tolerance:
    exact ties (duplicate candidates, or a query equal to two candidates) are
    handled exactly, while scores that are equal in exact arithmetic but
    rounded differently are not tied.

    Queries are processed a block at a time against all candidates, so memory
    is O(n d + batch_size * n): never an n x n matrix. A query's score row and
    its true-match score come from the same matrix product, so the block size
    can only matter where two candidates' scores agree to within rounding
    (BLAS kernels round differently for different block shapes); on
    continuous data the ranks are the same for every ``batch_size``.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Queries (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Candidates; row ``i`` is the match of query ``i``.
    metric : {"cosine", "euclidean", "csls"}, default="cosine"
        Cosine similarity, Euclidean distance (nearer ranks first), or CSLS.
    csls_k : int, default=10
        Neighbourhood size of CSLS (at most ``n_samples`` are used); ignored
        by the other metrics.
    batch_size : int, default=None
        Queries processed at once. None sizes blocks by sklatent's batch
        policy, at most 4096 queries.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    ndarray of shape (n_samples,), dtype int64
        The rank of each query's true match, from 1 (best) to n_samples.

    See Also
    --------
    mrr, top_k_accuracy : Summaries of these ranks.

    References
    ----------
    .. [1] M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà.
       "Latent Functional Maps." NeurIPS 2024.
    .. [2] R. Jha, C. Zhang, V. Shmatikov, J. X. Morris. "Harnessing the
       Universal Geometry of Embeddings." arXiv:2505.12540, 2025.
    .. [3] A. Conneau, G. Lample, M. Ranzato, L. Denoyer, H. Jégou. "Word
       Translation Without Parallel Data." ICLR 2018.

    Examples
    --------
    >>> from sklatent.metrics import retrieval_ranks
    >>> Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> X = [[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]]
    >>> retrieval_ranks(X, Y)
    array([1, 3, 1])
    >>> retrieval_ranks(X, Y, metric="csls", csls_k=2)
    array([1, 3, 1])
    """
    X, Y, device, dtype = _setup(X, Y, function="retrieval_ranks", device=device)
    return _ranks(X, Y, metric, csls_k, batch_size, device, dtype)


def _ranks(X, Y, metric, csls_k, batch_size, device, dtype):
    """Ranks of the true matches; the work of :func:`retrieval_ranks`."""
    n, d = X.shape
    scale = power_of_two_scale(max(max_abs(X), max_abs(Y)))
    blocks = 2 if metric == "csls" else 1
    sizing = {
        "row_bytes": n * (blocks * dtype.itemsize + 1) + d * dtype.itemsize,
        "device": device,
        "max_rows": _MAX_QUERY_ROWS,
    }
    whole = slice(None)
    queries = None
    if metric == "csls":
        queries = rows(X, whole, scale=scale, device=device, dtype=dtype)
    candidates = prepare_candidates(
        rows(Y, whole, scale=scale, device=device, dtype=dtype),
        metric,
        queries=queries,
        k=csls_k,
        block_rows=_backend.batch_rows(n, batch_size, **sizing),
    )
    ranks = np.empty(n, dtype=np.int64)
    for batch in _backend.row_batches(n, batch_size, **sizing):
        S = scores(rows(X, batch, scale=scale, device=device, dtype=dtype), candidates)
        local = torch.arange(S.shape[0], device=S.device)
        own = S[local, local + batch.start]
        ranks[batch] = (count_above(S, own) + 1).cpu().numpy()
    return ranks


@validate_params(
    {**PAIR, "k": [*_K, None], **_RANK_OPTIONS, **PLUMBING},
    prefer_skip_nested_validation=True,
)
def mrr(X, Y, *, k=None, metric="cosine", csls_k=10, batch_size=None, device="cpu"):
    r"""Mean reciprocal rank of each query's true match among all candidates.

    .. math:: \operatorname{MRR} = \frac{1}{n}\sum_{i=1}^{n}
              \frac{\mathbb{1}[\operatorname{rank}_i \le k]}{\operatorname{rank}_i}

    with :math:`\operatorname{rank}_i` from :func:`retrieval_ranks` (ties in
    the item's favour). ``k=None`` uses the full rank (no truncation), as
    latent functional maps and vec2vec do; an integer ``k`` truncates it as
    the relative representations paper does: a match outside the top ``k``
    contributes 0. Without ties, ``rank_i`` is the match's position in the
    query's ``k`` nearest candidates.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Queries (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Candidates; row ``i`` is the match of query ``i``.
    k : int, default=None
        Truncation; None means none.
    metric : {"cosine", "euclidean", "csls"}, default="cosine"
        Cosine similarity, Euclidean distance, or CSLS against hubness (see
        :func:`retrieval_ranks`).
    csls_k : int, default=10
        Neighbourhood size of CSLS; ignored by the other metrics.
    batch_size : int, default=None
        Queries processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In (0, 1] for ``k=None``, in [0, 1] otherwise.

    See Also
    --------
    retrieval_ranks : The ranks themselves.
    top_k_accuracy : The fraction of ranks within ``k``.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà.
       "Latent Functional Maps." NeurIPS 2024.

    Examples
    --------
    >>> from sklatent.metrics import mrr
    >>> Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> X = [[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]]
    >>> round(mrr(X, Y), 4)
    0.7778
    >>> round(mrr(X, Y, k=2), 4)
    0.6667
    """
    X, Y, device, dtype = _setup(X, Y, function="mrr", device=device)
    k = check_k(k, X.shape[0])
    ranks = _ranks(X, Y, metric, csls_k, batch_size, device, dtype)
    reciprocal = 1.0 / ranks
    if k is not None:
        reciprocal[ranks > k] = 0.0
    return float(reciprocal.mean())


@validate_params(
    {**PAIR, "k": _K, **_RANK_OPTIONS, **PLUMBING},
    prefer_skip_nested_validation=True,
)
def top_k_accuracy(
    X, Y, k=1, *, metric="cosine", csls_k=10, batch_size=None, device="cpu"
):
    r"""Fraction of queries whose true match is among their ``k`` best candidates.

    .. math:: \frac{1}{n}\sum_{i=1}^{n} \mathbb{1}[\operatorname{rank}_i \le k]

    with :math:`\operatorname{rank}_i` from :func:`retrieval_ranks` (ties in
    the item's favour). ``k=1`` is vec2vec's top-1 accuracy; also called
    Recall@k with one relevant candidate per query. With ``metric="csls"``
    and ``k=1`` it is the precision\@1 of word translation (Conneau et al.,
    2018).

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Queries (e.g. translated embeddings).
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features)
        Candidates; row ``i`` is the match of query ``i``.
    k : int, default=1
        Number of best candidates accepted, ``1 <= k <= n_samples``.
    metric : {"cosine", "euclidean", "csls"}, default="cosine"
        Cosine similarity, Euclidean distance, or CSLS against hubness (see
        :func:`retrieval_ranks`).
    csls_k : int, default=10
        Neighbourhood size of CSLS; ignored by the other metrics.
    batch_size : int, default=None
        Queries processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [0, 1].

    See Also
    --------
    retrieval_ranks, mrr

    References
    ----------
    .. [1] R. Jha, C. Zhang, V. Shmatikov, J. X. Morris. "Harnessing the
       Universal Geometry of Embeddings." arXiv:2505.12540, 2025.
    .. [2] A. Conneau, G. Lample, M. Ranzato, L. Denoyer, H. Jégou. "Word
       Translation Without Parallel Data." ICLR 2018.

    Examples
    --------
    >>> from sklatent.metrics import top_k_accuracy
    >>> Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> X = [[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]]
    >>> round(top_k_accuracy(X, Y, k=1), 4)
    0.6667
    >>> top_k_accuracy(X, Y, k=3)
    1.0
    """
    X, Y, device, dtype = _setup(X, Y, function="top_k_accuracy", device=device)
    k = check_k(k, X.shape[0])
    ranks = _ranks(X, Y, metric, csls_k, batch_size, device, dtype)
    return float(np.mean(ranks <= k))


def count_shared_neighbours(
    searches, n, k, *, exclude_self, batch_size, row_bytes, device=None
):
    """How many of their ``k`` best candidates two searches share, query by query.

    The one top-k-overlap loop of sklatent (neighbourhood agreement here,
    retention in :mod:`sklatent.migration`). Each search is a pair
    ``(block, candidates)``: ``block(rows)`` returns the query rows ``rows``
    (a slice) as a tensor, ``candidates`` comes from
    :func:`~sklatent._kernels.retrieval.prepare_candidates`. Queries are
    scored a block of rows at a time (at most ``_MAX_QUERY_ROWS``, sized by
    ``row_bytes`` per query row when ``batch_size`` is None) against every
    candidate; each search keeps its ``k`` best, ties to the lower row. With
    ``exclude_self``, query ``i`` is candidate ``i`` and never counts.

    Returns
    -------
    ndarray of shape (n,)
        The shared count for each of the ``n`` queries (int64).
    """
    shared = np.empty(n, dtype=np.int64)
    for batch in _backend.row_batches(
        n, batch_size, row_bytes=row_bytes, device=device, max_rows=_MAX_QUERY_ROWS
    ):
        masks = []
        for block, candidates in searches:
            S = scores(block(batch), candidates)
            if exclude_self:
                local = torch.arange(S.shape[0], device=S.device)
                S[local, local + batch.start] = -torch.inf
            masks.append(top_k_mask(S, k))
        shared[batch] = (masks[0] & masks[1]).sum(1).cpu().numpy()
    return shared


def _shared_neighbours(X, Y, k, *, space, metric, batch_size, device, function):
    """For each item, how many of its ``k`` nearest neighbours the two sets share.

    ``space="own"``: neighbours of ``x_i`` among the other rows of ``X``
    against those of ``y_i`` among the other rows of ``Y``.
    ``space="target"``: neighbours of ``x_i`` and of ``y_i`` among the rows
    of ``Y``.
    """
    own = space == "own"
    X, Y, device, dtype = _setup(
        X, Y, function=function, device=device, same_features=not own
    )
    n = X.shape[0]
    k = check_k(k, n - 1 if own else n)
    if own:
        scales = [power_of_two_scale(max_abs(Z)) for Z in (X, Y)]
    else:
        scales = [power_of_two_scale(max(max_abs(X), max_abs(Y)))] * 2
    whole = slice(None)
    candidates_y = prepare_candidates(
        rows(Y, whole, scale=scales[1], device=device, dtype=dtype), metric
    )
    candidates_x = candidates_y
    if own:
        candidates_x = prepare_candidates(
            rows(X, whole, scale=scales[0], device=device, dtype=dtype), metric
        )
    row_bytes = n * (2 * dtype.itemsize + 12) + (X.shape[1] + Y.shape[1]) * 8
    searches = [
        (partial(rows, Z, scale=scale, device=device, dtype=dtype), candidates)
        for Z, scale, candidates in (
            (X, scales[0], candidates_x),
            (Y, scales[1], candidates_y),
        )
    ]
    shared = count_shared_neighbours(
        searches,
        n,
        k,
        exclude_self=own,
        batch_size=batch_size,
        row_bytes=row_bytes,
        device=device,
    )
    return shared, k


@validate_params(
    {
        **PAIR,
        "k": _K,
        "space": [StrOptions({"own", "target"})],
        **_NEIGHBOUR_METRICS,
        **PLUMBING,
    },
    prefer_skip_nested_validation=True,
)
def jaccard_at_k(
    X, Y, k=10, *, space="own", metric="cosine", batch_size=None, device="cpu"
):
    r"""Mean Jaccard overlap of each item's ``k`` nearest neighbours in two spaces.

    With :math:`N_k(q; Z)` the indices of the ``k`` rows of ``Z`` nearest to
    :math:`q` (ties going to the lower index):

    .. math:: J_k = \frac{1}{n}\sum_{i=1}^{n}
              \frac{|A_i \cap B_i|}{|A_i \cup B_i|}

    - ``space="own"`` (default): :math:`A_i = N_k(x_i; X \setminus x_i)`,
      :math:`B_i = N_k(y_i; Y \setminus y_i)`: does each item keep its
      neighbours from one space to the other? The k-NN overlap used to
      compare representations (the dimensions may differ); the item itself
      is excluded from both sets. :func:`mutual_knn_alignment` divides the
      same intersection by ``k`` instead of the union.
    - ``space="target"``: :math:`A_i = N_k(x_i; Y)`, :math:`B_i = N_k(y_i;
      Y)`: the neighbourhood that the query retrieves among the candidates
      against the true match's own neighbourhood among them (which contains
      :math:`i`); the protocol of the relative representations paper's
      word-embedding experiment (Moschella et al., 2023). ``X`` and ``Y``
      live in one space (e.g. translated and true).

    Computed a block of rows at a time against all rows, so memory is
    O(n d + batch_size * n).

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        The first representation, or the queries for ``space="target"``.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        The second representation, or the candidates for ``space="target"``.
    k : int, default=10
        Neighbourhood size, at most n_samples - 1 (n_samples for
        ``space="target"``).
    space : {"own", "target"}, default="own"
        Where each neighbourhood is taken, as above.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or Euclidean distance.
    batch_size : int, default=None
        Rows processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [0, 1].

    See Also
    --------
    mutual_knn_alignment : The shared fraction of the ``k`` neighbours.
    mrr : Where the true match ranks, rather than the neighbourhood overlap.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import jaccard_at_k
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> jaccard_at_k(X, 2 * X @ Q, k=5)
    1.0
    >>> jaccard_at_k(X @ Q, X @ Q, k=5, space="target")
    1.0
    """
    shared, k = _shared_neighbours(
        X,
        Y,
        k,
        space=space,
        metric=metric,
        batch_size=batch_size,
        device=device,
        function="jaccard_at_k",
    )
    return float(np.mean(shared / (2 * k - shared)))


@validate_params(
    {**PAIR, "k": _K, **_NEIGHBOUR_METRICS, **PLUMBING},
    prefer_skip_nested_validation=True,
)
def mutual_knn_alignment(X, Y, k=10, *, metric="cosine", batch_size=None, device="cpu"):
    r"""Mutual k-nearest-neighbour alignment of two row-aligned spaces.

    The mean fraction of each item's ``k`` nearest neighbours in ``X`` that
    are also among its ``k`` nearest neighbours in ``Y`` (Huh et al., 2024):

    .. math:: m_k = \frac{1}{n}\sum_{i=1}^{n}
              \frac{|N_k(x_i; X \setminus x_i) \cap N_k(y_i; Y \setminus y_i)|}{k}

    with :math:`N_k(q; Z)` the indices of the ``k`` rows of ``Z`` nearest to
    :math:`q`, the item itself excluded (ties going to the lower index). It
    shares the intersection of :func:`jaccard_at_k` with ``space="own"`` but
    divides by ``k`` rather than by the union, so for a shared count
    :math:`c` it is :math:`c/k \ge c/(2k - c)`. The dimensions of ``X`` and
    ``Y`` may differ. Huh et al. compare L2-normalised features by their
    inner product, which is ``metric="cosine"``.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        First representation.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Second representation of the same items, in the same row order.
    k : int, default=10
        Neighbourhood size, at most n_samples - 1.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine similarity, or Euclidean distance.
    batch_size : int, default=None
        Rows processed at once.
    device : str, default="cpu"
        Where the kernels run.

    Returns
    -------
    float
        In [0, 1].

    See Also
    --------
    jaccard_at_k : The same intersection over the union.
    linear_cka : A global rather than local similarity of the spaces.

    References
    ----------
    .. [1] M. Huh, B. Cheung, T. Wang, P. Isola. "The Platonic Representation
       Hypothesis." ICML 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.metrics import mutual_knn_alignment
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> mutual_knn_alignment(X, 3 * X @ Q, k=5)
    1.0
    >>> round(mutual_knn_alignment(X, rng.normal(size=(50, 4)), k=5), 2)
    0.13
    """
    shared, k = _shared_neighbours(
        X,
        Y,
        k,
        space="own",
        metric=metric,
        batch_size=batch_size,
        device=device,
        function="mutual_knn_alignment",
    )
    return float(np.mean(shared / k))
