"""sklatent.migration: ``fit_bridge(method="auto")`` time and ``apply_bridge`` speed.

Two figures the migration issue sets targets for:

- the whole ``fit_bridge(method="auto")`` (3-fold cross-validated choice among
  orthogonal, affine and ridge with its penalty by GCV, the held-out
  estimate, the shuffled control and the refit on every pair) on 1,000 and
  3,000 pairs of 384-d synthetic spaces (``tests/_migration_data.spaces``:
  one latent, nonlinear, anisotropic, off-origin); target under 60 s at
  3,000 pairs on a 2-core machine;
- ``apply_bridge`` of an ``n x 384`` float32 ``.npy`` store (memory-mapped,
  batched, written atomically) against a bare ``torch.mm`` of the same shapes
  plus an ``np.save`` of the result (the floor any translation pays); the
  ratio ``floor / apply`` is the speed relative to it (target at least 0.8);
- the memory ``apply_bridge`` adds, measured in a child process that does
  nothing else: the growth of its peak resident set (``VmHWM``, which counts
  the memory-mapped files' pages the kernel may drop at will) and of its
  anonymous memory (``RssAnon`` sampled every 5 ms: the process's own
  memory, target under 200 MB whatever the row count).

Each case runs ``--repeats`` times; the median and the spread (min-max) are
printed, and a JSON line at the end.

    python benchmarks/bench_migration_fit.py  # 1,000 and 3,000 pairs; 200,000 rows
    python benchmarks/bench_migration_fit.py --quick  # 1,000 pairs; 50,000 rows
    python benchmarks/bench_migration_fit.py --pairs 3000 --rows 1000000 --repeats 3
    python benchmarks/bench_migration_fit.py --skip-fit --rows 1000000 --repeats 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def _spaces(n, seed=0):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from _migration_data import spaces

    return spaces(n, seed=seed, d_old=384, d_new=384)


def _summary(times):
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "times_s": times,
    }


def bench_fit(n_pairs, repeats):
    from sklatent.migration import fit_bridge

    old, new = _spaces(n_pairs)
    times, method = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        _, report = fit_bridge(old, new, method="auto", store_size=100_000)
        times.append(time.perf_counter() - start)
        method = report["method"]
    return {"n_pairs": n_pairs, "method": method, **_summary(times)}


def bench_apply(n_rows, repeats, batch_size):
    import numpy as np
    import torch

    from sklatent.migration import MigrationBridge, apply_bridge

    old, new = _spaces(2000)
    bridge = MigrationBridge("affine").fit(old, new)
    weight, offset = (
        np.ascontiguousarray(a, dtype=np.float32) for a in bridge.affine_map()
    )
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        store = os.path.join(folder, "store.npy")
        Z = np.lib.format.open_memmap(
            store, mode="w+", dtype=np.float32, shape=(n_rows, 384)
        )
        for start in range(0, n_rows, 65536):
            stop = min(start + 65536, n_rows)
            Z[start:stop] = rng.standard_normal((stop - start, 384), dtype=np.float32)
        Z.flush()
        del Z
        out = os.path.join(folder, "out.npy")
        floor, ours = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            X = torch.from_numpy(np.load(store))
            Y = torch.mm(X, torch.from_numpy(weight)) + torch.from_numpy(offset)
            np.save(out, Y.numpy())
            floor.append(time.perf_counter() - start)
            del X, Y
            os.unlink(out)
            start = time.perf_counter()
            apply_bridge(bridge, store, out, batch_size=batch_size)
            ours.append(time.perf_counter() - start)
            os.unlink(out)
        memory = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--memory-child", store, out,
                 str(batch_size)],
                capture_output=True, text=True, check=True,
            ).stdout.splitlines()[-1]
        )  # fmt: skip
    ratio = statistics.median(floor) / statistics.median(ours)
    return {
        "n_rows": n_rows,
        "apply": _summary(ours),
        "mm_plus_save": _summary(floor),
        "speed_vs_floor": ratio,
        "memory_mb": memory,
    }


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory_child(store, out, batch_size):
    """In a fresh process: the memory one ``apply_bridge`` adds (MB)."""
    from sklatent.migration import MigrationBridge, apply_bridge

    old, new = _spaces(2000)
    bridge = MigrationBridge("affine").fit(old, new)
    bridge.transform(old[:10])  # anything lazily built, built before measuring
    del old, new
    before_anon, before_peak = _status_kb("RssAnon"), _status_kb("VmHWM")
    peak_anon, done = [before_anon], threading.Event()

    def sample():
        while not done.wait(0.005):
            peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    apply_bridge(bridge, store, out, batch_size=batch_size)
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))
    os.unlink(out)
    print(
        json.dumps(
            {
                "anon_growth_mb": (peak_anon[0] - before_anon) / 1024,
                "peak_rss_growth_mb": (_status_kb("VmHWM") - before_peak) / 1024,
                "apply_s": seconds,
            }
        )
    )


def _line(name, s):
    return (
        f"{name}: median {s['median_s']:.2f} s "
        f"(spread {s['min_s']:.2f}-{s['max_s']:.2f} s over {len(s['times_s'])})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=None)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        store, out, batch_size = args.memory_child
        return memory_child(store, out, int(batch_size))
    pairs = args.pairs or ([1000] if args.quick else [1000, 3000])
    rows = args.rows or (50_000 if args.quick else 200_000)
    results = {"fit": [], "apply": None}
    if not args.skip_fit:
        for n in pairs:
            r = bench_fit(n, args.repeats)
            results["fit"].append(r)
            print(_line(f"fit_bridge auto, {n} pairs -> {r['method']}", r), flush=True)
    if not args.skip_apply:
        r = bench_apply(rows, args.repeats, args.batch_size)
        results["apply"] = r
        print(_line(f"apply_bridge {rows} x 384", r["apply"]), flush=True)
        print(_line("torch.mm + np.save", r["mm_plus_save"]), flush=True)
        print(f"speed vs mm + save: {r['speed_vs_floor']:.2f}x", flush=True)
        m = r["memory_mb"]
        print(
            f"apply_bridge in a fresh process: {m['apply_s']:.2f} s, anonymous "
            f"memory +{m['anon_growth_mb']:.0f} MB, peak RSS (mapped files "
            f"included) +{m['peak_rss_growth_mb']:.0f} MB",
            flush=True,
        )
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
