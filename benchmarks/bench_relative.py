"""RelativeTransformer.transform against the floor of its arithmetic.

The floor of a cosine projection of n x d rows onto k anchors is one GEMM of
the same shapes; L1 has no GEMM form, so it is also compared with
``torch.cdist(p=1)``. Every figure is a ratio to a reference timed in the same
process, median of ``--repeats`` runs.

    python benchmarks/bench_relative.py            # n=100,000, d=768, k=1,024
    python benchmarks/bench_relative.py --quick    # n=20,000
"""

import argparse
import statistics
import time

import numpy as np
import torch

from sklatent import RelativeTransformer


def median_seconds(function, repeats):
    """Median wall time of ``function()`` over ``repeats`` runs, after a warm-up."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=20,000 rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    n, d, k = (20_000 if args.quick else 100_000), 768, 1024
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    device = torch.device(args.device)
    X_t = torch.from_numpy(X).to(device)
    A_t = X_t[:k].clone()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def gemm():
        X_t @ A_t.T
        sync()

    gemm_s = median_seconds(gemm, args.repeats)
    print(
        f"n={n} d={d} k={k} float32 device={device} threads={torch.get_num_threads()}"
    )
    print(f"{'operation':<34}{'seconds':>10}{'x torch.mm':>12}")
    print(f"{'bare torch.mm (floor)':<34}{gemm_s:>10.3f}{1.0:>12.2f}")
    for similarity in ["cosine", "l1"]:
        rel = RelativeTransformer(
            anchors=np.arange(k), similarity=similarity, device=args.device
        ).fit(X)
        if similarity == "l1":
            rows = slice(0, n // 20)  # L1 is element-wise: time a slice, scale up
            cdist_s = (
                median_seconds(
                    lambda r=rows: (torch.cdist(X_t[r], A_t, p=1), sync()), args.repeats
                )
                * 20
            )
            print(f"{'torch.cdist(p=1)':<34}{cdist_s:>10.3f}{cdist_s / gemm_s:>12.2f}")
        else:
            rows = slice(0, n)
        scale = n / (rows.stop - rows.start)
        numpy_s = median_seconds(
            lambda r=rows, rel=rel: rel.transform(X[r]), args.repeats
        )
        numpy_s *= scale
        tensor_s = median_seconds(
            lambda r=rows, rel=rel: (rel.transform(X_t[r]), sync()), args.repeats
        )
        tensor_s *= scale
        print(
            f"{similarity + ' transform (numpy in/out)':<34}{numpy_s:>10.3f}"
            f"{numpy_s / gemm_s:>12.2f}"
        )
        print(
            f"{similarity + ' transform (tensor in/out)':<34}{tensor_s:>10.3f}"
            f"{tensor_s / gemm_s:>12.2f}"
        )


if __name__ == "__main__":
    main()
