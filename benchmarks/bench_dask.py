"""RelativeTransformer.transform on a dask cluster against the in-process memmap path.

A ``--rows`` x 768 float32 dask array (10,000,000 rows by default, about
30 GB, generated lazily block by block and never held in memory) is projected
onto 256 anchors by a ``LocalCluster`` of ``--workers`` processes with one
thread each, and written to disk as one ``.npy`` file per row block
(``dask.array.to_npy_stack``; 10 GB of output for 10M rows), then deleted.

Two comparisons:

1. *Same input* (``--compare-rows`` rows, default 200,000): the rows are first
   written to a ``.npy`` file; the reference maps it and runs
   ``RelativeTransformer.transform(X_memmap, out=out_memmap)`` in this process
   (torch on as many threads as there are workers); the cluster reads the same
   file block by block (each worker maps it) and writes ``.npy`` blocks. The
   ratio of rows/s (cluster / memmap) is reported, best of ``--repeats``,
   alternating.
2. *Scale*: the lazily generated array of ``--rows`` rows, end to end
   (generation, projection, writing), in rows/s; and each worker's peak
   resident memory, which depends on the block size and not on the rows
   (give two ``--rows``; each runs on fresh workers).

On a real cluster the same code runs with ``--address tcp://scheduler:8786``
(``distributed.Client(address)``) and an output directory that every worker
can write, such as a shared file system.

    python benchmarks/bench_dask.py --rows 10000000
    python benchmarks/bench_dask.py --rows 200000 400000 --compare-rows 200000
"""

import argparse
import contextlib
import shutil
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import torch
from distributed import Client, LocalCluster

from sklatent import RelativeTransformer

DIM = 768


def _generate(block_id, block_info=None):
    """One block of the lazy input: seeded by its position, float32."""
    location = block_info[None]["array-location"][0]
    rng = np.random.default_rng(location[0])
    rows = location[1] - location[0]
    return (rng.standard_normal((rows, DIM), dtype=np.float32) + 0.5).astype(np.float32)


def lazy_rows(n_rows, chunk):
    """A lazily generated (n_rows, 768) float32 dask array."""
    chunks = (
        (chunk,) * (n_rows // chunk) + ((n_rows % chunk,) if n_rows % chunk else ()),
        (DIM,),
    )
    return da.map_blocks(
        _generate, dtype=np.float32, chunks=chunks, meta=np.empty((0, 0), np.float32)
    )


def _read(path, block_info=None):
    start, stop = block_info[None]["array-location"][0]
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def rows_from_file(path, n_rows, chunk):
    """A dask array over a ``.npy`` file, each worker mapping it itself."""
    base = lazy_rows(n_rows, chunk)
    return da.map_blocks(
        _read,
        str(path),
        dtype=np.float32,
        chunks=base.chunks,
        meta=np.empty((0, 0), np.float32),
    )


def peak_memory(client):
    """Peak resident memory (MiB) of each worker process since it started.

    ``VmHWM`` of ``/proc/self/status`` (Linux), the high-water mark of this
    process's own memory map; ``ru_maxrss`` would include the parent's
    resident set at the time the worker process was forked.
    """

    def peak():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    return sorted(client.run(peak).values())


def run_cluster(model, X, out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    start = time.perf_counter()
    da.to_npy_stack(out_dir, model.transform(X), axis=0)
    return time.perf_counter() - start


@contextlib.contextmanager
def connect(args):
    """A client of ``--address``, or of a new LocalCluster (fresh workers)."""
    if args.address:
        with Client(args.address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def compare(args, model, work):
    """Rows/s of the in-process memmap path and of the cluster, same input."""
    n = args.compare_rows
    source = work / "X.npy"
    X_file = np.lib.format.open_memmap(source, "w+", np.float32, (n, DIM))
    with dask.config.set(scheduler="sync"):
        da.store(lazy_rows(n, args.chunk), X_file)
    X_file.flush()
    X_mm = np.load(source, mmap_mode="r")
    torch.set_num_threads(args.workers)
    memmap_times, cluster_times = [], []
    with connect(args) as client:
        client.wait_for_workers(args.workers)
        for _ in range(args.repeats):
            out = np.lib.format.open_memmap(
                work / "out.npy", "w+", np.float32, (n, args.anchors)
            )
            start = time.perf_counter()
            model.transform(X_mm, out=out)
            out.flush()
            memmap_times.append(time.perf_counter() - start)
            del out
            X = rows_from_file(source, n, args.chunk)
            cluster_times.append(run_cluster(model, X, work / "o"))
    memmap_rate, cluster_rate = n / min(memmap_times), n / min(cluster_times)
    print(
        f"same input, {n} rows: memmap {memmap_rate:,.0f} rows/s, "
        f"cluster {cluster_rate:,.0f} rows/s, ratio {cluster_rate / memmap_rate:.2f}"
    )
    blocks = sorted((work / "o").glob("*.npy"), key=lambda p: int(p.stem))
    written = np.concatenate([np.load(p) for p in blocks])
    np.testing.assert_allclose(written, np.load(work / "out.npy"), atol=1e-5)


def scale(args, model, work, n_rows):
    """Rows/s and worker peak memory for a lazily generated input, end to end."""
    with connect(args) as client:
        client.wait_for_workers(args.workers)
        seconds = run_cluster(model, lazy_rows(n_rows, args.chunk), work / "o")
        memory = peak_memory(client)
    size = sum(p.stat().st_size for p in (work / "o").glob("*.npy")) / 2**30
    shutil.rmtree(work / "o")
    print(
        f"lazy input, {n_rows} rows: {n_rows / seconds:,.0f} rows/s "
        f"({seconds:.1f} s, {size:.2f} GiB written); worker peak memory "
        f"{', '.join(f'{m:.0f}' for m in memory)} MiB"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--compare-rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=25_000)
    parser.add_argument("--anchors", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--address", default=None, help="an existing scheduler")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sklatent-bench-dask-", dir=args.dir))
    try:
        with dask.config.set(scheduler="sync"):
            sample = lazy_rows(20_000, 20_000).compute()
        model = RelativeTransformer(n_anchors=args.anchors, random_state=0).fit(sample)
        print(
            f"{args.workers} workers x 1 thread; blocks of {args.chunk} rows; "
            f"{DIM} -> {args.anchors} cosine"
        )
        if args.compare_rows:
            compare(args, model, work)
        for n_rows in args.rows:
            scale(args, model, work, n_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
