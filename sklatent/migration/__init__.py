"""Embedding migration: bridge a store embedded by an old model to a new model.

A team with a store embedded by an *old* model switches to a *new* one. It
re-embeds a few thousand items with both (the *pairs*), fits a
:class:`MigrationBridge` on them, and either translates the store into the
new space (``direction="old-to-new"``, the corpus side) or translates the new
model's queries into the old space (``direction="new-to-old"``, the query
side: no rewrite of the store).

The figure that matters is **retention@10**: for new-model queries, the
overlap of the 10 nearest stored items found through the bridge with the 10
found in the store re-embedded by the new model. :func:`fit_bridge` holds out
part of the pairs, measures retention on them, estimates it at the size of
the real store (see :func:`estimate_retention` for what the estimate is and
its limits), compares with a bridge fitted on shuffled pairs, and returns a
report, and calibrates the bridge's cosines onto the new model's scale on the
held-out pairs (:meth:`MigrationBridge.calibrate_scores`,
:func:`score_agreement`); :func:`pairs_curve` shows how retention grows with
the pairs.
:func:`read_vectors` and :func:`read_pairs` read ``.npy`` and parquet stores,
:func:`apply_bridge` translates a whole store in bounded memory, atomically,
:func:`export_faiss` writes the bridge as a FAISS transform, and
:func:`check_store` says which rows of a store look like either space, by the
check the bridge keeps (:func:`fit_space_check`). Bridges
are saved and loaded with skops (:func:`save_bridge`, :func:`load_bridge`).
In a vector store named by a URI (:func:`parse_store_uri`, :func:`open_store`:
``lancedb://DIR/TABLE?column=vector``, ``qdrant://DIR/COLLECTION``,
``chroma://DIR/COLLECTION``, ``faiss://FILE``),
:func:`apply_to_store` writes the
translated vectors into a stamped shadow column, resumably;
:func:`store_status`, :func:`cutover_store` and :func:`rollback_store` follow
and switch it, :func:`finalize_store` deletes the old vectors after a cutover
(so the store can be migrated again), :func:`check_vector_store` finds the
rows of either space in its served column, and :func:`search_store` searches
it with new-model queries, refusing hits of the other space.
``sklatent migrate`` is the command line over these functions.
"""

from .._translation_solve import gcv_alpha
from ._bridge import DIRECTIONS, METHODS, MigrationBridge
from ._chroma_store import ChromaStore
from ._faiss_store import FaissStore
from ._fitting import (
    DEFAULT_STORE_SIZE,
    fit_bridge,
    measure_bridge,
    pairs_curve,
    score_agreement,
)
from ._lancedb_store import LanceDBStore
from ._plan import plan_reembedding, predicted_errors
from ._qdrant_store import QdrantStore
from ._regions import RegionalTranslator
from ._retention import bridge_retention, estimate_retention, retention_at_k
from ._shadow import (
    apply_to_store,
    bridge_stamp,
    cutover_store,
    finalize_store,
    open_store,
    rollback_store,
    shadow_missing,
    store_status,
)
from ._spaces import (
    check_store,
    check_vector_store,
    fit_space_check,
    search_store,
)
from ._stores import (
    apply_bridge,
    count_rows,
    export_faiss,
    is_parquet,
    load_bridge,
    read_pairs,
    read_vectors,
    save_bridge,
)
from ._vector_stores import VectorStore, parse_store_uri

__all__ = [
    "ChromaStore",
    "DEFAULT_STORE_SIZE",
    "DIRECTIONS",
    "METHODS",
    "FaissStore",
    "LanceDBStore",
    "MigrationBridge",
    "QdrantStore",
    "RegionalTranslator",
    "VectorStore",
    "apply_bridge",
    "apply_to_store",
    "bridge_stamp",
    "bridge_retention",
    "check_store",
    "check_vector_store",
    "count_rows",
    "cutover_store",
    "estimate_retention",
    "export_faiss",
    "finalize_store",
    "fit_bridge",
    "fit_space_check",
    "gcv_alpha",
    "is_parquet",
    "load_bridge",
    "measure_bridge",
    "open_store",
    "pairs_curve",
    "parse_store_uri",
    "plan_reembedding",
    "predicted_errors",
    "read_pairs",
    "read_vectors",
    "retention_at_k",
    "rollback_store",
    "save_bridge",
    "score_agreement",
    "search_store",
    "shadow_missing",
    "store_status",
]
