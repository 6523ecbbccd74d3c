"""sklatent's benchmark suite: time and peak memory against the references.

Every ratio compares functions timed in the same process on the same data,
alternating between them on each repeat so that a busy machine slows all
alike; each time is the best of ``--repeats`` runs (the run least disturbed
by other processes). Peak memory is measured in one more, untimed run: the
rise of the process's resident set size (RSS) over its level before the call,
sampled every 2 ms by a thread, after giving the memory that malloc keeps
for reuse back to the system (on CUDA: the rise of
``torch.cuda.max_memory_allocated``).

Sections (``--only`` picks some):

``gemm``
    cosine / dot / euclidean ``RelativeTransformer.transform`` (numpy in and
    out) against the GEMM floor, the faster of a bare ``torch.mm`` and a bare
    numpy ``@`` on the same pre-normalised data, and against scikit-learn's
    ``cosine_similarity`` / ``linear_kernel`` / ``euclidean_distances``.
``distance``
    L1 / L-infinity transform against ``torch.cdist`` and
    ``scipy.spatial.distance.cdist``; the references are timed on a slice of
    the rows and scaled up linearly (the "slice" column), since they take
    minutes on the full data.
``scaling``
    cosine and L1 transform time per row for n = 10^4 .. 10^6.
``memmap``
    a child process transforms an ``np.memmap`` of n x 768 float32 rows
    (2,000,000 on the full run) with a fixed ``batch_size`` into an ``out=``
    memmap, then into RAM, and reports its peak RSS rise against the output's
    size.
``compile``
    the cost of compiling the fused L1 / L-infinity kernels in a fresh
    process, with an empty and with a warm inductor cache.
``first_call``
    the first L1 / L-infinity transform in a fresh process with an empty
    inductor cache (served by ``torch.cdist`` until enough work was seen),
    the second one (which compiles the kernel in the caller's thread) and a
    later one, against ``torch.cdist``.
``translation``
    ``benchmarks/bench_translation.py`` (LatentTranslator fit and transform),
    run as its own script.

    python benchmarks/run.py --quick                 # under two minutes
    python benchmarks/run.py                         # the full grid (~30 min)
    python benchmarks/run.py --quick --device cuda
    python benchmarks/run.py --only gemm,distance --threads 1
    python benchmarks/run.py --only gemm --target --repeats 7
"""

import argparse
import contextlib
import ctypes
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn
import torch
from scipy.spatial.distance import cdist as scipy_cdist
from sklearn.metrics.pairwise import (
    cosine_similarity,
    euclidean_distances,
    linear_kernel,
)

from sklatent import RelativeTransformer
from sklatent._kernels import fused as _fused

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE")
SECTIONS = [
    "gemm",
    "distance",
    "scaling",
    "memmap",
    "compile",
    "first_call",
    "translation",
]

# (n, d, k, dtype) grids. The full GEMM grid covers every d x k in float32
# and d=768 in float64 at n=100,000, plus the target shape at n=200,000;
# n = 10^6 is covered by the scaling section. This keeps the full run near
# 30 minutes on 2 cores.
TARGET = (200_000, 768, 1024, "float32")
FULL_GEMM = [TARGET] + [
    (100_000, d, k, "float32") for d in (384, 768, 1024) for k in (256, 1024, 4096)
]
FULL_GEMM += [(100_000, 768, k, "float64") for k in (256, 1024, 4096)]
QUICK_GEMM = [
    (20_000, 768, 1024, "float32"),
    (20_000, 384, 256, "float32"),
    (20_000, 768, 1024, "float64"),
]
FULL_DISTANCE = [TARGET] + [
    (50_000, d, k, "float32") for d in (384, 768, 1024) for k in (256, 1024, 4096)
]
FULL_DISTANCE += [(50_000, 768, 1024, "float64")]
QUICK_DISTANCE = [(20_000, 768, 1024, "float32"), (5_000, 768, 1024, "float64")]
FULL_SCALING = [10_000, 30_000, 100_000, 300_000, 1_000_000]
QUICK_SCALING = [10_000, 30_000, 100_000]


class PeakMemory:
    """Peak rise of the RSS (or of CUDA allocations) while the block runs."""

    def __init__(self, device):
        self.device = device
        self.peak = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return self
        release_free_memory()
        self._base = rss()
        self._stop = threading.Event()
        self._high = self._base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self._high = max(self._high, rss())

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self._base
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self._high, rss()) - self._base


