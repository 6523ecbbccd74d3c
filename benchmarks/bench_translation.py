"""LatentTranslator fit and transform against their plain references.

Fit: 10,000 pairs 768 -> 768, ``method="orthogonal"``, ``normalize="standard"``,
float64, against ``scipy.linalg.orthogonal_procrustes``. The reference includes
the standardisation too (column means, unbiased standard deviations, the
scaled copies) and the SVD; ``fit`` also validates its input (finite, 2-D),
accumulates the statistics in float64 and checks for constant features.

Transform: 100,000 rows 768 -> 768, float32, against a bare ``torch.mm`` of the
same shapes on tensors that already exist. ``transform`` also validates the
numpy input, subtracts the mean and writes the numpy output.

Every figure is a ratio to its reference timed in the same process, median of
``--repeats`` runs, each reference run next to its candidate run so that a
busy machine slows both alike.

    python benchmarks/bench_translation.py            # the sizes above
    python benchmarks/bench_translation.py --quick    # 2,000 pairs, 20,000 rows
"""

import argparse
import statistics
import time

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes

from sklatent import LatentTranslator


def paired_medians(candidate, reference, repeats):
    """Median wall times of two functions, run alternately after a warm-up."""
    candidate(), reference()
    times = {candidate: [], reference: []}
    for _ in range(repeats):
        for function in (reference, candidate):
            start = time.perf_counter()
            function()
            times[function].append(time.perf_counter() - start)
    return statistics.median(times[candidate]), statistics.median(times[reference])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    n_pairs, n_rows, d = (2_000, 20_000, 768) if args.quick else (10_000, 100_000, 768)
    rng = np.random.RandomState(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    X = rng.normal(size=(n_pairs, d)) * rng.uniform(0.1, 2, size=d) + 1.0
    Y = X @ rotation + 0.1 * rng.normal(size=(n_pairs, d))
    translator = LatentTranslator(device=args.device)

    def fit():
        translator.fit(X, Y)

    def reference_fit():
        Xs = (X - X.mean(0)) / X.std(0, ddof=1)
        Ys = (Y - Y.mean(0)) / Y.std(0, ddof=1)
        return orthogonal_procrustes(Xs, Ys)[0]

    fit_s, reference_fit_s = paired_medians(fit, reference_fit, args.repeats)
    max_diff = np.abs(translator.fit(X, Y).coef_ - reference_fit()).max()

    device = torch.device(args.device)
    X_new = rng.normal(size=(n_rows, d)).astype(np.float32)
    X_tensor = torch.from_numpy(X_new).to(device)
    W_tensor = torch.from_numpy(translator.coef_.astype(np.float32)).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def transform():
        translator.transform(X_new)
        sync()

    def transform_tensor():
        translator.transform(X_tensor)
        sync()

    def mm():
        torch.mm(X_tensor, W_tensor)
        sync()

    transform_s, mm_s = paired_medians(transform, mm, args.repeats)
    tensor_s, mm2_s = paired_medians(transform_tensor, mm, args.repeats)

    print(
        f"d={d} device={device} threads={torch.get_num_threads()} "
        f"repeats={args.repeats} (median)"
    )
    print(f"max |coef_ - scipy R| = {max_diff:.1e}")
    print(f"{'operation':<48}{'seconds':>9}{'reference':>11}{'ratio':>8}")
    rows = [
        (f"fit, {n_pairs:,} pairs, float64 (vs scipy)", fit_s, reference_fit_s),
        (f"transform, {n_rows:,} rows, numpy float32 (vs mm)", transform_s, mm_s),
        (f"transform, {n_rows:,} rows, tensor float32 (vs mm)", tensor_s, mm2_s),
    ]
    for name, seconds, reference in rows:
        print(f"{name:<48}{seconds:>9.3f}{reference:>11.3f}{seconds / reference:>8.2f}")


if __name__ == "__main__":
    main()
