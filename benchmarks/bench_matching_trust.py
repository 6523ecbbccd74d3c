"""How far match_spaces's trust check depends on ``random_state``.

For ``random_state`` 0 to 4:

- *unrelated pools*: two pools drawn from one 10-cluster Gaussian mixture in
  8-D (300 rows each, no shared item), for 25 data seeds; the number of
  draws that warn (all of them should);
- *correct matchings*: those of ``tests/test_matching.py``,
  ``examples/plot_few_anchors.py`` and ``benchmarks/bench_matching.py``;
  the fraction of the matching's pairs found again from halves of the rows
  (``_reproducibility``) and whether the call converged without a
  :class:`~sklatent.matching.MatchingWarning` (all of them should);
- *cost*: the time of the check, and of one call, against the check it
  replaces (one fresh run from one half of the rows, timed on the same
  problem right after).

    python benchmarks/bench_matching_trust.py             # every case
    python benchmarks/bench_matching_trust.py --only unrelated synthetic
    python benchmarks/bench_matching_trust.py --only digits --seeds 10
"""

import argparse
import time
import warnings

import numpy as np
from scipy.stats import ortho_group

RANDOM_STATES = range(5)
DIGITS_FREE = (
    ("mlp_small", "mlp_small"),
    ("mlp_wide", "mlp_wide"),
    ("cnn", "cnn"),
    ("mlp_small", "mlp_wide"),
    ("mlp_small", "cnn"),
    ("mlp_wide", "mlp_small"),
    ("cnn", "mlp_small"),
    ("cnn", "mlp_wide"),
)
"""Seed-free digits matchings of the benchmark that are right (``mlp_wide ->
cnn``, precision 0.35, warns, as it should)."""


class _Recorder:
    """Records what ``_reproducibility`` returned and what it cost."""

    def __init__(self):
        from sklatent import matching

        self.matching = matching
        self.original = matching._reproducibility
        self.found, self.drawn, self.check, self.previous = None, 0, 0.0, 0.0

    def __enter__(self):
        matching = self.matching

        def recorded(problem, best, rng, **options):
            start = time.perf_counter()
            value = self.original(problem, best, rng, **options)
            middle = time.perf_counter()
            half, _, _ = matching._half_problem(problem, best, rng)
            matching._best_run(half, (best.method,), rng, **options)
            _, self.found, self.drawn = value
            self.check = middle - start
            self.previous = time.perf_counter() - middle
            return value

        matching._reproducibility = recorded
        return self

    def __exit__(self, *exc):
        self.matching._reproducibility = self.original


def _call(X, Y, random_state, **kwargs):
    from sklatent.matching import MatchingWarning, match_spaces

    with _Recorder() as record, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MatchingWarning)
        start = time.perf_counter()
        m = match_spaces(X, Y, random_state=random_state, **kwargs)
        total = time.perf_counter() - start - record.previous
    warned = any(issubclass(w.category, MatchingWarning) for w in caught)
    ratio = total / (total - record.check + record.previous)
    return m, warned, (record.found, record.drawn), ratio


def clustered(n, d, seed, n_clusters=12):
    """Anisotropic clustered points (as in tests/test_matching.py)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d)) * 3
    points = centres[rng.integers(n_clusters, size=n)] + rng.standard_normal((n, d))
    return points * np.linspace(2, 0.5, d)


def rotated_copy(X, seed, *, noise=0.0, d_out=None):
    """A shuffled, (semi-)orthogonally mapped, noisy copy of X, and its order."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    d_out = d_out or d
    Q = ortho_group.rvs(max(d, d_out), random_state=seed)[:d, :d_out]
    order = rng.permutation(len(X))
    Y = X[order] @ Q
    return Y + noise * X.std() * rng.standard_normal(Y.shape), order