def release_free_memory():
    """Give memory that malloc keeps for reuse back to the system (glibc only).

    Otherwise a case that reuses memory freed by the previous one shows no
    rise of the RSS at all.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss(anonymous=False):
    """Resident set size in bytes (only anonymous memory if asked)."""
    with open("/proc/self/statm") as f:
        fields = f.read().split()
    resident, shared = int(fields[1]), int(fields[2])
    return (resident - shared if anonymous else resident) * PAGE


def compare(cases, repeats, device):
    """Best time and peak memory of each case.

    One run of each case measures its peak memory (with the sampling thread,
    which would disturb the timings); then ``repeats`` timed runs alternate
    between the cases, in reverse order every other repeat.

    Parameters
    ----------
    cases : dict of str -> callable
    repeats : int
    device : torch.device

    Returns
    -------
    dict of str -> (seconds, peak bytes)
    """
    peak = {}
    for name, case in cases.items():
        with PeakMemory(device) as memory:
            case()
            sync(device)
        peak[name] = memory.peak
    best = dict.fromkeys(cases, float("inf"))
    names = list(cases)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            cases[name]()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (best[name], peak[name]) for name in cases}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def data(n, d, dtype, seed=0):
    """Unit-norm rows: every similarity and reference sees the same data."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, d), dtype=dtype)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), d), dtype=dtype)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        X[start : start + len(block)] = block
    return X


def fitted(similarity, A, device):
    anchors = np.arange(len(A))
    rel = RelativeTransformer(anchors=anchors, similarity=similarity, device=device)
    return rel.fit(A)


class Table:
    """Rows printed as a markdown table, kept for the JSON dump."""

    def __init__(self, title, columns):
        self.title, self.columns, self.rows = title, columns, []
        print(f"\n### {title}\n", flush=True)
        print("| " + " | ".join(columns) + " |")
        print("|" + "|".join("---" for _ in columns) + "|", flush=True)

    def add(self, *values):
        cells = [format_cell(v) for v in values]
        self.rows.append(list(values))
        print("| " + " | ".join(cells) + " |", flush=True)


def format_cell(value):
    if isinstance(value, float):
        return f"{value:.3g}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def grid(args, quick, full):
    """The shapes a section runs: quick, full, or only the target shape."""
    if args.target:
        return [TARGET]
    return quick if args.quick else full


def shape_label(n, d, k, dtype):
    return f"{n:,} x {d} -> {k} {dtype}"


def bench_gemm(args, device):
    """cosine / dot / euclidean transform against the GEMM floor and sklearn."""
    table = Table(
        "cosine / dot / euclidean transform (numpy in and out) vs the GEMM floor",
        [
            "shape",
            "similarity",
            "sklatent s",
            "floor s",
            "x floor",
            "x torch.mm",
            "sklearn s",
            "x sklearn",
            "sklatent MB",
            "floor MB",
            "sklearn MB",
            "output MB",
        ],
    )
    references = {
        "cosine": cosine_similarity,
        "dot": linear_kernel,
        "euclidean": euclidean_distances,
    }
    for shape in grid(args, QUICK_GEMM, FULL_GEMM):
        _gemm_shape(args, device, table, references, *shape)
    return table


def _gemm_shape(args, device, table, references, n, d, k, dtype):
    on_cpu = device.type == "cpu"
    X = data(n, d, dtype)
    A = X[:k].copy()
    X_t = torch.from_numpy(X).to(device)
    A_t = X_t[:k].clone()
    cases = {"floor torch.mm": lambda: torch.mm(X_t, A_t.T)}
    if on_cpu:
        cases["floor numpy @"] = lambda: X @ A.T
    for similarity, reference in references.items():
        rel = fitted(similarity, A, args.device)
        cases[similarity] = lambda rel=rel: rel.transform(X)
        if on_cpu:
            cases[f"sklearn {similarity}"] = lambda f=reference: f(X, A)
        else:
            cases[f"{similarity} tensor"] = lambda rel=rel: rel.transform(X_t)
    result = compare(cases, args.repeats, device)
    floor_name = min(
        (name for name in result if name.startswith("floor")),
        key=lambda name: result[name][0],
    )
    floor_s, floor_peak = result[floor_name]
    label = shape_label(n, d, k, dtype)
    variants = [(s, s, f"sklearn {s}") for s in references]
    if not on_cpu:
        variants += [(f"{s}, tensor in/out", f"{s} tensor", None) for s in references]
    for name, case, reference in variants:
        seconds, peak = result[case]
        sk_s, sk_peak = result.get(reference, (float("nan"), float("nan")))
        table.add(
            label,
            name,
            seconds,
            floor_s,
            seconds / floor_s,
            seconds / result["floor torch.mm"][0],
            sk_s,
            seconds / sk_s,
            peak / MB,
            floor_peak / MB,
            sk_peak / MB,
            n * k * X.itemsize / MB,
        )
    others = {name: round(t, 3) for name, (t, _) in result.items()}
    print(f"<!-- floor: {floor_name}; all times: {others} -->", flush=True)


