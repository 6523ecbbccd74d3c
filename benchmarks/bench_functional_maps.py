"""Latent functional maps: the spectral basis at scale.

``basis``: time of :func:`sklatent._kernels.spectral.spectral_basis` (50
eigenpairs of the normalised Laplacian of the 10-NN heat-kernel graph) on n x
384 float32 rows, the graph (blocked top-k) and the eigensolver timed apart.
The rows are generated: 50 Gaussian clusters whose centres lie ``spread``
standard deviations apart (0.3: clustered, as sentence embeddings; 0.1:
nearly noise, the eigensolver's hard case, eigenvalues packed together).

``scale``: ``match_spaces(X, Y, seeds=10 pairs, method="functional_map")`` on
n x n pools of 384 features, Y a rotated, shuffled copy of X with noise (0.3
of the data's spread), and the precision of its pairs.

``similarity``: :func:`sklatent.metrics.functional_map_similarity` (both
measures) and linear CKA between the digits encoders trained with
``random_state=0`` (rows) and ``random_state=1`` (columns), all 1,797 images.

    python benchmarks/bench_functional_maps.py --only basis
    python benchmarks/bench_functional_maps.py --only similarity
    python benchmarks/bench_functional_maps.py --only scale --sizes 5000
    python benchmarks/bench_functional_maps.py --only basis --sizes 5000,20000
"""

import argparse
import time

import numpy as np


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


def scale_table(sizes, d=384, n_seeds=10):
    import warnings

    from scipy.stats import ortho_group

    from sklatent.matching import match_spaces

    print(f"match_spaces(method='functional_map'), {n_seeds} seeds, d={d}")
    print(f"{'n':>7} {'time s':>7} {'pairs':>6} {'precision':>9} {'converged':>9}")
    for n in sizes:
        rng = np.random.default_rng(0)
        X = _rows(n, d, 0.3)
        order = rng.permutation(n)
        Y = X[order] @ ortho_group.rvs(d, random_state=0).astype(np.float32)
        Y += 0.3 * X.std() * rng.standard_normal(Y.shape).astype(np.float32)
        inverse = np.argsort(order)
        seeds = np.column_stack([np.arange(n_seeds), inverse[:n_seeds]])
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = match_spaces(X, Y, seeds=seeds, method="functional_map", random_state=0)
        elapsed = time.perf_counter() - start
        right = np.mean(order[m.y_indices] == m.x_indices)
        print(f"{n:>7} {elapsed:>7.1f} {len(m):>6} {right:>9.3f} {m.converged!s:>9}")


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
    parser.add_argument("--only", default="basis", help="comma-separated sections")
    parser.add_argument("--sizes", default="5000,10000,20000")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    sizes = [int(n) for n in args.sizes.split(",")]
    if "basis" in sections:
        basis_table(sizes)
    if "scale" in sections:
        scale_table(sizes)
    if "similarity" in sections:
        similarity_table()


if __name__ == "__main__":
    main()