def mixture_pools(seed, n=300, d=8):
    """Two pools of one 10-cluster Gaussian mixture, no item in common."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, d)) * 3
    X = centres[rng.integers(10, size=n)] + rng.standard_normal((n, d))
    Y = centres[rng.integers(10, size=n)] + rng.standard_normal((n, d))
    return X, Y


def unrelated():
    print("unrelated pools of one mixture: draws that warn, of 25", flush=True)
    ratios = []
    for random_state in RANDOM_STATES:
        warned = 0
        for seed in range(25):
            _, warns, (_, drawn), ratio = _call(*mixture_pools(seed), random_state)
            warned += warns
            ratios += [ratio] if drawn else []
        print(f"  random_state={random_state}: {warned}/25", flush=True)
    print(
        f"  cost, where the check ran, against the previous check: {_spread(ratios)}",
        flush=True,
    )


def synthetic_cases():
    """The correct matchings of tests/test_matching.py: (name, X, Y, kwargs)."""
    X = clustered(400, 16, 0)
    yield "rotation 400x16", X, rotated_copy(X, 1)[0], {}
    X = clustered(500, 12, 2)
    yield "wider 12->20", X, rotated_copy(X, 3, noise=0.05, d_out=20)[0], {}
    X = clustered(600, 16, 4)
    Y, order = rotated_copy(X, 5, noise=0.1)
    rows_y = np.flatnonzero(order >= 100)
    shared = np.flatnonzero(order[rows_y] < 500)[:8]
    seeds = np.column_stack([order[rows_y][shared], shared])
    for method in ("refine", "bootstrap", "auto"):
        kwargs = {"seeds": seeds, "method": method}
        yield f"8 seeds {method}", X[:500], Y[rows_y], kwargs
    X = clustered(500, 24, 6)
    Y, order = rotated_copy(X, 7, noise=0.3)
    seeds = np.column_stack([np.arange(6), np.argsort(order)[:6]])
    yield "6 seeds refine", X, Y, {"seeds": seeds, "method": "refine"}
    X = clustered(300, 8, 15)
    Y, order = rotated_copy(X, 16, noise=0.05)
    seeds = np.column_stack([np.arange(100), np.argsort(order)[:100]])
    yield "100 seeds", X, Y, {"seeds": seeds}
    X = clustered(300, 8, 3)
    yield "300x8 noisy", X, rotated_copy(X, 4, noise=0.05)[0], {}
    X = clustered(300, 10, 12)
    yield "300x10", X, rotated_copy(X, 13)[0], {}
    X = clustered(250, 8, 14)
    yield "250x8 noisy", X, rotated_copy(X, 15, noise=0.1)[0], {}
    X = clustered(600, 10, 16)
    Y = rotated_copy(X, 17, noise=0.05)[0]
    yield "subsample 300", X, Y, {"subsample": 300, "n_init": 2}
    X = clustered(200, 8, 5)
    yield "200x8", X, rotated_copy(X, 6)[0], {}


def digits_cases(seed_counts=(10, 50, 200)):
    """Correct digits matchings of the tests, the example and the benchmark."""
    from bench_matching import _pools, _seeds

    from sklatent.datasets import load_digits_embeddings

    a, b = load_digits_embeddings(), load_digits_embeddings(random_state=1)
    rows = a.test_indices
    order = np.random.default_rng(0).permutation(len(rows))
    X, Y = a.embeddings["mlp_small"], b.embeddings["mlp_small"]
    yield "test digits", X[rows], Y[rows][order], {}
    # examples/plot_few_anchors.py
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train = a.train_indices
    yield "example no seeds", X, Y[order], {}
    y_rows = rng.permutation(np.argsort(order)[train])
    images = [rng.choice(train[a.target[train] == c]) for c in range(10)]
    seeds = np.array(
        [
            [np.flatnonzero(train == i)[0], np.flatnonzero(order[y_rows] == i)[0]]
            for i in images
        ]
    )
    yield "example 10 seeds", X[train], Y[order][y_rows], {"seeds": seeds}
    # benchmarks/bench_matching.py
    for name_a, name_b in DIGITS_FREE:
        A, B = a.embeddings[name_a], b.embeddings[name_b]
        rng = np.random.default_rng(0)
        order = rng.permutation(len(B))
        yield f"{name_a}->{name_b} free", A, B[order], {}
        x_pool, y_pool = _pools(a.train_indices, rng)
        for n_seeds in (10, 50, 200):
            seeds = _seeds(x_pool, y_pool, a.target, n_seeds, rng)
            if n_seeds not in seed_counts:
                continue
            kwargs = {"seeds": seeds}
            yield f"{name_a}->{name_b} {n_seeds}", A[x_pool], B[y_pool], kwargs


def correct(cases):
    print(
        "correct matchings: fraction of pairs found again / halves drawn "
        "(x: warned) for random_state " + ", ".join(map(str, RANDOM_STATES)),
        flush=True,
    )
    ratios = []
    for name, X, Y, kwargs in cases:
        cells = []
        for random_state in RANDOM_STATES:
            m, warned, (found, drawn), ratio = _call(X, Y, random_state, **kwargs)
            mark = "x" if warned or not m.converged else " "
            cells.append(f"{'-' if found is None else f'{found:.2f}'}/{drawn}{mark}")
            ratios += [ratio] if drawn else []
        print(f"  {name:24s} " + " ".join(cells), flush=True)
    print(
        f"  cost, where the check ran, against the previous check: {_spread(ratios)}",
        flush=True,
    )


def _spread(ratios):
    if not ratios:
        return "the check never ran"
    low, mid, high = np.percentile(ratios, [0, 50, 100])
    return f"{mid:.2f}x the time of a call (from {low:.2f}x to {high:.2f}x)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", default=["unrelated", "synthetic", "digits"]
    )
    parser.add_argument("--seeds", type=int, nargs="*", default=[10, 50, 200])
    args = parser.parse_args(argv)
    if "unrelated" in args.only:
        unrelated()
    if "synthetic" in args.only:
        correct(synthetic_cases())
    if "digits" in args.only:
        correct(digits_cases(args.seeds))


if __name__ == "__main__":
    main()
