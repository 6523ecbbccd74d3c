"""LatentTranslator.fit on float32 and float64 pairs, in CPU time on one thread.

CPU time of one thread is what a busy machine disturbs least, so this is the
figure to compare across commits. Pairs: 768 -> 768, anisotropic and off the
origin, the target a rotation of the source plus noise (as in
``bench_peer.py``), ``normalize="standard"``. References, timed in the same
process on the same data in the same dtype:

- orthogonal: standardise both sides and ``scipy.linalg.orthogonal_procrustes``;
- affine: standardise both sides and ``scipy.linalg.lstsq`` with LAPACK's
  ``gelsy`` (what ``torch.linalg.lstsq`` calls on the CPU).

Each figure is the best of ``--repeats`` runs, the ratio is against the
reference in the same dtype::

    python benchmarks/bench_fit_dtypes.py                 # 30,000 and 100,000 pairs
    python benchmarks/bench_fit_dtypes.py --pairs 2000
"""

import argparse
import time

import numpy as np
import torch
from scipy.linalg import lstsq, orthogonal_procrustes
from threadpoolctl import threadpool_limits

from sklatent import LatentTranslator

D = 768


def pairs(n, dtype, seed=0):
    rng = np.random.RandomState(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(D, D)))
    X = rng.normal(size=(n, D)) * rng.uniform(0.1, 2, size=D) + 1.0
    Y = X @ rotation + 0.1 * rng.normal(size=(n, D))
    return X.astype(dtype), Y.astype(dtype)


def cpu_seconds(function, repeats):
    """Best CPU time of ``function`` over ``repeats`` runs, after a warm-up."""
    function()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return min(times)


def standardise(Z):
    return (Z - Z.mean(0)) / Z.std(0, ddof=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[30_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    references = {
        "orthogonal": lambda X, Y: orthogonal_procrustes(
            standardise(X), standardise(Y)
        ),
        "affine": lambda X, Y: lstsq(
            standardise(X), standardise(Y), lapack_driver="gelsy", check_finite=False
        ),
    }
    print(f"{'fit':<36}{'CPU s':>8}{'reference':>11}{'ratio':>8}")
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        for n in args.pairs:
            for dtype in (np.float32, np.float64):
                X, Y = pairs(n, dtype)
                for method, reference in references.items():
                    ours = cpu_seconds(
                        lambda m=method, X=X, Y=Y: LatentTranslator(method=m).fit(X, Y),
                        args.repeats,
                    )
                    theirs = cpu_seconds(
                        lambda r=reference, X=X, Y=Y: r(X, Y), args.repeats
                    )
                    name = f"{method}, {np.dtype(dtype).name}, {n:,} pairs"
                    print(
                        f"{name:<36}{ours:>8.2f}{theirs:>11.2f}{ours / theirs:>8.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
