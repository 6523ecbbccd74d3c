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
report. :func:`apply_bridge` translates a whole ``.npy`` store in bounded
memory, atomically; :func:`check_store` says which rows of a store look like
either space.
"""

from .._translation_solve import gcv_alpha
from ._bridge import DIRECTIONS, METHODS, MigrationBridge
from ._fitting import fit_bridge, measure_bridge
from ._retention import bridge_retention, estimate_retention, retention_at_k
from ._stores import apply_bridge, check_store

__all__ = [
    "DIRECTIONS",
    "METHODS",
    "MigrationBridge",
    "apply_bridge",
    "bridge_retention",
    "check_store",
    "estimate_retention",
    "fit_bridge",
    "gcv_alpha",
    "measure_bridge",
    "retention_at_k",
]