def slice_rows(rate, d, k, target_seconds, n):
    """Rows a reference at ``rate`` pair-dimensions/s runs in ``target_seconds``."""
    return int(min(n, max(64, target_seconds * rate / (d * k))))


def bench_distance(args, device):
    """L1 / L-infinity transform against torch.cdist and scipy's cdist."""
    table = Table(
        "L1 / L-infinity transform (numpy in and out) vs torch.cdist and scipy",
        [
            "shape",
            "similarity",
            "sklatent s",
            "G pair-dims/s",
            "torch.cdist s",
            "cdist slice",
            "x faster than torch.cdist",
            "scipy s",
            "scipy slice",
            "x faster than scipy",
            "sklatent MB",
            "output MB",
        ],
    )
    for shape in grid(args, QUICK_DISTANCE, FULL_DISTANCE):
        _distance_shape(args, device, table, *shape)
    return table


def _distance_shape(args, device, table, n, d, k, dtype):
    target = 0.3 if args.quick else 2.0
    on_cpu = device.type == "cpu"
    X = data(n, d, dtype)
    A = X[:k].copy()
    X_t = torch.from_numpy(X).to(device)
    A_t = X_t[:k].clone()
    for similarity, p, metric in [
        ("l1", 1, "cityblock"),
        ("linf", float("inf"), "chebyshev"),
    ]:
        rel = fitted(similarity, A, args.device)
        _fused.warm_up(p, X_t.dtype, device)  # compile outside the timings
        m_torch = slice_rows(1.5e9 if on_cpu else 1e12, d, k, target, n)
        m_scipy = slice_rows(1e9, d, k, target, n) if on_cpu else 0
        cases = {
            "sklatent": lambda rel=rel: rel.transform(X),
            "torch.cdist": lambda m=m_torch, p=p: torch.cdist(X_t[:m], A_t, p=p),
        }
        if on_cpu:
            cases["scipy"] = lambda m=m_scipy, metric=metric: scipy_cdist(
                X[:m], A, metric
            )
        else:  # the kernels alone, without the host transfers
            cases["tensor"] = lambda rel=rel: rel.transform(X_t)
        result = compare(cases, args.repeats, device)
        torch_s = result["torch.cdist"][0] * n / m_torch
        scipy_s = result["scipy"][0] * n / m_scipy if on_cpu else float("nan")
        variants = [(similarity, "sklatent")]
        if not on_cpu:
            variants.append((f"{similarity}, tensor in/out", "tensor"))
        for name, case in variants:
            seconds, peak = result[case]
            table.add(
                shape_label(n, d, k, dtype),
                name,
                seconds,
                n * d * k / seconds / 1e9,
                torch_s,
                f"{m_torch:,}",
                torch_s / seconds,
                scipy_s,
                f"{m_scipy:,}" if on_cpu else "-",
                scipy_s / seconds,
                peak / MB,
                n * k * X.itemsize / MB,
            )


def bench_scaling(args, device):
    """Time per row of the cosine and L1 transforms as n grows."""
    table = Table(
        "scaling in n (768 -> 1024, float32, numpy in and out)",
        ["n", "similarity", "seconds", "us per row", "x per-row time at largest n"],
    )
    sizes = QUICK_SCALING if args.quick else FULL_SCALING
    X_all = data(sizes[-1], 768, "float32")
    A = X_all[:1024].copy()
    _fused.warm_up(1, torch.float32, device)
    for similarity in ["cosine", "l1"]:
        rel = fitted(similarity, A, args.device)
        rel.transform(X_all[:2048])
        per_row = {}
        for n in sizes:
            X = X_all[:n]
            repeats = args.repeats if n < 100_000 else 2
            seconds = compare({"t": lambda X=X, r=rel: r.transform(X)}, repeats, device)
            per_row[n] = seconds["t"][0] / n
        for n in sizes:
            table.add(
                n,
                similarity,
                per_row[n] * n,
                per_row[n] * 1e6,
                per_row[n] / per_row[sizes[-1]],
            )
    return table


