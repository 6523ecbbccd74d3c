"""``migrate apply --store`` on a LanceDB table, a Qdrant or a Chroma collection
or a FAISS index file: speed against the store's own rewrite, anonymous memory,
and the kill -9 check.

A table (``--store lancedb``), a collection served through an alias
(``--store qdrant``, local mode), a collection of
``chromadb.PersistentClient`` (``--store chroma``, cosine; the ids strings)
or an ``IndexIDMap2`` over an
``IndexFlatIP`` (``--store faiss``; ``--faiss-index hnsw``: over an
``IndexHNSWFlat``, M=32; ``ivf``: an ``IndexIVFFlat`` of 256 lists; the ids
a permutation of the rows) of
``--rows`` x 384 float32 vectors (and int64 ids) is created in a temporary
folder; an affine bridge (384 -> 384,
fitted on 2,000 synthetic pairs) writes its shadow with
:func:`sklatent.migration.apply_to_store`. Measured against references on the
same store, each timed once in the same process (the order alternates
between repeats):

- **rewrite**: the column read and written back into the shadow through the
  same resumable path (``VectorStore.fill``; for LanceDB staged batches, a
  data file and a commit a fragment; for Qdrant and Chroma an upsert a batch,
  each record copied whole into the shadow collection; for FAISS
  a memory-mapped partial index, flushed a batch) with no translation: the
  store reading and rewriting the column, the floor of any batched,
  resumable rewrite;
- **native copy** (LanceDB): ``table.add_columns({"copy": "vector"})``,
  LanceDB copying the column inside its engine in one commit (not resumable,
  no translation possible; the floor of any rewrite at all); (FAISS):
  ``faiss.read_index`` then ``faiss.write_index`` of the whole index, in
  memory.

The anonymous memory (``RssAnon`` of ``/proc/self/status``, sampled every
10 ms) is reported as its peak rise during ``apply_to_store``. With
``--kill-check`` a child process runs ``apply_to_store`` and is killed with
SIGKILL after about half the batches; the rerun must write exactly the rest,
every row must equal ``bridge.transform`` of its old vector to 1e-5 and
appear once, and a cutover then a rollback must give the old column back bit
for bit (for FAISS, the index file's bytes too).

    OMP_NUM_THREADS=1 python benchmarks/bench_vector_store.py --rows 100000
    OMP_NUM_THREADS=1 python benchmarks/bench_vector_store.py --rows 100000 \\
        --kill-check
    OMP_NUM_THREADS=1 python benchmarks/bench_vector_store.py --store qdrant \\
        --rows 100000 --repeats 0 --kill-check
    OMP_NUM_THREADS=1 python benchmarks/bench_vector_store.py --store faiss \
        --rows 100000 --repeats 3 --kill-check
    OMP_NUM_THREADS=1 python benchmarks/bench_vector_store.py --store chroma \
        --rows 100000 --repeats 1 --kill-check --dir /dev/shm
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

D = 384


def _anon_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class AnonPeak:
    """The peak rise of anonymous memory while the block runs (MB)."""

    def __enter__(self):
        self.start = self.peak = _anon_mb()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, _anon_mb())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.rise = self.peak - self.start


def _old_vectors(n, seed=0, chunk=50_000):
    """``(start, X)`` chunks of the store's old vectors."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        yield start, (rng.standard_normal((m, D)) + 3.0).astype(np.float32)


