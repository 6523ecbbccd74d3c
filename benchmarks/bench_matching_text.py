"""sklatent.matching on real text: MiniLM (384-d) and a static model (64-d).

The pair of :func:`sklatent.datasets.load_text_embeddings`: every query and
every document of the corpus is one item (7,194 texts), embedded by both
encoders. 2,000 items are held out; the pools are drawn from the others.

- ``free``: seed-free, X the MiniLM embeddings of ``--n`` items, Y the static
  ones of the same items, shuffled (every item shared: the easiest seed-free
  case).
- ``seeds M``: X a random 80 % of the remaining items by MiniLM, Y another
  random 80 % by the static model (about 64 % shared), each shuffled; M
  shared items are the seeds.

For each case: time, refinement steps (mutual-CSLS passes over the whole
pools, and over halves for the check), precision of the matched pairs, and,
for an orthogonal map fitted on the matched pairs (and on the seeds alone),
top-1 of the true text among the 2,000 held-out texts (cosine); "ceiling" is
the map fitted on all true pairs of the pools. ``--profile`` prints the
functions where the time went (cProfile, by own time).

    python benchmarks/bench_matching_text.py                # free + 10, 20 seeds
    python benchmarks/bench_matching_text.py --profile --cases free 10
"""

import argparse
import cProfile
import io
import pstats
import time
import warnings

import numpy as np

N_TEST = 2000


def _load():
    from sklatent.datasets import load_text_embeddings

    data = load_text_embeddings()
    X = np.concatenate(
        [data.query_embeddings["minilm"], data.document_embeddings["minilm"]]
    )
    Y = np.concatenate(
        [data.query_embeddings["static"], data.document_embeddings["static"]]
    )
    return X.astype(np.float32), Y.astype(np.float32)


def _normalize(Z, pool):
    import torch

    from sklatent._kernels import unit_rows

    Z = unit_rows(torch.as_tensor(Z, dtype=torch.float64))
    mean = unit_rows(torch.as_tensor(pool, dtype=torch.float64)).mean(dim=0)
    return unit_rows(Z - mean)


def _top1(X, Y, x_pool, y_pool, pairs_x, pairs_y, test):
    """Top-1 (cosine) among the test items of the map fitted on the pairs."""
    from sklatent._kernels import procrustes, unit_rows

    Xn, Yn = _normalize(X[x_pool], X[x_pool]), _normalize(Y[y_pool], Y[y_pool])
    W = procrustes(Xn[pairs_x].T @ Yn[pairs_y])[0]
    Q = unit_rows(_normalize(X[test], X[x_pool]) @ W)
    C = _normalize(Y[test], Y[y_pool])
    S = Q @ C.T
    return float((S.argmax(dim=1) == np.arange(len(test))).double().mean())


class _Steps:
    """Counts the mutual-CSLS passes of match_spaces, by size of the query set."""

    def __init__(self, n_full):
        from sklatent import matching

        self.matching, self.n_full = matching, n_full
        self.full = self.part = 0

    def __enter__(self):
        original = self.original = self.matching._Problem.mutual_pairs

        def counted(problem, Q, C):
            if len(Q) == self.n_full:
                self.full += 1
            else:
                self.part += 1
            return original(problem, Q, C)

        self.matching._Problem.mutual_pairs = counted
        return self

    def __exit__(self, *exc):
        self.matching._Problem.mutual_pairs = self.original


def _case(name, X, Y, x_pool, y_pool, seeds, test, profile, verbose):
    from sklatent.matching import MatchingWarning, match_spaces

    kwargs = {"random_state": 0, **({"verbose": True} if verbose else {})}
    if len(seeds):
        kwargs["seeds"] = seeds
    profiler = cProfile.Profile() if profile else None
    with _Steps(len(x_pool)) as steps, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MatchingWarning)
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        m = match_spaces(X[x_pool], Y[y_pool], **kwargs)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, MatchingWarning) for w in caught)
    right = x_pool[m.x_indices] == y_pool[m.y_indices]
    item_y = {item: row for row, item in enumerate(y_pool)}
    true = [(row, item_y[item]) for row, item in enumerate(x_pool) if item in item_y]
    true_x, true_y = np.array(true).T
    matched = _top1(X, Y, x_pool, y_pool, m.x_indices, m.y_indices, test)
    line = (
        f"{name:9s} pools {len(x_pool)} x {len(y_pool)}: {seconds:6.1f} s, "
        f"{steps.full} full + {steps.part} half steps, {len(m)} pairs, "
        f"precision {right.mean():.3f} (500 surest {right[:500].mean():.3f}), "
        f"c {m.criterion:.3f} / b {m.baseline:.3f}{' WARNS' if warned else ''}; "
        f"top-1 matched {matched:.3f}"
    )
    if len(seeds):
        line += (
            f", seeds alone "
            f"{_top1(X, Y, x_pool, y_pool, seeds[:, 0], seeds[:, 1], test):.3f}"
        )
    line += f", ceiling {_top1(X, Y, x_pool, y_pool, true_x, true_y, test):.3f}"
    print(line, flush=True)
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        print(text.getvalue(), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["free", "10", "20"])
    parser.add_argument("--n", type=int, default=5000, help="seed-free pool size")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    X, Y = _load()
    rng = np.random.default_rng(0)
    items = rng.permutation(len(X))
    test, train = items[:N_TEST], items[N_TEST:]
    for case in args.cases:
        if case == "free":
            x_pool = rng.permutation(train)[: args.n]
            y_pool = rng.permutation(x_pool)
            seeds = np.empty((0, 2), dtype=int)
        else:
            size = int(0.8 * len(train))
            x_pool = rng.permutation(rng.choice(train, size, replace=False))
            y_pool = rng.permutation(rng.choice(train, size, replace=False))
            shared = rng.choice(
                np.intersect1d(x_pool, y_pool), int(case), replace=False
            )
            where_x = {item: row for row, item in enumerate(x_pool)}
            where_y = {item: row for row, item in enumerate(y_pool)}
            seeds = np.array([[where_x[i], where_y[i]] for i in shared])
        _case(case, X, Y, x_pool, y_pool, seeds, test, args.profile, args.verbose)


if __name__ == "__main__":
    main()