MEMMAP_CHILD = """
import json, sys, tempfile, time, threading
import numpy as np
sys.path[:0] = [{here!r}, {root!r}]
from run import PeakMemory, rss
import torch
from sklatent import RelativeTransformer

n, d, k, batch_size, folder = {n}, {d}, {k}, {batch_size}, {folder!r}
rng = np.random.default_rng(0)
X = np.memmap(folder + "/X.f32", dtype=np.float32, mode="w+", shape=(n, d))
for start in range(0, n, 100_000):
    X[start:start + 100_000] = rng.standard_normal(
        (min(100_000, n - start), d), dtype=np.float32)
X.flush()
del X
X = np.memmap(folder + "/X.f32", dtype=np.float32, mode="r", shape=(n, d))
rel = RelativeTransformer(anchors=np.arange(k), batch_size=batch_size).fit(X[:k])
out = np.memmap(folder + "/R.f32", dtype=np.float32, mode="w+", shape=(n, k))


class Anonymous(PeakMemory):
    def _sample(self):
        while not self._stop.wait(0.002):
            self._high = max(self._high, rss(anonymous=True))

    def __enter__(self):
        super().__enter__()
        self._base = self._high = rss(anonymous=True)
        return self

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.peak = max(self._high, rss(anonymous=True)) - self._base


result = {{}}
device = torch.device("cpu")
for name, target in [("out= memmap", out), ("in RAM", None)]:
    with PeakMemory(device) as total, Anonymous(device) as anon:
        start = time.perf_counter()
        R = rel.transform(X, out=target)
        seconds = time.perf_counter() - start
    if target is not None:
        out.flush()
    result[name] = dict(seconds=seconds, total=total.peak, anonymous=anon.peak)
    del R
print(json.dumps(result))
"""


