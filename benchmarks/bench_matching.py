"""sklatent.matching on the digits embeddings and at scale: quality and time.

Encoder A is trained with ``random_state=0``, encoder B with ``random_state=1``
(``load_digits_embeddings``), so the diagonal pairs are two encoders of the
same architecture trained from different seeds; rows are images.

- ``seed-free``: the pools are all 1,797 images by A and by B (B's shuffled);
  precision of the 500 surest pairs (right when both rows are one image).
- ``10/50/200 seeds``: realistic pools: X is a random 80 % of A's training
  images, Y another random 80 % of B's (about 64 % of the items shared), each
  shuffled; seeds are shared images (10: one per class). An orthogonal map is
  fitted on the matched pairs, and on the seeds alone ("Procrustes"), and
  translates A's *test* images into B's space; MRR and top-1 of the true image
  among all test images, by cosine and by CSLS (k=10), brute force.
- ``stitching``: a logistic regression fitted on A's normalised training
  embeddings classifies B's test embeddings mapped into A's space by the map
  refined from 10 seeds (B to A), against its accuracy on A's own test images.
- ``scale``: generated clustered data, Y a rotated, shuffled, noisy copy of X
  (64 features): seed-free time and peak memory for n x n pools.

The orthogonal map is :func:`sklatent._kernels.procrustes` on rows normalised
as :func:`~sklatent.matching.match_spaces` normalises them, a stand-in for
``LatentTranslator(method="orthogonal")`` while that estimator moves onto the
new kernels; the baseline uses the same stand-in.

    python benchmarks/bench_matching.py                 # digits table, 2,000 rows
    python benchmarks/bench_matching.py --large 20000   # also 20,000 x 20,000
"""

import argparse
import multiprocessing
import resource
import time
import warnings

import numpy as np

NAMES = ("mlp_small", "mlp_wide", "cnn")


def _normalize(X, pool):
    """Rows of X normalised with the pool's statistics, as match_spaces does."""
    import torch

    from sklatent._kernels import unit_rows

    X = unit_rows(torch.as_tensor(X, dtype=torch.float64))
    mean = unit_rows(torch.as_tensor(pool, dtype=torch.float64)).mean(dim=0)
    return unit_rows(X - mean)


def _map(Xn, Yn):
    """The orthogonal map of normalised pairs (d_x, d_y)."""
    from sklatent._kernels import procrustes

    return procrustes(Xn.T @ Yn)[0]


def _retrieval(Q, C, k=10):
    """MRR and top-1 of row i of C for query i, by cosine and by CSLS."""
    from sklatent._kernels import csls_scores, neighbourhood_similarity, unit_rows

    Q, C = unit_rows(Q), unit_rows(C)
    scores = {
        "cos": Q @ C.T,
        "csls": csls_scores(
            Q,
            C,
            neighbourhood_similarity(Q, C, k, block_rows=len(Q)),
            neighbourhood_similarity(C, Q, k, block_rows=len(C)),
        ),
    }
    result = {}
    for name, S in scores.items():
        ranks = (S.diagonal().unsqueeze(1) < S).sum(dim=1) + 1
        result[name] = (float((1 / ranks).mean()), float((ranks == 1).double().mean()))
    return result


def _pools(train, rng):
    x_pool = rng.permutation(rng.choice(train, int(0.8 * len(train)), replace=False))
    y_pool = rng.permutation(rng.choice(train, int(0.8 * len(train)), replace=False))
    return x_pool, y_pool


def _seeds(x_pool, y_pool, target, m, rng):
    common = np.intersect1d(x_pool, y_pool)
    if m == 10:
        images = np.array([rng.choice(common[target[common] == c]) for c in range(10)])
    else:
        images = rng.choice(common, m, replace=False)
    where_x = {image: row for row, image in enumerate(x_pool)}
    where_y = {image: row for row, image in enumerate(y_pool)}
    return np.array([[where_x[i], where_y[i]] for i in images])


def _timed_match(X, Y, **kwargs):
    from sklatent.matching import MatchingWarning, match_spaces

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MatchingWarning)
        m = match_spaces(X, Y, random_state=0, **kwargs)
    warned = any(issubclass(w.category, MatchingWarning) for w in caught)
    return m, time.perf_counter() - start, warned


