"""sklatent.metrics at scale: time and peak memory against the direct formulas.

Linear CKA in feature space (O(n d^2) time, O(d^2) memory) against the
textbook Gram-matrix formula (O(n^2 d) time, O(n^2) memory), at the largest n
the Gram formula fits, extrapolated to the n of the feature-space run; and the
full-rank MRR over n rows streamed in query blocks (never an n x n matrix).

Every case runs in a fresh process, so that its peak memory is its own: on
the CPU the rise of the process's peak resident set size (``ru_maxrss``)
over what it held once its data existed; on CUDA the rise of
``torch.cuda.max_memory_allocated``. Data are float32 standard normals
(``Y`` correlated with ``X``); CKA accumulates in float64, as the library
does, and so does the Gram reference.

    python benchmarks/bench_metrics.py                 # n=50,000 CKA, 100,000 MRR
    python benchmarks/bench_metrics.py --quick         # n=10,000 and 20,000
    python benchmarks/bench_metrics.py --device cuda --repeats 5
    python benchmarks/bench_metrics.py --quick --mrr-metric csls  # CSLS retrieval
"""

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import time

GIB = 2**30


def _data(n, d, device, seed=0):
    """X and a correlated Y, float32; numpy on the CPU, tensors on a GPU."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    Y = rng.standard_normal((n, d), dtype=np.float32)
    Y *= 0.5
    Y += X
    if device != "cpu":
        return torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    return X, Y


def _gram_cka(X, Y, device):
    """The direct formula: centred n x n Gram matrices, float64."""
    import torch

    def centred_gram(Z):
        Z = torch.as_tensor(Z, device=device).to(torch.float64)
        K = Z @ Z.T
        del Z
        row = K.mean(0)
        K -= row[None, :]
        K -= row[:, None]
        K += row.mean()
        return K

    K = centred_gram(X)
    L = centred_gram(Y)
    hsic = float((K * L).sum())
    return hsic / float(torch.linalg.matrix_norm(K) * torch.linalg.matrix_norm(L))


def _case(spec, queue):
    """Run one measurement in this (fresh) process and report it."""
    import torch

    from sklatent import metrics

    device = spec["device"]
    X, Y = _data(spec["n"], spec["d"], device)
    cuda = device.startswith("cuda")

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if spec["kind"] == "cka":
        function = lambda: metrics.linear_cka(X, Y, device=device)  # noqa: E731
    elif spec["kind"] == "gram":
        function = lambda: _gram_cka(X, Y, device)  # noqa: E731
    else:
        batch = spec.get("batch_size")
        function = lambda: metrics.mrr(  # noqa: E731
            X, Y, metric=spec["metric"], batch_size=batch, device=device
        )
    # Warm-up (thread pools, BLAS buffers, CUDA context) outside the measure.
    metrics.linear_cka(X[:64], Y[:64], device=device)
    metrics.mrr(X[:64], Y[:64], device=device)
    _gram_cka(X[:64], Y[:64], device)
    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(spec["repeats"]):
        sync()
        start = time.perf_counter()
        value = function()
        sync()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    queue.put({**spec, "seconds": seconds, "peak_bytes": peak, "value": value})


def measure(spec):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_case, args=(spec, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"case {spec} failed with exit code {process.exitcode}")
    return queue.get()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument(
        "--gram-n",
        type=int,
        nargs="+",
        default=None,
        help="sizes for the Gram formula (default 2500 5000 10000)",
    )
    parser.add_argument(
        "--mrr-batch",
        type=int,
        nargs="+",
        default=[0],
        help="MRR query batch sizes; 0 sizes them from working_memory",
    )
    parser.add_argument(
        "--mrr-metric",
        default="cosine",
        choices=["cosine", "euclidean", "csls"],
        help="score of the MRR cases",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="timed runs per case (median)"
    )
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args(argv)

    import torch

    n_cka = 10_000 if args.quick else 50_000
    n_mrr = 20_000 if args.quick else 100_000
    gram_sizes = args.gram_n or ([1000, 2500] if args.quick else [2500, 5000, 10000])
    d, device, repeats = args.dim, args.device, args.repeats
    print(
        f"device={device} d={d} float32 data, torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads",
        flush=True,
    )

    rows = []
    for n in gram_sizes:
        for kind in ("cka", "gram"):
            rows.append(
                measure(
                    {"kind": kind, "n": n, "d": d, "device": device, "repeats": repeats}
                )
            )
        print(f"  done n={n}", flush=True)
    rows.append(
        measure(
            {"kind": "cka", "n": n_cka, "d": d, "device": device, "repeats": repeats}
        )
    )
    for batch in args.mrr_batch:
        spec = {"kind": "mrr", "n": n_mrr, "d": d, "device": device, "repeats": repeats}
        spec["metric"] = args.mrr_metric
        if batch:
            spec["batch_size"] = batch
        rows.append(measure(spec))

    names = {
        "cka": "linear_cka (feature space)",
        "gram": "CKA, Gram-matrix formula",
        "mrr": f"mrr (full rank, {args.mrr_metric})",
    }
    print(f"\n{'case':<30}{'n':>9}{'batch':>8}{'seconds':>10}{'peak MiB':>10}  value")
    for row in rows:
        batch = row.get("batch_size", "auto") if row["kind"] == "mrr" else "-"
        print(
            f"{names[row['kind']]:<30}{row['n']:>9}{batch!s:>8}"
            f"{row['seconds']:>10.4f}{row['peak_bytes'] / 2**20:>10.0f}  "
            f"{row['value']:.6f}"
        )

    largest = max(gram_sizes)
    gram = next(r for r in rows if r["kind"] == "gram" and r["n"] == largest)
    same = next(r for r in rows if r["kind"] == "cka" and r["n"] == largest)
    big = next(r for r in rows if r["kind"] == "cka" and r["n"] == n_cka)
    factor = (n_cka / largest) ** 2
    print(
        f"\nAt n={largest}: Gram formula {gram['seconds']:.4f} s / feature space "
        f"{same['seconds']:.4f} s = {gram['seconds'] / same['seconds']:.1f}x; "
        f"values differ by {abs(gram['value'] - same['value']):.1e}."
    )
    print(
        f"Gram formula extrapolated to n={n_cka} (time and memory x (n ratio)^2 ="
        f" x{factor:.0f}): ~{gram['seconds'] * factor:.3g} s and "
        f"~{gram['peak_bytes'] * factor / GIB:.0f} GiB, against the measured "
        f"{big['seconds']:.4f} s and {big['peak_bytes'] / 2**20:.0f} MiB in feature "
        f"space: ~{gram['seconds'] * factor / big['seconds']:.0f}x faster."
    )
    print(
        f"A full {n_mrr} x {n_mrr} float32 score matrix for MRR would take "
        f"{n_mrr**2 * 4 / GIB:.0f} GiB; the inputs themselves take "
        f"{2 * n_mrr * d * 4 / 2**20:.0f} MiB."
    )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=1)


if __name__ == "__main__":
    sys.exit(main())