def bench_memmap(args, device):
    """Peak RSS of a memmap-to-memmap transform, in a child process."""
    n = 200_000 if args.quick else 2_000_000
    d, k, batch_size = 768, 256, 4096
    table = Table(
        f"memory: {n:,} x {d} float32 np.memmap -> {k} anchors, "
        f"batch_size={batch_size} (child process)",
        [
            "output",
            "seconds",
            "peak RSS rise MB",
            "peak anonymous RSS rise MB",
            "output MB",
            "one batch MB",
        ],
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        code = MEMMAP_CHILD.format(
            here=str(HERE),
            root=str(ROOT),
            n=n,
            d=d,
            k=k,
            batch_size=batch_size,
            folder=folder,
        )
        completed = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
    if completed.returncode != 0:
        print(completed.stderr[-3000:])
        return table
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    batch = batch_size * (d + 3 * k) * 4
    for name, figures in result.items():
        table.add(
            name,
            figures["seconds"],
            figures["total"] / MB,
            figures["anonymous"] / MB,
            n * k * 4 / MB,
            batch / MB,
        )
    print(
        "\nThe RSS counts pages of the mapped files (input and output) that the "
        "kernel keeps cached and may drop at any time; the anonymous RSS is the "
        "memory the process itself holds."
    )
    return table


COMPILE_CHILD = """
import json, sys, time, torch
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from sklatent._kernels import fused as _fused
device = torch.device({device!r})
X = torch.randn(2048, 768, device=device)
A = torch.randn(1024, 768, device=device)
result = {{"import": time.perf_counter() - t0}}
for name, p in [("l1", 1), ("linf", float("inf"))]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        _fused.compiled_distance(X, A, p)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    result[name] = times[0] - min(times[1:])
print(json.dumps(result))
"""


FIRST_CALL_CHILD = """
import json, sys, time, numpy as np, torch
sys.path.insert(0, {root!r})
from sklatent import RelativeTransformer
from sklatent._kernels import fused as _fused
n, d, k, p = {n}, 768, 1000, float("{p}")
X = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
X_t = torch.from_numpy(X)
rel = RelativeTransformer(
    anchors=np.arange(k), similarity={similarity!r}, device={device!r}
).fit(X[:k])
A_t = torch.from_numpy(rel.anchors_).to({device!r})
X_d = X_t.to({device!r})


def seconds(function):
    start = time.perf_counter()
    function()
    if X_d.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


result = {{"cdist": seconds(lambda: torch.cdist(X_d, A_t, p=p))}}
result["first"] = seconds(lambda: rel.transform(X))
result["second"] = seconds(lambda: rel.transform(X))
result["later"] = min(seconds(lambda: rel.transform(X)) for _ in range(2))
print(json.dumps(result))
"""


def bench_first_call(args, device):
    """First L1 / L-infinity transform in a fresh process, empty inductor cache."""
    n = 5_000 if args.quick else 20_000
    table = Table(
        f"first transform in a fresh process, empty inductor cache: {n:,} x 768 "
        f"-> 1,000 float32 on {device.type}",
        [
            "similarity",
            "torch.cdist s",
            "first transform s",
            "x torch.cdist",
            "second transform s",
            "later transform s",
            "later x faster than torch.cdist",
        ],
    )
    for similarity, p in [("l1", 1), ("linf", float("inf"))]:
        with tempfile.TemporaryDirectory(dir=args.tmp) as cache:
            env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
            env.pop(_fused.DISABLE_ENV, None)
            code = FIRST_CALL_CHILD.format(
                root=str(ROOT), n=n, p=p, similarity=similarity, device=str(device)
            )
            completed = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
        if completed.returncode != 0:
            print(completed.stderr[-3000:])
            continue
        r = json.loads(completed.stdout.strip().splitlines()[-1])
        table.add(
            similarity,
            r["cdist"],
            r["first"],
            r["first"] / r["cdist"],
            r["second"],
            r["later"],
            r["cdist"] / r["later"],
        )
    print(
        "\nCalls are served by torch.cdist until COMPILE_AFTER_WORK pair-"
        "dimensions were seen; the next call compiles the fused kernel in the "
        "caller's thread (no background thread) and uses it, as do later calls."
    )
    return table


def bench_compile(args, device):
    """First-call compile cost, in fresh processes, cold and warm inductor cache."""
    table = Table(
        f"first-call compile cost of the fused kernels on {device.type} "
        "(fresh process, float32)",
        ["inductor cache", "L1 s", "L-infinity s"],
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as cache:
        if args.quick:  # an empty cache costs ~15 s of compiling: skip it
            runs = [("the user's (warm after a first run)", None)]
        else:
            runs = [("empty (first ever)", cache), ("warm (later processes)", cache)]
        for label, folder in runs:
            env = dict(os.environ)
            env.pop(_fused.DISABLE_ENV, None)
            if folder is not None:
                env["TORCHINDUCTOR_CACHE_DIR"] = folder
            code = COMPILE_CHILD.format(device=str(device), root=str(ROOT))
            completed = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if completed.returncode != 0:
                print(completed.stderr[-3000:])
                continue
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            table.add(label, result["l1"], result["linf"])
    print(
        "\nThe first L1 call also imports dynamo and inductor; L-infinity, "
        "compiled second, shows the cost of one more kernel."
    )
    return table


def bench_translation(args, device):
    """LatentTranslator: benchmarks/bench_translation.py, as its own script."""
    script = HERE / "bench_translation.py"
    if not script.exists():
        print("\nbenchmarks/bench_translation.py is absent: translation skipped.")
        return None
    print("\n### LatentTranslator (benchmarks/bench_translation.py)\n\n```")
    argv = ["--device", str(device), "--repeats", str(args.repeats)]
    subprocess.run(
        [sys.executable, str(script), *(["--quick"] if args.quick else []), *argv],
        check=False,
    )
    print("```")
    return None


def machine(args):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "device": args.device
        + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "mode": "quick" if args.quick else "full",
        "repeats": args.repeats,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid, < 2 min")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (2)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and BLAS threads"
    )
    parser.add_argument(
        "--target",
        action="store_true",
        help=f"gemm and distance sections on the target shape {TARGET} only",
    )
    parser.add_argument("--json", default=None, help="also write results here")
    parser.add_argument("--tmp", default=None, help="folder for temporary files")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 2
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {SECTIONS}")
    if args.threads is not None:
        # The user's choice for this script, as docs/performance.md explains.
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but CUDA is not available")

    info = machine(args)
    print("## sklatent benchmarks\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    started = time.perf_counter()
    tables = []
    for section in sections:
        if section == "memmap" and device.type != "cpu":
            continue
        table = globals()[f"bench_{section}"](args, device)
        if table is not None:
            tables.append(table)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; load average at the end {load}"
    )
    if args.json:
        payload = {
            "machine": info,
            "tables": [
                {"title": t.title, "columns": t.columns, "rows": t.rows} for t in tables
            ],
        }
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