def digits_table(seed_counts=(10, 50, 200)):
    from sklearn.linear_model import LogisticRegression

    from sklatent.datasets import load_digits_embeddings

    a, b = load_digits_embeddings(), load_digits_embeddings(random_state=1)
    target, train, test = a.target, a.train_indices, a.test_indices
    rows = []
    for name_a in NAMES:
        for name_b in NAMES:
            A, B = a.embeddings[name_a], b.embeddings[name_b]
            rng = np.random.default_rng(0)
            row = {"pair": f"{name_a} -> {name_b}"}
            # Seed-free, all images.
            order = rng.permutation(len(B))
            m, seconds, warned = _timed_match(A, B[order])
            row["free"] = (
                float(np.mean(order[m.y_indices[:500]] == m.x_indices[:500])),
                m.criterion,
                m.baseline,
                warned,
                seconds,
            )
            # Seeds with partly shared pools.
            x_pool, y_pool = _pools(train, rng)
            Xn, Yn = _normalize(A[x_pool], A[x_pool]), _normalize(B[y_pool], B[y_pool])
            TA, TB = _normalize(A[test], A[x_pool]), _normalize(B[test], B[y_pool])
            full = _map(
                _normalize(A[train], A[x_pool]), _normalize(B[train], B[y_pool])
            )
            row["ceiling"] = _retrieval(TA @ full, TB)
            for n_seeds in seed_counts:
                seeds = _seeds(x_pool, y_pool, target, n_seeds, rng)
                plain = _map(Xn[seeds[:, 0]], Yn[seeds[:, 1]])
                m, seconds, warned = _timed_match(A[x_pool], B[y_pool], seeds=seeds)
                refined = _map(Xn[m.x_indices], Yn[m.y_indices])
                row[n_seeds] = (
                    _retrieval(TA @ plain, TB),
                    _retrieval(TA @ refined, TB),
                    seconds,
                    warned,
                )
                if n_seeds == 10:
                    head = LogisticRegression(max_iter=2000)
                    head.fit(_normalize(A[train], A[x_pool]).numpy(), target[train])
                    own = head.score(TA.numpy(), target[test])
                    stitched = head.score((TB @ refined.T).numpy(), target[test])
                    row["stitch"] = (own, stitched)
            rows.append(row)
            _print_row(row, seed_counts)
    return rows


def _print_row(row, seed_counts):
    precision, criterion, baseline, warned, seconds = row["free"]
    parts = [
        f"{row['pair']:22s}",
        f"free P@500 {precision:.3f} (c {criterion:.2f}/{baseline:.2f}"
        f"{' WARN' if warned else ''}, {seconds:.1f}s)",
        f"ceiling MRR {row['ceiling']['cos'][0]:.3f}",
    ]
    for n in seed_counts:
        plain, refined, seconds, warned = row[n]
        parts.append(
            f"{n} seeds MRR cos {plain['cos'][0]:.3f}->{refined['cos'][0]:.3f} "
            f"csls {plain['csls'][0]:.3f}->{refined['csls'][0]:.3f} "
            f"top1 cos {plain['cos'][1]:.3f}->{refined['cos'][1]:.3f} "
            f"csls {plain['csls'][1]:.3f}->{refined['csls'][1]:.3f} "
            f"({seconds:.1f}s{' WARN' if warned else ''})"
        )
    own, stitched = row["stitch"]
    parts.append(f"stitch A {own:.3f} B->A {stitched:.3f}")
    print(" | ".join(parts), flush=True)


def _scale_case(n, n_seeds, queue):
    """Matching of n x n generated pools; time, peak RSS rise, precision.

    Seed-free, or from ``n_seeds`` known pairs with ``method="refine"``.
    """
    from scipy.stats import ortho_group

    rng = np.random.default_rng(0)
    d = 64
    centres = rng.standard_normal((50, d)).astype(np.float32) * 3
    X = centres[rng.integers(50, size=n)] + rng.standard_normal((n, d), np.float32)
    X *= np.linspace(2, 0.5, d, dtype=np.float32)
    order = rng.permutation(n)
    Q = ortho_group.rvs(d, random_state=0).astype(np.float32)
    Y = X[order] @ Q + 0.05 * X.std() * rng.standard_normal((n, d), np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if n_seeds:
        seeds = np.column_stack([np.arange(n_seeds), np.argsort(order)[:n_seeds]])
        m, seconds, warned = _timed_match(X, Y, seeds=seeds, method="refine")
    else:
        m, seconds, warned = _timed_match(X, Y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    precision = float(np.mean(order[m.y_indices] == m.x_indices))
    queue.put((seconds, peak / 2**10, len(m), precision, warned))


def scale(sizes, n_seeds=(0, 10)):
    context = multiprocessing.get_context("spawn")
    for n in sizes:
        for seeds in n_seeds:
            _scale_row(context, n, seeds)


def _scale_row(context, n, seeds):
    queue = context.Queue()
    process = context.Process(target=_scale_case, args=(n, seeds, queue))
    process.start()
    seconds, peak_mib, pairs, precision, warned = queue.get()
    process.join()
    print(
        f"scale {n} x {n}, {seeds} seeds: {seconds:.1f} s, "
        f"peak RSS rise {peak_mib:.0f} MiB, "
        f"{pairs} pairs, precision {precision:.3f}"
        f"{', WARNED' if warned else ''}",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, nargs="*", default=[])
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_digits:
        digits_table()
    scale([2000, *args.large])


if __name__ == "__main__":
    main()