def make_qdrant(path, n):
    """Collection ``docs_v1`` (vector ``vector``) served through the alias ``docs``."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=path)
    client.create_collection(
        "docs_v1",
        vectors_config={"vector": models.VectorParams(size=D, distance="Cosine")},
    )
    for start, X in _old_vectors(n, chunk=1000):
        client.upsert(
            "docs_v1",
            [
                models.PointStruct(id=start + i, vector={"vector": x.tolist()})
                for i, x in enumerate(X)
            ],
        )
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(
                    collection_name="docs_v1", alias_name="docs"
                )
            )
        ]
    )
    client.close()
    return f"qdrant://{path}/docs?vector=vector"


def make_faiss(path, n, kind="flat"):
    """An ``IndexIDMap2`` over an ``IndexFlatIP`` or an ``IndexHNSWFlat`` (M=32),
    or an ``IndexIVFFlat`` (256 lists, nprobe 16); inner product, the ids a
    permutation of the rows."""
    import faiss

    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(D), D, 256, ip)
        index.nprobe = 16
    else:
        inner = (
            faiss.IndexFlatIP(D) if kind == "flat" else faiss.IndexHNSWFlat(D, 32, ip)
        )
        index = faiss.IndexIDMap2(inner)
    ids = np.random.default_rng(2).permutation(n).astype(np.int64)
    for start, X in _old_vectors(n):
        if not index.is_trained:
            index.train(X)
        index.add_with_ids(X, ids[start : start + len(X)])
    os.makedirs(path)
    faiss.write_index(index, os.path.join(path, "docs.faiss"))
    return f"faiss://{path}/docs.faiss"


def make_chroma(path, n):
    """Collection ``docs`` (cosine), ids ``"0"``, ``"1"``, ..."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=path, settings=Settings(anonymized_telemetry=False)
    )
    collection = client.create_collection(
        "docs", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    for start, X in _old_vectors(n, chunk=client.get_max_batch_size()):
        collection.add(ids=[str(start + i) for i in range(len(X))], embeddings=X)
    return f"chroma://{path}/docs"


def make_table(path, n):
    import lancedb
    import pyarrow as pa

    schema = pa.schema(
        [pa.field("id", pa.int64()), pa.field("vector", pa.list_(pa.float32(), D))]
    )

    def batches():
        for start, X in _old_vectors(n):
            yield pa.RecordBatch.from_pydict(
                {
                    "id": np.arange(start, start + len(X)),
                    "vector": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), D),
                },
                schema=schema,
            )

    db = lancedb.connect(path)
    db.create_table("docs", pa.RecordBatchReader.from_batches(schema, batches()))
    return f"lancedb://{path}/docs?column=vector"


def fit_bridge():
    from sklatent.migration import MigrationBridge

    rng = np.random.default_rng(1)
    X = (rng.standard_normal((2000, D)) + 3.0).astype(np.float32)
    W = rng.standard_normal((D, D)) / np.sqrt(D)
    Y = (X @ W + 0.1 * rng.standard_normal((2000, D)) - 1.0).astype(np.float32)
    return MigrationBridge(method="affine", target_name="bench-new").fit(X, Y)


def rewrite(uri, batch_size):
    """The same resumable read and write, no translation (the reference)."""
    from sklatent.migration import open_store

    store = open_store(uri)
    shadow, stamp = store.column + "__shadow", store.column + "__shadow__stamp"
    store.add_columns({shadow: D, stamp: None})
    store.fill(
        store.column,
        shadow,
        lambda X: {shadow: X, stamp: [""] * len(X)},
        key="rewrite",
        batch_size=batch_size,
    )
    drop_shadow(store)


def native_copy(uri):
    from sklatent.migration import open_store

    store = open_store(uri)
    if store.uri.scheme == "faiss":
        import faiss

        faiss.write_index(faiss.read_index(store.file), store.file + ".copy")
        os.unlink(store.file + ".copy")
        return
    store.table.add_columns({"copy": "vector"})
    store.table.drop_columns(["copy"])


def drop_shadow(store):
    from sklatent.migration import open_store

    store = open_store(store)
    if store.uri.scheme in ("qdrant", "chroma"):
        store.drop([store.column + "__shadow", store.column + "__shadow__stamp"])
    elif store.uri.scheme == "faiss":
        for name in (".shadow", ".shadow.stamps.json"):
            os.unlink(store.file + name)
    else:
        store.table.drop_columns(["vector__shadow", "vector__shadow__stamp"])


def check_rows(uri, bridge, n):
    """Every row once, its shadow equal to bridge.transform of its vector."""
    from sklatent.migration import open_store

    store = open_store(uri)
    seen, worst = 0, 0.0
    ids = np.zeros(n, dtype=bool)
    old, shadow = store.column, store.column + "__shadow"
    for batch in store.read_batches([store.id_column, old, shadow]):
        key = np.asarray(batch[store.id_column]).astype(np.int64)
        assert not ids[key].any(), "a row appears twice"
        ids[key] = True
        Z = bridge.transform(np.asarray(batch[old]))
        worst = max(worst, float(np.abs(Z - batch[shadow]).max()))
        seen += len(key)
    assert seen == n and ids.all(), f"{seen} rows of {n}"
    assert worst <= 1e-5, f"largest difference {worst}"
    return worst


KILL_SCRIPT = """
import os, signal, sys
from sklatent.migration import apply_to_store, load_bridge
n, batch_size = int(sys.argv[3]), int(sys.argv[4])
done = [0]
def progress(rows):
    done[0] += rows
    if done[0] >= n // 2:
        os.kill(os.getpid(), signal.SIGKILL)
apply_to_store(load_bridge(sys.argv[1]), sys.argv[2], batch_size=batch_size,
               progress=progress)
"""


