r"""Finding correspondences between two embedding spaces with few or no known pairs.

Relative representations and latent space translation need *parallel anchors*:
the same items embedded by both encoders. Often there are only a handful of
known pairs, or none, next to large unpaired pools of embeddings.
:func:`match_spaces` finds a one-to-one correspondence between rows of two
pools, which then feeds the estimators unchanged::

    m = match_spaces(X, Y, seeds=known_pairs)
    LatentTranslator(method="orthogonal").fit(X[m.x_indices], Y[m.y_indices])
    RelativeTransformer(anchors=X[m.x_indices[:k]])

Every method ends with the same *self-learning refinement* (Artetxe et al.,
2018; Conneau et al., 2018): fit an orthogonal map on the current pairs, pair
the rows again by mutual nearest neighbours under CSLS, and repeat while the
criterion improves. The methods differ in the first pairs:

- ``"refine"``: the seeds;
- ``"bootstrap"``: the seeds, grown through relative representations
  (Cannistraci et al., 2023);
- ``"functional_map"``: the point map of a functional map between spectral
  bases of the two pools, from descriptors built on the seeds (Fumero et
  al., 2024);
- ``"sorted"``: no seeds needed; sorted similarity profiles (Artetxe et al.,
  2018);
- ``"gromov"``: no seeds needed; entropic Gromov-Wasserstein (Alvarez-Melis &
  Jaakkola, 2018), with the optional dependency POT.

References
----------
M. Artetxe, G. Labaka, E. Agirre. "A robust self-learning method for fully
unsupervised cross-lingual mappings of word embeddings." ACL 2018.
A. Conneau, G. Lample, M. Ranzato, L. Denoyer, H. Jégou. "Word translation
without parallel data." ICLR 2018.
I. Cannistraci, L. Moschella, V. Maiorca, M. Fumero, A. Norelli, E. Rodolà.
"Bootstrapping parallel anchors for relative representations." ICLR 2023
Tiny Papers.
D. Alvarez-Melis, T. Jaakkola. "Gromov-Wasserstein alignment of word
embedding spaces." EMNLP 2018.
M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà. "Latent
functional maps: a spectral framework for representation alignment." NeurIPS
2024.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state

from . import _kernels
from ._backend import as_numpy, batch_rows, resolve_device, to_tensor, torch_dtype
from ._kernels import functional_map as _functional_map
from ._kernels.matching import mutual_csls_pairs, sorted_similarity_profiles
from ._kernels.spectral import spectral_basis
from ._progress import StageLog
from ._sklearn_compat import Interval, StrOptions, user_stacklevel, validate_params

__all__ = ["METHODS", "Matching", "MatchingWarning", "match_spaces"]

METHODS = ("auto", "refine", "bootstrap", "functional_map", "sorted", "gromov")
"""Values of ``method`` in :func:`match_spaces`."""

MIN_LIFT = 0.125
"""A matching is trusted only when its criterion :math:`c` closes at least
this fraction of the gap between the criterion :math:`b` reached from random
pairs and a perfect matching, :math:`c - b \\geq` ``MIN_LIFT`` :math:`(1 -
b)`, or when the run from random pairs found the same matching; and when it
is reproduced (:data:`MIN_REPRODUCED`)."""

MIN_REPRODUCED = 0.8
"""A random half of the rows *reproduces* a matching when the same
initialisation and refinement, run again on it, pair at least this fraction
of the matching's pairs within that half the same way, with a criterion
there within :data:`REPRODUCED_GAP` of that of the matching's own pairs; a
matching is trusted only when one of :data:`N_HALVES` halves reproduces it
(see :func:`match_spaces`)."""

REPRODUCED_GAP = 0.05
"""The run on a half that reproduces a matching ends at a criterion
:math:`c_h \\geq c_m - ` ``REPRODUCED_GAP`` :math:`(1 - c_m)`, for
:math:`c_m` the criterion on that half of the refinement started from the
matching's own pairs there (when that run stopped at ``max_iter``, the
criteria are not compared)."""

N_HALVES = 5
"""Random halves of the rows drawn at most to reproduce a matching; the
draws stop at the first that does."""

_SEEDED = ("refine", "bootstrap", "functional_map")


class MatchingWarning(ConvergenceWarning):
    """Warning that :func:`match_spaces` found no matching better than chance."""


class Matching:
    """A one-to-one correspondence between rows of two pools, surest first.

    Returned by :func:`match_spaces`; not meant to be built by hand.

    Parameters
    ----------
    x_indices, y_indices, scores, history, criterion, baseline, converged, method
        Stored as the attributes of the same names.

    Attributes
    ----------
    x_indices : ndarray of shape (n_pairs,), dtype int64
        Rows of ``X``. The seeds come first, in the order given, then the
        pairs found, from the surest to the least sure; from
        :data:`GATE_SEEDS` seeds on, the pairs found only when they help a
        map on held-out seeds (see :func:`match_spaces`).
    y_indices : ndarray of shape (n_pairs,), dtype int64
        Their partners: ``Y[y_indices[i]]`` matches ``X[x_indices[i]]``.
        Each row of ``X`` and each row of ``Y`` appears at most once.
    scores : ndarray of shape (n_pairs,), dtype float64
        Confidence of each pair, higher is surer, non-increasing: the CSLS of
        the two rows under the final map (:math:`\\in [-2, 2]`); ``inf`` for
        the seeds, which are known.
    history : ndarray of shape (n_iter,), dtype float64
        The criterion after each iteration of the refinement that was kept.
    criterion : float
        The criterion of the matching: the cosine of matched rows under the
        final map, summed over the pairs and divided by the size of the
        smaller pool (rows without a partner count as 0). It lies in [-1, 1];
        1 means that every row of the smaller pool has a partner it coincides
        with.
    baseline : float
        The criterion reached by the same refinement started from random
        pairs: what chance gives on these two pools. That run stops early
        once its last gain per iteration could not lift it, by
        ``max_iter``, to where the matching would no longer clear it
        (:data:`MIN_LIFT`), so a baseline well below the criterion is a
        lower estimate.
    converged : bool
        Whether the refinement stopped because the criterion stopped
        improving (rather than at ``max_iter``) *and* the matching is trusted:
        ``criterion - baseline >= MIN_LIFT * (1 - baseline)`` (see
        :data:`MIN_LIFT`) or the same as the matching refined from random
        pairs, and reproduced from a random half of the rows
        (:data:`MIN_REPRODUCED`, see :func:`match_spaces`). A
        :class:`MatchingWarning` was issued when False.
    method : str
        The initialisation that gave the matching (``"auto"`` resolved).

    See Also
    --------
    match_spaces : Finds the matching.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.matching import match_spaces
    >>> X = np.random.default_rng(0).standard_normal((200, 6)) * np.arange(6, 0, -1)
    >>> m = match_spaces(X, X[::-1], random_state=0)
    >>> len(m), bool(np.all(m.x_indices + m.y_indices == 199))
    (200, True)
    >>> np.isfinite(m.scores).all(), m.scores[0] >= m.scores[-1]
    (np.True_, np.True_)
    """

    def __init__(
        self,
        x_indices,
        y_indices,
        scores,
        history,
        criterion,
        baseline,
        converged,
        method,
    ):
        self.x_indices = x_indices
        self.y_indices = y_indices
        self.scores = scores
        self.history = history
        self.criterion = criterion
        self.baseline = baseline
        self.converged = converged
        self.method = method

    def __len__(self):
        return len(self.x_indices)

    def __repr__(self):
        return (
            f"Matching(n_pairs={len(self)}, method={self.method!r}, "
            f"criterion={self.criterion:.3f}, baseline={self.baseline:.3f}, "
            f"converged={self.converged})"
        )


class _Run:
    """One refinement: its pairs (seeds excluded), scores and criterion."""

    def __init__(self, method, x, y, scores, history, stalled):
        self.method = method
        self.x, self.y, self.scores = x, y, scores
        self.history = history
        self.criterion = history[-2] if stalled else history[-1]
        self.stalled = stalled


class _Problem:
    """The two normalised pools, the seeds and the refinement's settings."""

    def __init__(self, X, Y, seeds, *, n_neighbors, max_iter, tol, batch_size):
        self.X, self.Y = X, Y
        self.seed_x, self.seed_y = seeds[:, 0], seeds[:, 1]
        self.n_neighbors, self.max_iter, self.tol = n_neighbors, max_iter, tol
        self.batch_size = batch_size
        self.n_min = min(len(X), len(Y))
        self.steps = 0
        # Spectral bases of the pools by their size, computed once: they do
        # not depend on the seeds (see with_seeds).
        self.bases = {}

    def with_seeds(self, seeds):
        """The same pools and settings with other seeds, sharing the bases."""
        other = _Problem(
            self.X,
            self.Y,
            seeds,
            n_neighbors=self.n_neighbors,
            max_iter=self.max_iter,
            tol=self.tol,
            batch_size=self.batch_size,
        )
        other.bases = self.bases
        return other

    def block_rows(self, n_rows, n_columns, max_rows=None):
        """Rows per block against ``n_columns`` others, by the one policy."""
        return batch_rows(
            n_rows,
            self.batch_size,
            row_bytes=3 * n_columns * self.X.element_size(),
            device=self.X.device,
            max_rows=max_rows,
        )

    def mutual_pairs(self, Q, C):
        """Mutual CSLS pairs of ``Q`` and ``C``, in blocks of the one policy."""
        block = self.block_rows(len(Q), len(C))
        return mutual_csls_pairs(Q, C, self.n_neighbors, block_rows=block)

    def without_seeds(self, x, y, *rest):
        """Drop the pairs that use a row of a seed."""
        keep = ~(torch.isin(x, self.seed_x) | torch.isin(y, self.seed_y))
        return (x[keep], y[keep], *(values[keep] for values in rest))

    def refine(self, method, x, y, *, max_iter=None, start=None, bar=None):
        r"""Self-learning refinement from the pairs ``(x, y)`` plus the seeds.

        Each iteration fits :math:`W` by orthogonal Procrustes on the pairs,
        compares the pools in the smaller of the two spaces and pairs the rows
        again by mutual nearest neighbours under CSLS; it stops when the
        criterion improves by at most ``tol``, or after ``max_iter``
        iterations in all (the problem's by default). ``start``, a run that
        was stopped by its ``max_iter``, is continued instead. With a
        ``bar``, it also stops, unstalled, as soon as its criterion could not
        reach the bar by ``max_iter`` at its last gain per iteration (the
        baseline, which only has to stay below the bar).
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        if start is None:
            x, y = self.without_seeds(x, y)
            history, previous = [], None
        else:
            x, y, history = start.x, start.y, list(start.history)
            previous = (start.x, start.y, start.scores)
        for _ in range(len(history), max_iter):
            pairs_x = torch.cat([self.seed_x, x])
            pairs_y = torch.cat([self.seed_y, y])
            W, _ = _kernels.procrustes(self.X[pairs_x].T @ self.Y[pairs_y])
            Q, C = _shared_space(self.X, self.Y, W)
            found = self.without_seeds(*self.mutual_pairs(Q, C))
            pairs_x = torch.cat([self.seed_x, found[0]])
            pairs_y = torch.cat([self.seed_y, found[1]])
            cosines = (Q[pairs_x] * C[pairs_y]).sum(dim=1)
            history.append(float(cosines.sum()) / self.n_min)
            self.steps += 1
            if previous is not None and history[-1] <= history[-2] + self.tol:
                return _Run(method, *previous, np.array(history), stalled=True)
            if bar is not None and len(history) >= 2:
                gain = history[-1] - history[-2]
                if history[-1] + (max_iter - len(history)) * gain < bar:
                    return _Run(method, *found, np.array(history), stalled=False)
            previous = found
            x, y = found[0], found[1]
        return _Run(method, *previous, np.array(history), stalled=False)


def _shared_space(X, Y, W):
    """Both pools in the smaller space, as unit rows, given the map ``W``.

    ``W`` has orthonormal rows (``d_x <= d_y``) or columns, so either ``Y``
    is projected onto ``X``'s space by ``W.T`` or ``X`` onto ``Y``'s by ``W``;
    cosines there equal those of VecMap's mapping of both spaces.
    """
    if X.shape[1] <= Y.shape[1]:
        return X, _kernels.unit_rows(Y @ W.T)
    return _kernels.unit_rows(X @ W), Y


def _normalize(X):
    """Unit rows, centred on their mean, unit again (VecMap's normalisation)."""
    X = _kernels.unit_rows(X)
    return _kernels.unit_rows(X - X.mean(dim=0))


def _relative(X, anchors):
    """Cosines to the anchors, each column centred, as unit rows."""
    R = _kernels.cosine_similarity(X, anchors)
    return _kernels.unit_rows(R - R.mean(dim=0))


def _bootstrap_pairs(problem, rng, **_):
    """Seeds grown by mutual CSLS neighbours of their relative representations.

    Both pools are described by their cosines to the current anchors
    (centred, so the shared coordinates compare across spaces); the surest
    mutual pairs not yet used join the anchors, at most doubling them, until
    there are twice as many anchors as the wider space has features.
    """
    X, Y = problem.X, problem.Y
    x = y = problem.seed_x[:0]
    target = min(2 * max(X.shape[1], Y.shape[1]), problem.n_min)
    while len(problem.seed_x) + len(x) < target:
        anchors_x = torch.cat([problem.seed_x, x])
        anchors_y = torch.cat([problem.seed_y, y])
        found_x, found_y, scores = problem.mutual_pairs(
            _relative(X, X[anchors_x]), _relative(Y, Y[anchors_y])
        )
        fresh = ~(torch.isin(found_x, anchors_x) | torch.isin(found_y, anchors_y))
        order = torch.argsort(scores[fresh], descending=True)
        order = order[: min(len(anchors_x), target - len(anchors_x))]
        if not len(order):
            break
        x = torch.cat([x, found_x[fresh][order]])
        y = torch.cat([y, found_y[fresh][order]])
    yield x, y


def _subsamples(problem, rng, n_init, size):
    """Row subsets of equal size from both pools; one when no subsampling."""
    n_x, n_y = len(problem.X), len(problem.Y)
    size = min(size, n_x, n_y)
    for _ in range(1 if n_x == n_y == size else n_init):
        rows_x = torch.as_tensor(np.sort(rng.choice(n_x, size, replace=False)))
        rows_y = torch.as_tensor(np.sort(rng.choice(n_y, size, replace=False)))
        yield rows_x.to(problem.X.device), rows_y.to(problem.X.device)


def _sorted_pairs(problem, rng, *, n_init, subsample, **_):
    """VecMap's initialisation: mutual CSLS pairs of sorted similarity profiles."""
    for rows_x, rows_y in _subsamples(problem, rng, n_init, subsample):
        X, Y = problem.X[rows_x], problem.Y[rows_y]
        x, y, _ = problem.mutual_pairs(
            sorted_similarity_profiles(X, X), sorted_similarity_profiles(Y, Y)
        )
        yield rows_x[x], rows_y[y]


GROMOV_ROWS = 500
"""At most this many rows of each pool enter the Gromov-Wasserstein coupling."""


def _gromov_pairs(problem, rng, *, n_init, subsample, epsilon, **_):
    r"""Mutual best pairs of an entropic Gromov-Wasserstein coupling.

    The coupling :math:`T` of two subsamples with uniform weights minimises
    :math:`\sum_{i,j,k,l} (D^X_{ik} - D^Y_{jl})^2 T_{ij} T_{kl} - \varepsilon
    H(T)` for the cosine distances :math:`D = 1 - \cos` within each space
    (``ot.gromov.entropic_gromov_wasserstein``); rows that are each other's
    largest entry of :math:`T` are paired.
    """
    ot = _import_pot()
    for rows_x, rows_y in _subsamples(
        problem, rng, n_init, min(subsample, GROMOV_ROWS)
    ):
        X, Y = problem.X[rows_x], problem.Y[rows_y]
        distances = [
            as_numpy(1 - _kernels.cosine_similarity(Z, Z)).astype(np.float64)
            for Z in (X, Y)
        ]
        weights = ot.unif(len(rows_x))
        T = ot.gromov.entropic_gromov_wasserstein(
            *distances, weights, weights, loss_fun="square_loss", epsilon=epsilon
        )
        best_y, best_x = T.argmax(axis=1), T.argmax(axis=0)
        x = np.flatnonzero(best_x[best_y] == np.arange(len(best_y)))
        yield rows_x[torch.as_tensor(x)], rows_y[torch.as_tensor(best_y[x])]


def _import_pot():
    """Import POT, or say which extra to install."""
    try:
        import ot
    except ImportError as exc:
        raise ImportError(
            "method='gromov' needs POT (Python Optimal Transport); install it "
            "with `pip install sklatent[ot]` (or `pip install POT`), or use "
            "method='sorted', which needs nothing more."
        ) from exc
    return ot


FUNCTIONAL_MAP_SOLVE = (10, 20)
"""Basis functions of the functional maps solved from the seeds, one map a
size, before ZoomOut extends each to ``n_components``, one basis function a
step (three a step, the paper's 10 steps from 20 to 50, lost a third of the
pairs of two digits encoders matched from 2 seeds). A few seeds pin down a
small map best, a larger one follows more clusters: from 5 seeds between
digits encoders of different architectures (10 classes), 10 found the
classes where 20 swapped two of them; on 50 clusters with 10 seeds (the
``scale`` benchmark), 10 failed where 20 found them."""

FUNCTIONAL_MAP_NEAR = (0.5, 0.25)
"""Fractions of each pool nearest to a seed (largest cosine to one) whose
pairs of the point map start the refinements (see
:func:`_functional_map_pairs`)."""


def _functional_map_pairs(
    problem, rng, *, n_components, laplacian_weight, commutativity_weight, **_
):
    r"""Mutual pairs near the seeds of the point maps of functional maps.

    Each pool gets the first ``n_components`` eigenvectors of the normalised
    Laplacian of its kNN graph (``n_neighbors`` cosine neighbours, heat
    weights; :func:`~sklatent._kernels.spectral.spectral_basis`). The
    descriptors are the cosines of every row to each seed of its own pool;
    for each size of :data:`FUNCTIONAL_MAP_SOLVE`, the map :math:`C` between
    that many first basis functions preserves them, with Laplacian and
    descriptor-operator commutativity
    (:func:`~sklatent._kernels.functional_map.solve_functional_map`),
    ZoomOut extends it to every basis function, and the rows that are each
    other's nearest in the carried spectral embeddings are paired.

    The point map is surest near the seeds, where the descriptors are
    steepest. Far from every seed, a cluster of one pool can go to a cluster
    of the other whose cosines to the seeds look alike (between digits
    encoders of different architectures, from 5 seeds none of them in
    either, two digit classes were swapped, a quarter of the pairs), and the
    refinement, which fits one rotation to all the pairs, kept the swap. So
    each map yields the pairs whose two rows are both among the half, then
    the quarter, of their pool nearest to a seed
    (:data:`FUNCTIONAL_MAP_NEAR`), and the race (:func:`_best_run`) keeps
    the one whose refinement reaches the best criterion.
    """
    n_min = min(len(problem.X), len(problem.Y))
    k = max(1, min(n_components, n_min - 2))
    if k not in problem.bases:
        problem.bases[k] = [
            spectral_basis(
                Z,
                k,
                n_neighbors=problem.n_neighbors,
                block_rows=problem.block_rows(len(Z), len(Z)),
            )
            for Z in (problem.X, problem.Y)
        ]
    (values_x, basis_x), (values_y, basis_y) = problem.bases[k]
    F_x = problem.X @ problem.X[problem.seed_x].T
    F_y = problem.Y @ problem.Y[problem.seed_y].T
    near = [
        (_nearest_rows(F_x, fraction), _nearest_rows(F_y, fraction))
        for fraction in FUNCTIONAL_MAP_NEAR
    ]
    n_max = max(len(problem.X), len(problem.Y))
    block = problem.block_rows(n_max, n_max, max_rows=_functional_map.SEARCH_ROWS)
    for solve in sorted({min(size, k) for size in FUNCTIONAL_MAP_SOLVE}):
        C = _functional_map.solve_functional_map(
            values_x[:solve],
            basis_x[:, :solve],
            values_y[:solve],
            basis_y[:, :solve],
            F_x,
            F_y,
            laplacian_weight=laplacian_weight,
            commutativity_weight=commutativity_weight,
            block_rows=problem.block_rows(n_min, solve * solve),
        )
        C = _functional_map.zoomout(basis_x, basis_y, C, block_rows=block)
        x, y = _functional_map.mutual_point_pairs(basis_x, basis_y, C, block_rows=block)
        for near_x, near_y in near:
            kept = near_x[x] & near_y[y]
            yield x[kept], y[kept]


def _nearest_rows(F, fraction):
    """Whether each row is among ``fraction`` of the rows nearest to a seed.

    ``F`` holds the cosines of the rows (one a row) to the seeds (one a
    column); a row's nearness is its largest.
    """
    nearness = F.max(dim=1).values
    kept = torch.zeros(len(F), dtype=torch.bool, device=F.device)
    kept[torch.topk(nearness, max(1, int(np.ceil(fraction * len(F))))).indices] = True
    return kept


def _seeded_pairs(problem, rng, **_):
    """The seeds alone."""
    yield problem.seed_x[:0], problem.seed_y[:0]


_INITIALISATIONS = {
    "refine": _seeded_pairs,
    "bootstrap": _bootstrap_pairs,
    "functional_map": _functional_map_pairs,
    "sorted": _sorted_pairs,
    "gromov": _gromov_pairs,
}


def _random_pairs(problem, rng):
    """Random pairs, half as many as the smaller pool has rows."""
    size = max(1, problem.n_min // 2)
    x = rng.choice(len(problem.X), size, replace=False)
    y = rng.choice(len(problem.Y), size, replace=False)
    device = problem.X.device
    return torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)


def _agreement(run, other, n_x):
    """Fraction of ``run``'s pairs that ``other`` found too."""
    if not len(run.x):
        return 0.0
    partner = torch.full((n_x,), -1, dtype=torch.int64, device=run.x.device)
    partner[other.x] = other.y
    return float((partner[run.x] == run.y).double().mean())


def _half_problem(problem, best, rng):
    """The problem restricted to half the rows, keeping the pairs of ``best``.

    A random half of the rows of ``X`` (every seed included) and, in ``Y``,
    the partners of those rows in ``best`` and the seeds, filled up to half
    of ``Y`` with random other rows. Returns the sub-problem and the rows it
    keeps of each pool.
    """
    n_x, n_y = len(problem.X), len(problem.Y)
    device = problem.X.device
    partner = np.full(n_x, -1, dtype=np.int64)
    partner[as_numpy(best.x)] = as_numpy(best.y)
    seed_x, seed_y = as_numpy(problem.seed_x), as_numpy(problem.seed_y)
    partner[seed_x] = seed_y
    free_x = np.setdiff1d(np.arange(n_x), seed_x)
    n_free = max(0, n_x // 2 - len(seed_x))
    rows_x = np.union1d(seed_x, rng.choice(free_x, n_free, replace=False))
    kept_y = partner[rows_x]
    kept_y = kept_y[kept_y >= 0]
    others = np.setdiff1d(np.arange(n_y), partner[partner >= 0])
    n_fill = min(len(others), max(0, n_y // 2 - len(kept_y)))
    rows_y = np.union1d(kept_y, rng.choice(others, n_fill, replace=False))
    where_x = np.full(n_x, -1, dtype=np.int64)
    where_x[rows_x] = np.arange(len(rows_x))
    where_y = np.full(n_y, -1, dtype=np.int64)
    where_y[rows_y] = np.arange(len(rows_y))
    seeds = np.column_stack([where_x[seed_x], where_y[seed_y]])
    rows_x = torch.as_tensor(rows_x, device=device)
    rows_y = torch.as_tensor(rows_y, device=device)
    half = _Problem(
        problem.X[rows_x],
        problem.Y[rows_y],
        torch.as_tensor(seeds, device=device),
        n_neighbors=problem.n_neighbors,
        max_iter=problem.max_iter,
        tol=problem.tol,
        batch_size=problem.batch_size,
    )
    return half, rows_x, rows_y


def _half_check(problem, best, rng, **options):
    """``best``'s pairs found again from one random half of the rows.

    The initialisation that gave ``best`` and its refinement run again on
    :func:`_half_problem`. Returns the fraction of ``best``'s pairs (seeds
    excluded) within that half that this *fresh* run pairs the same way, and
    whether its criterion comes within :data:`REPRODUCED_GAP` of that of the
    refinement started from ``best``'s own pairs on the half.
    """
    half, rows_x, rows_y = _half_problem(problem, best, rng)
    inside = torch.isin(best.x, rows_x)
    fresh = _best_run(half, (best.method,), rng, **options)
    warm = half.refine(
        best.method,
        torch.searchsorted(rows_x, best.x[inside]),
        torch.searchsorted(rows_y, best.y[inside]),
    )
    close = not fresh.stalled or (
        fresh.criterion >= warm.criterion - REPRODUCED_GAP * (1 - warm.criterion)
    )
    if not bool(inside.any()):
        return 0.0, close
    partner = torch.full((len(problem.X),), -1, dtype=torch.int64, device=best.x.device)
    partner[rows_x[fresh.x]] = rows_y[fresh.y]
    found = float((partner[best.x[inside]] == best.y[inside]).double().mean())
    return found, close


def _reproducibility(problem, best, rng, **options):
    """Whether a random half of the rows reproduces ``best``, and how well.

    Up to :data:`N_HALVES` halves are drawn (:func:`_half_check`), until one
    reproduces ``best``: its fresh run pairs at least :data:`MIN_REPRODUCED`
    of ``best``'s pairs there the same way and ends within
    :data:`REPRODUCED_GAP` of the criterion of ``best``'s own pairs. Pairs of
    shared items come back from most fresh starts that find the alignment
    again; pairs of different items that only share a cluster depend on the
    start and seldom do. Returns whether one did, the largest fraction found
    again, and the halves drawn.
    """
    largest = 0.0
    for drawn in range(1, N_HALVES + 1):
        found, close = _half_check(problem, best, rng, **options)
        largest = max(largest, found)
        if found >= MIN_REPRODUCED and close:
            return True, found, drawn
    return False, largest, N_HALVES


RACE_ITER = 3
"""Iterations of refinement every first set of pairs gets before only the one
with the best criterion is refined on (see :func:`match_spaces`)."""


RIVAL_ROWS = 1000
"""Rows of each pool that the seed-free start of the third trust test (see
:func:`match_spaces`) is drawn from, at most, once: the profiles of 1,000
rows cost an eighth of those of 2,000 and found the same better matchings
(criteria 0.825 to 0.827 against 0.356 to 0.483, docs/matching.rst)."""


def _rival(problem, best, rng, **options):
    """The seed-free start's run when it clearly beats ``best``, else None.

    A refinement from few seeds can settle on a *partial* matching: the
    seeds pull part of the spaces into line and the rest stays paired by
    cluster, a local optimum that every half of the rows reproduces. The
    seed-free ``"sorted"`` start, refined for :data:`RACE_ITER` iterations,
    is an independent second start; it beats ``best`` when its criterion
    closes :data:`MIN_LIFT` of the gap between ``best``'s and a perfect
    matching. It is drawn once, from at most :data:`RIVAL_ROWS` rows of
    each pool: it only has to show that a better matching exists.
    """
    subsample = min(options["subsample"], RIVAL_ROWS)
    options = options | {"n_init": 1, "subsample": subsample}
    rival = _best_run(problem, ("sorted",), rng, finish=False, **options)
    if rival.criterion - best.criterion >= MIN_LIFT * (1 - best.criterion):
        return rival
    return None


def _best_run(problem, methods, rng, *, progress=None, finish=True, **options):
    """The refinement with the best criterion over the methods' first pairs.

    Every first set of pairs is refined for :data:`RACE_ITER` iterations;
    only the leader is then refined to the end (or returned as it is, when
    not ``finish``).
    """
    runs = [
        problem.refine(name, *pairs, max_iter=min(RACE_ITER, problem.max_iter))
        for name in methods
        for pairs in _INITIALISATIONS[name](problem, rng, **options)
    ]
    leader = max(runs, key=lambda run: run.criterion)
    if progress is not None and len(runs) > 1:
        criteria = ", ".join(f"{run.method} {run.criterion:.3f}" for run in runs)
        progress(f"after {RACE_ITER} iterations: {criteria}")
    return _finish(problem, leader) if finish else leader


def _finish(problem, run, **options):
    """``run`` refined to the end, unless it stalled or reached ``max_iter``."""
    if run.stalled or len(run.history) >= problem.max_iter:
        return run
    return problem.refine(run.method, None, None, start=run, **options)


PACE_ITER = 10
"""A refinement that has not cleared its baseline (:data:`MIN_LIFT`) and,
at its mean gain over its last :data:`RACE_ITER` iterations, would not clear
it within this many more iterations, stops there and warns (see
:func:`match_spaces`)."""


def _hopeless(run, baseline):
    """Whether ``run`` cannot clear ``baseline`` at its pace (:data:`PACE_ITER`)."""
    needed = baseline + MIN_LIFT * (1 - baseline)
    gains = np.diff(run.history[-RACE_ITER - 1 :])
    pace = gains.mean() if len(gains) else 0.0
    return run.criterion + PACE_ITER * pace < needed


SEEDS_MRR = 0.3
"""Mean reciprocal rank that Procrustes on the seeds alone reaches, on held-out
items, where the refinement from those seeds starts to work on the curves of
docs/matching.rst ("How many anchors?"): 0.29 from 5 seeds between digits
encoders of one architecture, 0.39 from 10 across architectures, 0.38 from
500 on the text pair (from fewer, 0.08 to 0.19, it failed)."""


def _seeds_needed(problem, rng):
    r"""How many seeds these pools likely need, and the seeds' MRR, or None.

    Procrustes on the seeds is cross-validated over :data:`GATE_FOLDS` folds
    (the partner of each held-out seed ranked among all rows of ``Y``);
    taking that mean reciprocal rank :math:`r` to grow in proportion to the
    seeds, as it does on the curves of docs/matching.rst while it is small,
    :math:`m` seeds would reach :data:`SEEDS_MRR` from about :math:`m \cdot
    0.3 / r` (at least :math:`m + 1`: from these it failed). None with
    fewer than :data:`GATE_FOLDS` seeds.
    """
    m = len(problem.seed_x)
    if m < GATE_FOLDS:
        return None
    seeds = torch.stack([problem.seed_x, problem.seed_y], dim=1)
    ranks = np.zeros(m)
    for fold in np.array_split(rng.permutation(m), GATE_FOLDS):
        held = np.zeros(m, dtype=bool)
        held[fold] = True
        held = torch.as_tensor(held, device=problem.X.device)
        ranks[fold] = _held_out_fit(problem, *seeds[~held].T, *seeds[held].T)[1]
    return max(m + 1, int(np.ceil(m * SEEDS_MRR / ranks.mean()))), ranks.mean()


def _seed_advice(problem, rng):
    """What to do about a failed matching: how many seeds to give, if known."""
    m = len(problem.seed_x)
    if not m:
        return "give known pairs (seeds=...) or check the matching before using it."
    estimate = _seeds_needed(problem, rng)
    if estimate is None:
        return (
            f"give more than {m} seeds (from {GATE_FOLDS} on, this warning "
            "estimates how many) or check the matching before using it."
        )
    needed, mrr = estimate
    return (
        f"Procrustes on the {m} seeds gives held-out seeds an MRR of {mrr:.3f}, "
        f"so this pair of spaces likely needs about {needed} seeds "
        "(docs/matching.rst, 'How many anchors?')."
    )


GATE_SEEDS = 20
"""From this many seeds on, :func:`match_spaces` returns the pairs it found
only when they help a map on held-out seeds (:func:`_held_out_gate`)."""

GATE_FOLDS = 5
"""Folds of the seeds in the held-out-seed gate: each fold is held out once
while the matching is found again from the others, which fit the map with
and without its pairs."""


def _held_out_fit(problem, fit_x, fit_y, held_x, held_y):
    """Cosines of the held-out seeds to their partners, and the partners' ranks.

    The map is fitted (Procrustes) on the pairs ``(fit_x, fit_y)`` and the
    rows compared in the smaller space, as the refinement compares them;
    each partner is ranked among all rows of ``Y``. Returns both as float64
    arrays, the ranks as their reciprocals.
    """
    X, Y = problem.X, problem.Y
    W, _ = _kernels.procrustes(X[fit_x].T @ Y[fit_y])
    if X.shape[1] < Y.shape[1]:
        cosines = X[held_x] @ _kernels.unit_rows(Y @ W.T).T
    else:
        cosines = _kernels.unit_rows(X[held_x] @ W) @ Y.T
    true = cosines.gather(1, held_y.unsqueeze(1))
    ranks = (cosines > true).sum(dim=1) + 1
    return as_numpy(true.squeeze(1).double()), as_numpy(1.0 / ranks.double())


def _held_out_gate(problem, run, rng, **options):
    r"""Whether ``run``'s pairs help a map on held-out seeds.

    The seeds are split into :data:`GATE_FOLDS` folds; each is held out in
    turn while the matching is found again without it (the same
    initialisation and refinement from the other folds' seeds), and an
    orthogonal map is fitted on the other folds' seeds, alone and with those
    pairs. Pairs found with every seed would not do: they agree with the
    held-out seeds through the map fitted on them, and looked helpful on
    pairs of spaces where they were not. The pairs *help* when, on the
    held-out seeds, they raise the cosines to the partners by more than
    twice the standard error of that mean gain, and do not lower the mean
    reciprocal rank of the partners among all rows of ``Y`` by more than
    twice its standard error. The cosines tell a gain from noise with few
    seeds, where ranks are too coarse (a rise of the mean reciprocal rank
    was required before, and dropped helpful pairs in 8 of 15 draws of 20
    to 100 seeds on the digits encoders); the ranks catch maps whose
    cosines rise without better retrieval. The
    surest pairs alone are not tried: they crowd into the easiest regions of
    the spaces, and a map fitted on them was worse than on all or none.
    """
    seeds = torch.stack([problem.seed_x, problem.seed_y], dim=1)
    folds = np.array_split(rng.permutation(len(seeds)), GATE_FOLDS)
    cosines = np.zeros(len(seeds))
    ranks = np.zeros(len(seeds))
    for fold in folds:
        held = np.zeros(len(seeds), dtype=bool)
        held[fold] = True
        held = torch.as_tensor(held, device=problem.X.device)
        fit_x, fit_y = problem.seed_x[~held], problem.seed_y[~held]
        held_x, held_y = problem.seed_x[held], problem.seed_y[held]
        found = _best_run(
            problem.with_seeds(seeds[~held]), (run.method,), rng, **options
        )
        with_pairs = _held_out_fit(
            problem,
            torch.cat([fit_x, found.x]),
            torch.cat([fit_y, found.y]),
            held_x,
            held_y,
        )
        alone = _held_out_fit(problem, fit_x, fit_y, held_x, held_y)
        cosines[fold] = with_pairs[0] - alone[0]
        ranks[fold] = with_pairs[1] - alone[1]
    return _pairs_help(cosines, ranks)


def _pairs_help(cosines, ranks):
    """Whether per-seed gains of cosine and reciprocal rank say pairs help.

    The cosine gain must exceed twice its standard error, and the rank gain
    must not fall below minus twice its own: a rise of the ranks, noisy with
    few held-out seeds, is not asked for.
    """
    n = np.sqrt(len(cosines))
    return bool(
        cosines.mean() > 2 * cosines.std() / n and ranks.mean() > -2 * ranks.std() / n
    )


def _check_pool(X, name):
    """A pool as a float array of at least two rows, finite."""
    if isinstance(X, torch.Tensor):
        X = as_numpy(X)
    return check_array(
        X, dtype=[np.float64, np.float32], ensure_min_samples=2, input_name=name
    )


def _check_seeds(seeds, n_x, n_y):
    """Seeds as an (m, 2) int64 array of distinct rows of X and of Y."""
    if seeds is None:
        return np.empty((0, 2), dtype=np.int64)
    seeds = check_array(
        as_numpy(seeds) if isinstance(seeds, torch.Tensor) else seeds,
        dtype=None,
        ensure_min_samples=0,
        input_name="seeds",
    )
    if seeds.shape[1] != 2:
        raise ValueError(
            f"seeds must have shape (n_seeds, 2), one row (row of X, row of Y) per "
            f"known pair; got shape {seeds.shape}."
        )
    if not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(
            f"seeds must hold integer row indices; got dtype {seeds.dtype}. Pass "
            "np.asarray(seeds, dtype=int) if the values are whole numbers."
        )
    for column, n_rows, name in ((0, n_x, "X"), (1, n_y, "Y")):
        rows = seeds[:, column]
        outside = rows[(rows < 0) | (rows >= n_rows)]
        if len(outside):
            raise ValueError(
                f"seeds[:, {column}] must be rows of {name}, in [0, {n_rows}); got "
                f"{outside[:5].tolist()}. Negative indices are not accepted."
            )
        values, counts = np.unique(rows, return_counts=True)
        if (counts > 1).any():
            raise ValueError(
                f"Each row of {name} may appear in at most one seed pair; rows "
                f"{values[counts > 1][:5].tolist()} appear more than once."
            )
    return seeds.astype(np.int64)


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "seeds": ["array-like", None],
        "method": [StrOptions(set(METHODS))],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "subsample": [Interval(Integral, 2, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "laplacian_weight": [Interval(Real, 0, None, closed="left")],
        "commutativity_weight": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def match_spaces(
    X,
    Y,
    *,
    seeds=None,
    method="auto",
    n_neighbors=10,
    max_iter=50,
    tol=1e-4,
    n_init=3,
    subsample=2000,
    epsilon=2e-2,
    n_components=50,
    laplacian_weight=_functional_map.LAPLACIAN_WEIGHT,
    commutativity_weight=_functional_map.COMMUTATIVITY_WEIGHT,
    batch_size=None,
    device="cpu",
    random_state=None,
    verbose=False,
):
    r"""Match the rows of two unpaired pools of embeddings, one to one.

    ``X`` and ``Y`` hold embeddings by two encoders of items that are, in part,
    the same, in no known order. The result pairs rows of ``X`` with rows of
    ``Y`` that embed the same item, surest first, so that its first pairs can
    serve as parallel anchors.

    Both pools are normalised as in VecMap (unit rows, centred, unit rows).
    Some first pairs (see ``method``), together with the ``seeds``, are then
    improved by *self-learning refinement* (Artetxe et al., 2018; Conneau et
    al., 2018). Each iteration

    1. fits the (semi-)orthogonal map :math:`W = \arg\max_{W}
       \operatorname{tr}(W^\top X_P^\top Y_P)` on the current pairs
       :math:`P` (Procrustes);
    2. pairs every row again with its mutual nearest neighbour under CSLS,
       :math:`\operatorname{CSLS}(x, y) = 2 \cos(xW, y) - r_Y(xW) - r_X(y)`,
       where :math:`r` is the mean cosine to the ``n_neighbors`` nearest rows
       of the other pool; mutual pairs are the confident ones, one to one;
    3. computes the criterion :math:`c = \frac{1}{\min(n_x, n_y)}
       \sum_{(i, j) \in P} \cos(x_i W, y_j)`, the mean cosine of matched rows,
       unmatched rows counting 0;

    until :math:`c` improves by at most ``tol``. Every method ends this way, so
    their criteria compare; ``"auto"`` keeps the best. When there are several
    first sets of pairs (several methods, or ``n_init`` subsamples), each is
    refined for :data:`RACE_ITER` (3) iterations and only the one with the
    best criterion then, which is nearly always the best at the end, is
    refined on.

    Unsupervised matching fails on some pairs of spaces (unrelated encoders,
    pools with few items in common, pools of different items of one kind).
    To tell, the refinement is also run from random pairs (the *baseline*
    :math:`b`; that run stops as soon as its last gain per iteration could
    not take it to :math:`(c - \frac{1}{8}) / \frac{7}{8}` by ``max_iter``,
    which is all the first condition below needs), and the matching is
    trusted when these hold:

    - its criterion :math:`c` closes an eighth of the gap between that
      *baseline* :math:`b` and a perfect matching, :math:`c - b \geq
      \frac{1}{8}(1 - b)` (:data:`MIN_LIFT`), or the run from random pairs
      found the same matching (half of its pairs at least);
    - it is *reproduced at item level*: the same initialisation and
      refinement, run again on a random half of the rows of ``X`` (the seeds
      included) and the rows of ``Y`` paired with them plus random others up
      to half of ``Y``, pair at least :data:`MIN_REPRODUCED` (0.8) of the
      matching's pairs within that half the same way, ending within
      :data:`REPRODUCED_GAP` of the criterion that the matching's own pairs
      reach there; up to :data:`N_HALVES` (5) halves are drawn, until one
      does. Pairs of shared items come back from most fresh starts that find
      the alignment again; pairs of different items of one cluster, which a
      cluster-level alignment gives, seldom do. A partial matching across
      architectures is found again from about half of the halves, so one
      half was not enough to tell (docs/matching.rst has the rates);
    - for ``"refine"``, ``"bootstrap"`` and ``"functional_map"``, it is not
      beaten by the seed-free ``"sorted"`` start: that start, refined for
      :data:`RACE_ITER` iterations, does not close :data:`MIN_LIFT` of the
      gap between the matching's criterion and a perfect matching. From a
      few seeds a refinement can settle on a *partial* matching (part of
      the spaces aligned, the rest paired by cluster), which every half of
      the rows reproduces; ``"auto"`` races that start anyway.

    So a criterion below its baseline is trusted only when the matching is
    reproduced. Otherwise a :class:`MatchingWarning` says so and
    ``converged`` is False: never use such a matching without checking it.

    A failing matching stops fast: the run from random pairs first gets
    :data:`RACE_ITER` iterations, and the leading refinement goes on only
    while, at its mean gain over its last :data:`RACE_ITER` iterations, it
    could clear that baseline by the eighth of the gap within
    :data:`PACE_ITER` (10) more; otherwise it stops and warns at once. The
    warning estimates the seeds the pair of spaces needs: Procrustes on the
    given seeds (5 at least) is cross-validated over :data:`GATE_FOLDS`
    folds, and its mean reciprocal rank of held-out partners, taken to grow
    in proportion to the seeds, is scaled to :data:`SEEDS_MRR`, where the
    refinement started to work on the curves of docs/matching.rst.

    With plentiful seeds, the found pairs must help: from
    :data:`GATE_SEEDS` (20) seeds on, the seeds are split into
    :data:`GATE_FOLDS` (5) folds, and each is held out in turn while the
    matching is found again from the other seeds and an orthogonal map is
    fitted on those seeds, alone and with the pairs found; the pairs are
    returned only when, on the held-out seeds, they raise the cosine to the
    partner by more than twice the standard error of that gain, and do not
    lower the mean reciprocal rank of the partner among all rows of ``Y`` by
    more than twice its standard error.
    Otherwise the matching is the seeds alone, so that many seeds never end
    below Procrustes on them (up to what held-out seeds can see). This runs
    the matching once more per fold.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_x, d_x)
        The first pool.
    Y : {array-like, torch.Tensor} of shape (n_y, d_y)
        The second pool; its length and width may differ from ``X``'s.
    seeds : array-like of shape (n_seeds, 2), dtype int, default=None
        Known pairs: ``seeds[i] = (row of X, row of Y)``. Each row appears in
        at most one seed. Seeds are kept as they are and come first in the
        result.
    method : str, default="auto"
        The first pairs of the refinement: ``"auto"``, ``"refine"``,
        ``"bootstrap"``, ``"functional_map"``, ``"sorted"`` or ``"gromov"``.

        - ``"refine"``: the seeds alone (at least 2). Enough from about ten
          seeds when the encoders differ by little more than a rotation.
        - ``"bootstrap"``: the seeds (at least 2), grown through relative
          representations (Cannistraci et al., 2023): both pools are described
          by their cosines to the seed anchors, and the surest mutual CSLS
          pairs join the anchors, doubling them each round, up to twice the
          larger width.
        - ``"functional_map"``: the seeds (at least 2), through a *latent
          functional map* (Fumero et al., 2024). Each pool gets a spectral
          basis, the first ``n_components`` eigenvectors of the normalised
          Laplacian of its kNN graph (``n_neighbors`` cosine neighbours, heat
          weights); the cosines of every row to each seed of its pool are
          functions known on both sides, and the small matrices :math:`C`
          between the first 10 and 20 basis functions
          (:data:`FUNCTIONAL_MAP_SOLVE`) that carry them over (with
          Laplacian and descriptor-operator commutativity, weighted by
          ``laplacian_weight`` and ``commutativity_weight``) are extended to
          the whole basis by ZoomOut; rows that are each other's nearest in
          the carried spectral embeddings and both among the half (or the
          quarter) of their pool nearest to a seed
          (:data:`FUNCTIONAL_MAP_NEAR`) are the first pairs, four sets
          raced: far from every seed a map can swap two clusters whose
          cosines to the seeds look alike. It reads the
          two kNN graphs, not the coordinates, so from 2 to 5 seeds it
          aligns two encoders of one architecture trained from different
          seeds, and from 5 two of different architectures, where
          ``"refine"`` needs 5 to 10, and every further seed only adds
          descriptors. It needs the two graphs to be alike: when the
          pools share only part of their items the graphs differ by the rest
          (on two digits encoders it still worked with half the items
          shared); between encoders of different lineages it finds little
          (docs/matching.rst).
        - ``"sorted"``: no seeds needed. Each row of a subsample of
          ``subsample`` rows is described by its sorted similarities to the
          subsample (VecMap, Artetxe et al., 2018), which a rotation leaves
          unchanged; rows are paired by mutual CSLS on these profiles. It
          relies on the pools holding mostly the same items with similar
          similarity structure; it fails for encoders whose similarity
          structures differ much, and when the pools share few items.
        - ``"gromov"``: no seeds needed. Pairs of an entropic
          Gromov-Wasserstein coupling of the cosine distances within
          subsamples of at most :data:`GROMOV_ROWS` rows (Alvarez-Melis &
          Jaakkola, 2018). Needs POT (``pip install sklatent[ot]``) and more
          time than ``"sorted"``.
        - ``"auto"``: ``"refine"``, ``"bootstrap"`` and ``"functional_map"``
          when there are at least 2 seeds, and ``"sorted"`` always; the run
          with the best criterion is kept.
    n_neighbors : int, default=10
        Neighbours :math:`k` of the CSLS neighbourhood similarity (Conneau et
        al. found 5, 10 and 50 alike), and of each row in the kNN graphs of
        ``"functional_map"``.
    max_iter : int, default=50
        Iterations of refinement at most, for each first set of pairs.
    tol : float, default=1e-4
        The refinement stops when the criterion improves by at most this.
    n_init : int, default=3
        Subsamples tried by the seed-free methods when the pools are larger
        than ``subsample`` (or differ in length); one otherwise.
    subsample : int, default=2000
        Rows of each pool described by the seed-free initialisations: their
        cost grows with its square (``"sorted"``) or cube (``"gromov"``),
        while the refinement always uses every row. Subsamples of the two
        pools are drawn independently, so for pools much longer than
        ``subsample`` they share few items and the seed-free initialisations
        fail (with a :class:`MatchingWarning`): give seeds, or a larger
        ``subsample``.
    epsilon : float, default=2e-2
        Entropic regularisation of ``"gromov"``.
    n_components : int, default=50
        Eigenvectors in the spectral basis of each pool (``"functional_map"``;
        the paper's default). At most the smaller pool's length less 2.
    laplacian_weight : float, default=1e-3
        Weight :math:`\alpha` of Laplacian commutativity,
        :math:`\lVert \Lambda_Y C - C \Lambda_X \rVert^2`, in the solve of
        ``"functional_map"`` (the paper's default;
        :func:`~sklatent._kernels.functional_map.solve_functional_map`).
    commutativity_weight : float, default=1e-1
        Weight :math:`\beta` of descriptor-operator commutativity, the mean
        over seeds of :math:`\lVert S^Y_i C - C S^X_i \rVert^2` for the
        operators of multiplication by each descriptor (the paper's
        default). Without it, 10 or more seeds give near-collinear
        descriptors that the map overfits (on two digits encoders the
        matching then failed); with it, more seeds never hurt.
    batch_size : int, default=None
        Rows compared with a whole pool at once; None sizes blocks from
        scikit-learn's ``working_memory``. Memory grows with ``batch_size``
        times the pool length, never with the square of the pool length;
        results do not depend on it.
    device : str, default="cpu"
        Where to compute: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or
        ``"auto"``.
    random_state : int, RandomState instance or None, default=None
        Draws the subsamples, the random pairs of the baseline and the halves
        of the check.
    verbose : bool or int, default=False
        Print one line per stage (the first pairs, the refinement, the
        baseline, the check) to stderr, with the time elapsed and the
        refinement iterations done so far.

    Returns
    -------
    Matching
        ``x_indices``, ``y_indices``, ``scores`` (surest first), ``history``,
        ``criterion``, ``baseline``, ``converged`` and ``method``.

    Raises
    ------
    ValueError
        If a pool is empty, has one row, or holds NaN or infinity; if
        ``seeds`` is not an (n_seeds, 2) integer array of distinct rows within
        range; if ``method`` needs seeds and fewer than 2 are given.
    ImportError
        If ``method="gromov"`` and POT is not installed.

    Warns
    -----
    MatchingWarning
        When the matching is not clearly better than chance (see above); the
        message says whether the refinement stopped early and, from 5 seeds
        on, how many seeds the pair of spaces likely needs. When the
        seed-free start beats a seeded method's matching, the message says
        it is likely partial and points to ``method="auto"``.
    sklearn.exceptions.ConvergenceWarning
        When the refinement was still improving after ``max_iter`` iterations.

    See Also
    --------
    sklatent.LatentTranslator : Fit a translator on the matched rows.
    sklatent.RelativeTransformer : Use the first matched rows as anchors.

    Notes
    -----
    Time and memory: each iteration costs two passes of
    :math:`O(n_x n_y \min(d_x, d_y))` operations over blocks of rows, in
    memory :math:`O(\text{batch\_size} \cdot \max(n_x, n_y))`; ``"sorted"``
    adds :math:`O(s^2 \log s)` for ``s = subsample`` rows. Two pools of 2,000
    rows take about a second on two CPU cores; each half of the rows drawn
    by the check adds about a quarter of that, and the check is skipped when
    the criterion does not beat its baseline. The seed-free start that
    checks the seeded methods adds about 0.8 s on 2,000 rows and 2.5 s on
    5,000 (one thread). ``"functional_map"`` adds a
    spectral basis of each pool (a kNN graph, :math:`O(n^2 d)` over blocks,
    and a sparse eigensolve), about 70 nearest-neighbour searches between
    spectral embeddings of at most ``n_components`` features (two ZoomOuts)
    and four first sets of pairs to refine in the race: on 5,000 x 5,000
    pools of 384 features with 10 seeds, a call takes about 22 s of CPU
    time (11 s with the one map and one set of pairs it had before), 22 s
    on two CPU cores shared with other jobs (load 5;
    ``benchmarks/bench_functional_maps.py --only scale``).

    The criterion compares matchings of the same pools only: its value for
    unrelated spaces depends on their dimension and size (high-dimensional
    noise has many mutual neighbours), hence the baseline from random pairs.

    References
    ----------
    M. Artetxe, G. Labaka, E. Agirre. "A robust self-learning method for fully
    unsupervised cross-lingual mappings of word embeddings." ACL 2018.

    A. Conneau, G. Lample, M. Ranzato, L. Denoyer, H. Jégou. "Word translation
    without parallel data." ICLR 2018.

    I. Cannistraci, L. Moschella, V. Maiorca, M. Fumero, A. Norelli, E.
    Rodolà. "Bootstrapping parallel anchors for relative representations."
    ICLR 2023 Tiny Papers.

    D. Alvarez-Melis, T. Jaakkola. "Gromov-Wasserstein alignment of word
    embedding spaces." EMNLP 2018.

    M. Fumero, M. Pegoraro, V. Maiorca, F. Locatello, E. Rodolà. "Latent
    functional maps: a spectral framework for representation alignment."
    NeurIPS 2024.

    Examples
    --------
    A pool and a rotated, shuffled copy of it are matched without seeds:

    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklatent.matching import match_spaces
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 8)) * np.linspace(3, 0.5, 8)
    >>> order = rng.permutation(300)
    >>> Y = X[order] @ ortho_group.rvs(8, random_state=0)
    >>> m = match_spaces(X, Y, random_state=0)
    >>> m.converged, len(m) > 250
    (True, True)
    >>> bool(np.all(order[m.y_indices] == m.x_indices))
    True
    """
    device = resolve_device(device, X)
    X, Y = _check_pool(X, "X"), _check_pool(Y, "Y")
    seeds = _check_seeds(seeds, len(X), len(Y))
    if method in _SEEDED and len(seeds) < 2:
        raise ValueError(
            f"method={method!r} starts from the seeds and needs at least 2; got "
            f"{len(seeds)}. Pass seeds=[[row of X, row of Y], ...], or use "
            "method='sorted' or 'auto', which need none."
        )
    rng = check_random_state(random_state)
    dtype = torch.promote_types(torch_dtype(X), torch_dtype(Y))
    problem = _Problem(
        _normalize(to_tensor(X, device=device, dtype=dtype)),
        _normalize(to_tensor(Y, device=device, dtype=dtype)),
        torch.as_tensor(seeds, device=device),
        n_neighbors=n_neighbors,
        max_iter=max_iter,
        tol=tol,
        batch_size=batch_size,
    )
    if method == "auto":
        methods = (_SEEDED if len(seeds) >= 2 else ()) + ("sorted",)
    else:
        methods = (method,)
    progress = StageLog(verbose, prefix="match_spaces")
    progress(
        f"pools {len(X)} x {len(Y)}, {len(seeds)} seeds; first pairs by "
        + ", ".join(methods)
    )
    options = {
        "n_init": n_init,
        "subsample": subsample,
        "epsilon": epsilon,
        "n_components": n_components,
        "laplacian_weight": laplacian_weight,
        "commutativity_weight": commutativity_weight,
    }
    best = _best_run(problem, methods, rng, progress=progress, finish=False, **options)
    random_run = problem.refine(
        "random", *_random_pairs(problem, rng), max_iter=min(RACE_ITER, max_iter)
    )
    while not (
        best.stalled
        or len(best.history) >= max_iter
        or _hopeless(best, random_run.criterion)
    ):
        best = problem.refine(
            best.method, None, None, start=best, max_iter=len(best.history) + 1
        )
    stopped = not (best.stalled or len(best.history) >= max_iter)
    progress(
        f"matching by {best.method!r}: criterion {best.criterion:.3f} after "
        f"{len(best.history)} iterations ({problem.steps} in all)"
        + ("; stopped, at its pace short of its baseline" if stopped else "")
    )
    if not stopped:
        # The baseline lifts the matching while it stays below this bar.
        bar = (best.criterion - MIN_LIFT) / (1 - MIN_LIFT)
        random_run = _finish(problem, random_run, bar=bar)
    baseline = random_run.criterion
    progress(
        f"baseline from random pairs: {baseline:.3f} after "
        f"{len(random_run.history)} iterations"
    )
    lifted = best.criterion - baseline >= MIN_LIFT * (1 - baseline)
    same = _agreement(best, random_run, len(X)) >= 0.5
    if not stopped and (lifted or same):
        reproduced, found, drawn = _reproducibility(problem, best, rng, **options)
        check = (
            f"; {found:.2f} of its pairs found again from "
            f"{'one' if reproduced else 'none'} of {drawn} random halves of the rows"
        )
        progress(check[2:])
    else:
        reproduced, check = False, ""
    rival = None
    if reproduced and method in _SEEDED:
        rival = _rival(problem, best, rng, **options)
        if rival is not None:
            progress(
                f"the seed-free 'sorted' start reaches {rival.criterion:.3f} in "
                f"{len(rival.history)} iterations"
            )
    trusted = reproduced and rival is None
    if rival is not None:
        warnings.warn(
            f"The matching by {best.method!r} is likely partial: its criterion "
            f"{best.criterion:.3f} is well below the {rival.criterion:.3f} that the "
            f"seed-free 'sorted' start reaches in {len(rival.history)} iterations. "
            "Use method='auto', which races every start and keeps the best, or "
            "check the matching before using it.",
            MatchingWarning,
            stacklevel=user_stacklevel(),
        )
    elif not trusted:
        if stopped:
            check = (
                f"; at its pace it would not clear that within {PACE_ITER} more "
                f"iterations, so the refinement stopped after {len(best.history)}"
            )
        warnings.warn(
            f"No matching clearly better than chance was found: criterion "
            f"{best.criterion:.3f}, against {baseline:.3f} from random "
            f"pairs{check}. The spaces may be unrelated "
            f"or the pools may share few items; {_seed_advice(problem, rng)}",
            MatchingWarning,
            stacklevel=user_stacklevel(),
        )
    elif not best.stalled:
        warnings.warn(
            f"The refinement was still improving after max_iter={max_iter} "
            "iterations; increase max_iter.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    order = torch.argsort(best.scores, descending=True)
    if len(seeds) >= GATE_SEEDS and not _held_out_gate(problem, best, rng, **options):
        progress(f"the {len(order)} pairs found do not help on held-out seeds")
        order = order[:0]
    x, y = best.x[order], best.y[order]
    scores = np.concatenate([np.full(len(seeds), np.inf), as_numpy(best.scores[order])])
    return Matching(
        x_indices=np.concatenate([seeds[:, 0], as_numpy(x)]),
        y_indices=np.concatenate([seeds[:, 1], as_numpy(y)]),
        scores=scores.astype(np.float64),
        history=best.history,
        criterion=best.criterion,
        baseline=baseline,
        converged=bool(trusted and best.stalled),
        method=best.method,
    )
