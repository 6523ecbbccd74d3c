"""Synthetic old and new embedding spaces of one latent, for the migration tests."""

import numpy as np


def spaces(n, *, seed=0, d_old=32, d_new=24):
    """Old and new embeddings of ``n`` items: nonlinear, anisotropic, off-origin.

    Both are functions of one 16-d latent (fixed maps, whatever ``seed``);
    float32, the old space with three dead dimensions.
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 16))
    A = np.random.default_rng(101).normal(size=(16, d_old))
    B = np.random.default_rng(102).normal(size=(16, d_new))
    old = np.tanh(Z @ A) + 0.3 * rng.normal(size=(n, d_old)) + 5.0
    old[:, :3] = 1.0
    new = (Z @ B) * np.linspace(0.1, 3.0, d_new) + 0.5 * np.sin(Z @ B)
    new = new + 0.3 * rng.normal(size=(n, d_new)) - 2.0
    return old.astype(np.float32), new.astype(np.float32)


KILL_AFTER = """
import os, signal, sys
from sklatent.migration import apply_to_store, load_bridge
done = []
def kill(rows):
    done.append(rows)
    if len(done) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
apply_to_store(load_bridge(sys.argv[1]), sys.argv[2], batch_size=int(sys.argv[4]),
               progress=kill)
"""


def apply_killed(bridge_path, uri, *, batches, batch_size):
    """Run ``apply_to_store`` in a fresh interpreter killed with SIGKILL after
    ``batches`` batches; return its exit status."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    return subprocess.run(
        [sys.executable, "-c", KILL_AFTER, str(bridge_path), uri]
        + [str(batches), str(batch_size)],
        env={**os.environ, "PYTHONPATH": root},
    ).returncode


def stop_after(batches):
    """A ``progress`` callback that interrupts (Ctrl-C) after ``batches`` batches."""
    done = []

    def progress(rows):
        done.append(rows)
        if len(done) == batches:
            raise KeyboardInterrupt

    return progress


def lancedb_store(folder, ids, old):
    """A LanceDB table ``docs`` of rows ``ids`` (a text column, vectors ``old``):
    its URI."""
    import lancedb
    import pyarrow as pa

    lancedb.connect(folder).create_table(
        "docs",
        pa.table(
            {
                "id": ids,
                "text": [f"item {i}" for i in ids],
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(old.ravel()), old.shape[1]
                ),
            }
        ),
    )
    return f"lancedb://{folder}/docs?column=vector"


def qdrant_store(folder, ids, old):
    """A Qdrant collection ``docs_v1`` (vectors ``text``, ``old``, and ``img``; a
    title in the payload) served through the alias ``docs``: its URI."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(folder))
    client.create_collection(
        "docs_v1",
        vectors_config={
            "text": models.VectorParams(size=old.shape[1], distance="Cosine"),
            "img": models.VectorParams(size=2, distance="Dot"),
        },
    )
    client.upsert(
        "docs_v1",
        [
            models.PointStruct(
                id=int(i),
                vector={"text": x.tolist(), "img": [1.0, float(i)]},
                payload={"title": f"item {i}"},
            )
            for i, x in zip(ids, old, strict=True)
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
    return f"qdrant://{folder}/docs?vector=text"


def faiss_store(folder, ids, old, *, ivf=False):
    """A FAISS ``IndexIDMap2`` over an ``IndexFlatIP`` (``ivf``: an
    ``IndexIVFFlat`` of 4 lists) of rows ``ids`` (vectors ``old``) in
    ``folder/docs.faiss``: its URI."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    d = old.shape[1]
    if ivf:
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, 4)
        index.train(old)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    index.add_with_ids(old, np.asarray(ids, np.int64))
    faiss.write_index(index, str(folder / "docs.faiss"))
    return f"faiss://{folder}/docs.faiss"


def chroma_store(folder, ids, old):
    """A Chroma collection ``docs`` (cosine) of records ``ids`` (strings; the
    embeddings ``old``, a document and metadata each): its URI."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(folder), settings=Settings(anonymized_telemetry=False)
    )
    client.create_collection(
        "docs",
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"owner": "tests"},
    ).add(
        ids=list(ids),
        embeddings=old,
        documents=[f"item {i}" for i in ids],
        metadatas=[{"title": f"item {i}"} for i in ids],
    )
    return f"chroma://{folder}/docs"


def faiss_ivf_store(folder, ids, old):
    """:func:`faiss_store` of an ``IndexIVFFlat``."""
    return faiss_store(folder, ids, old, ivf=True)
