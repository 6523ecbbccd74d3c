"""LatentTranslator fit, partial_fit and transform against plain references.

Fit: 100,000 pairs 768 -> 768, float64, ``normalize="standard"``:

- ``method="orthogonal"`` against standardising both sides and
  ``scipy.linalg.orthogonal_procrustes``;
- ``method="linear"`` against standardising both sides and
  ``numpy.linalg.lstsq``;
- ``partial_fit`` over chunks of 10,000 pairs against one ``fit`` on all of
  them (the cost of streaming).

The references include the standardisation (column means, unbiased standard
deviations, the scaled copies); ``fit`` also validates its input (finite,
2-D), accumulates its statistics in float64 and checks for constant features.

Transform: 100,000 rows 768 -> 768, float32, against a bare ``torch.mm`` of the
same shapes on tensors that already exist. ``transform`` also validates the
numpy input, subtracts the mean and writes the output.

Every figure is a ratio to its reference timed in the same process, median of
``--repeats`` runs, each reference run next to its candidate run so that a
busy machine slows both alike.

    python benchmarks/bench_translation.py            # the sizes above
    python benchmarks/bench_translation.py --quick    # 5,000 pairs, 20,000 rows
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


def standardise(Z):
    return (Z - Z.mean(0)) / Z.std(0, ddof=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    n_pairs, n_rows, d = (5_000, 20_000, 768) if args.quick else (100_000, 100_000, 768)
    chunk = n_pairs // 10
    rng = np.random.RandomState(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    X = rng.normal(size=(n_pairs, d)) * rng.uniform(0.1, 2, size=d) + 1.0
    Y = X @ rotation + 0.1 * rng.normal(size=(n_pairs, d))
    orthogonal = LatentTranslator(device=args.device)
    linear = LatentTranslator(method="linear", device=args.device)
    streamed = {}

    def fit_orthogonal():
        orthogonal.fit(X, Y)

    def procrustes():
        return orthogonal_procrustes(standardise(X), standardise(Y))[0]

    def fit_linear():
        linear.fit(X, Y)

    def lstsq():
        return np.linalg.lstsq(standardise(X), standardise(Y), rcond=None)[0]

    def partial_fit():
        translator = LatentTranslator(device=args.device)
        for start in range(0, n_pairs, chunk):
            translator.partial_fit(X[start : start + chunk], Y[start : start + chunk])
        streamed["translator"] = translator

    rows = [
        (f"fit orthogonal, {n_pairs:,} pairs (vs procrustes)",)
        + paired_medians(fit_orthogonal, procrustes, args.repeats),
        (f"fit linear, {n_pairs:,} pairs (vs lstsq)",)
        + paired_medians(fit_linear, lstsq, args.repeats),
        (f"partial_fit, {n_pairs // chunk} chunks (vs fit)",)
        + paired_medians(partial_fit, fit_orthogonal, args.repeats),
    ]
    errors = {
        "orthogonal coef_ - scipy R": np.abs(orthogonal.coef_ - procrustes()).max(),
        "linear coef_ - lstsq": np.abs(linear.coef_ - lstsq()).max(),
        "partial_fit coef_ - fit coef_": np.abs(
            streamed["translator"].coef_ - orthogonal.coef_
        ).max(),
    }

    device = torch.device(args.device)
    X_new = rng.normal(size=(n_rows, d)).astype(np.float32)
    X_tensor = torch.from_numpy(X_new).to(device)
    W_tensor = torch.from_numpy(orthogonal.coef_.astype(np.float32)).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def transform():
        orthogonal.transform(X_new)
        sync()

    def transform_tensor():
        orthogonal.transform(X_tensor)
        sync()

    def mm():
        torch.mm(X_tensor, W_tensor)
        sync()

    rows += [
        (f"transform, {n_rows:,} rows, numpy float32 (vs mm)",)
        + paired_medians(transform, mm, args.repeats),
        (f"transform, {n_rows:,} rows, tensor float32 (vs mm)",)
        + paired_medians(transform_tensor, mm, args.repeats),
    ]

    print(
        f"d={d} device={device} threads={torch.get_num_threads()} "
        f"repeats={args.repeats} (median)"
    )
    for name, value in errors.items():
        print(f"max |{name}| = {value:.1e}")
    print(f"{'operation':<50}{'seconds':>9}{'reference':>11}{'ratio':>8}")
    for name, seconds, reference in rows:
        print(f"{name:<50}{seconds:>9.3f}{reference:>11.3f}{seconds / reference:>8.2f}")


if __name__ == "__main__":
    main()
