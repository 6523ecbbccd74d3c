"""New-model vectors of some stored rows, written instead of their translations."""

import numpy as np


def reembedded_rows(bridge, reembedded):
    """``({id: row}, vectors)`` of the re-embedded vectors, checked; empty for None."""
    if reembedded is None:
        return {}, np.zeros((0, bridge.new_width_), dtype=np.float32)
    if bridge.direction != "old-to-new":
        raise ValueError(
            "re-embedded vectors replace translations of stored rows: they need "
            "an old-to-new bridge"
        )
    ids, vectors = reembedded
    vectors = np.asarray(vectors, dtype=np.float32)
    if (
        vectors.ndim != 2
        or vectors.shape[1] != bridge.new_width_
        or (len(vectors) != len(ids))
    ):
        raise ValueError(
            f"the re-embedded vectors must be {bridge.new_width_}-d new-model "
            f"vectors, one per id; got shape {vectors.shape} for {len(ids)} ids"
        )
    position = {}
    for i, key in enumerate(ids):
        key = key.item() if isinstance(key, np.generic) else key
        if key in position:
            raise ValueError(f"the re-embedded vectors repeat the id {key!r}")
        position[key] = i
    return position, vectors