def digest(uri):
    """sha256 of the ids and the served column's bytes, in the table's order."""
    import hashlib

    from sklatent.migration import open_store

    store = open_store(uri)
    h = hashlib.sha256()
    for batch in store.read_batches([store.id_column, store.column]):
        h.update(np.asarray(batch[store.id_column]).astype(np.int64).tobytes())
        h.update(np.ascontiguousarray(batch[store.column]).tobytes())
    return h.hexdigest()


def file_digest(uri):
    """sha256 of a FAISS store's index file (None for the other stores)."""
    import hashlib

    from sklatent.migration import open_store

    store = open_store(uri)
    if store.uri.scheme != "faiss":
        return None
    h = hashlib.sha256()
    with open(store.file, "rb") as file:
        while chunk := file.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def kill_check(uri, bridge, n, batch_size, folder):
    from sklatent.migration import (
        apply_to_store,
        cutover_store,
        rollback_store,
        save_bridge,
        shadow_missing,
    )

    before, file_before = digest(uri), file_digest(uri)

    path = os.path.join(folder, "bridge.skops")
    save_bridge(bridge, path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    child = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, path, uri, str(n), str(batch_size)],
        env=env,
    )
    assert child.returncode == -signal.SIGKILL, child.returncode
    left = shadow_missing(uri)
    written = apply_to_store(bridge, uri, batch_size=batch_size)
    assert written == left, (written, left)
    worst = check_rows(uri, bridge, n)
    cutover_store(uri)
    rollback_store(uri)
    assert digest(uri) == before, "rollback did not restore the old column"
    assert file_digest(uri) == file_before, "rollback changed the index file"
    return {
        "killed_after": n - left,
        "rerun_wrote": written,
        "max_abs_diff": worst,
        "rollback_bit_for_bit": True,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", choices=("lancedb", "qdrant", "chroma", "faiss"), default="lancedb"
    )
    parser.add_argument(
        "--faiss-index",
        choices=("flat", "hnsw", "ivf"),
        default="flat",
        help="the FAISS store's index (--store faiss)",
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--batch-size", type=int, help="rows a batch (default: the engine's)"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--kill-check", action="store_true")
    parser.add_argument("--dir", help="where the table goes (default: a temp dir)")
    args = parser.parse_args(argv)
    from sklatent.migration import apply_to_store
    from sklatent.migration._shadow import STORES

    bridge = fit_bridge()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        t = time.perf_counter()
        make = {
            "lancedb": make_table,
            "qdrant": make_qdrant,
            "chroma": make_chroma,
            "faiss": make_faiss,
        }
        path = os.path.join(folder, "db")
        if args.store == "faiss":
            uri = make_faiss(path, args.rows, args.faiss_index)
        else:
            uri = make[args.store](path, args.rows)
        created = time.perf_counter() - t
        if args.batch_size is None:
            args.batch_size = STORES[args.store].default_batch_size
        order = ["apply", "rewrite", "native_copy"][
            : 2 if args.store in ("qdrant", "chroma") else 3
        ]
        times = {name: [] for name in order}
        anon = []
        for repeat in range(args.repeats):
            for name in order if repeat % 2 == 0 else order[::-1]:
                t = time.perf_counter()
                if name == "apply":
                    with AnonPeak() as peak:
                        apply_to_store(bridge, uri, batch_size=args.batch_size)
                    times[name].append(time.perf_counter() - t)
                    anon.append(peak.rise)
                    check_rows(uri, bridge, args.rows)
                    drop_shadow(uri)
                elif name == "rewrite":
                    rewrite(uri, args.batch_size)
                    times[name].append(time.perf_counter() - t)
                else:
                    native_copy(uri)
                    times[name].append(time.perf_counter() - t)
        result = {
            "store": args.store
            + ("" if args.faiss_index == "flat" else "-" + args.faiss_index),
            "rows": args.rows,
            "width": D,
            "batch_size": args.batch_size,
            "create_s": round(created, 2),
        }
        if args.repeats:
            best = {name: min(value) for name, value in times.items()}
            result.update(
                best_s={k: round(v, 2) for k, v in best.items()},
                all_s={k: [round(x, 2) for x in v] for k, v in times.items()},
                apply_rows_per_s=round(args.rows / best["apply"]),
                anon_peak_rise_mb=round(max(anon), 1),
                **{
                    f"speed_vs_{name}": round(best[name] / best["apply"], 2)
                    for name in order[1:]
                },
            )
        if args.kill_check:
            result["kill_check"] = kill_check(
                uri, bridge, args.rows, args.batch_size, folder
            )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
