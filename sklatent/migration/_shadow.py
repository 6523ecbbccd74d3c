"""A vector store's migration: the shadow column, its status, cutover and rollback.

- :func:`apply_to_store` writes ``bridge.transform`` of the served column
  into a *shadow* column next to it (``vector__shadow``), a batch at a time
  and in bounded memory (:meth:`VectorStore.fill`; a LanceDB table takes a
  new data file a fragment): an interrupted run, even by ``kill -9``,
  continues on the next call with the rows still missing (no row missed or
  written twice). Every row carries
  a stamp (``vector__shadow__stamp``: the target model's name, the bridge's
  ``fingerprint_`` and the sklatent version, as JSON).
- :func:`store_status` says which column is served, by which model, and how
  much of the shadow is written.
- :func:`cutover_store` renames in one commit: the served column becomes
  ``vector__previous`` and the shadow the served one; it refuses a shadow
  not fully written. :func:`rollback_store` renames them back (the old
  vectors were never rewritten: they come back bit for bit).

Problems are one-line :class:`ValueError`\\ s.
"""

import collections
import json

from sklearn.utils.validation import check_is_fitted

from .. import _version
from ._chroma_store import ChromaStore
from ._faiss_store import FaissStore
from ._lancedb_store import LanceDBStore
from ._qdrant_store import QdrantStore
from ._reembedded import reembedded_rows
from ._vector_stores import STAMP, StoreURI, VectorStore, _names, parse_store_uri

STORES = {
    "lancedb": LanceDBStore,
    "qdrant": QdrantStore,
    "chroma": ChromaStore,
    "faiss": FaissStore,
}


def open_store(uri, *, finishing=None):
    """Open the store a URI names (see :func:`parse_store_uri`).

    Parameters
    ----------
    uri : str, StoreURI or VectorStore
        The store (an opened one is returned as it is).
    finishing : {"cutover", "rollback"} or None, default=None
        The switch the caller finishes if it was interrupted; a store in the
        middle of another (or of any, when None) is an error.

    Returns
    -------
    VectorStore
        Its served column (``store.column``) checked to exist.
    """
    if isinstance(uri, VectorStore):
        return uri
    if not isinstance(uri, StoreURI):
        uri = parse_store_uri(uri)
    store = STORES[uri.scheme](uri)
    switch = store.interrupted()
    if switch is not None:
        if finishing is not None and switch in (finishing, "either"):
            return store
        if switch == "either":
            switch, finish = (
                "cutover or rollback",
                (
                    "sklatent migrate cutover URI serves the new vectors, "
                    "sklatent migrate rollback URI the old ones"
                ),
            )
        else:
            finish = f"sklatent migrate {switch} URI"
        raise ValueError(
            f"{store.description()} is mid-cutover (a {switch} was interrupted); "
            f"finish it: {finish}"
        )
    if store.column not in store.columns():
        raise ValueError(
            f"{store.description()} has no column {store.column!r} "
            f"(columns: {', '.join(store.columns())})"
        )
    return store


def _missing(store, names):
    """The rows with a served vector whose shadow is not written (committed)."""
    return store.count(present=[store.column], empty=[names["shadow"]])


def shadow_missing(store):
    """The number of rows whose shadow vector is not written yet.

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store.

    Returns
    -------
    int
        Rows with a served vector and no shadow one (all of them before
        the shadow column exists), less those staged by an interrupted
        :func:`apply_to_store` (written, to be committed by the next call).
    """
    store = open_store(store)
    names = _names(store.column)
    if names["shadow"] not in store.columns():
        return store.count(present=[store.column])
    staged = store.staged(names["shadow"], names["shadow_stamp"])
    return _missing(store, names) - sum(staged.values())


def bridge_stamp(bridge):
    """The stamp of the rows a bridge writes: one JSON string.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted.

    Returns
    -------
    str
        ``{"bridge": fingerprint_, "model": target_name, "sklatent": version}``
        (keys sorted).
    """
    return json.dumps(
        {
            "bridge": bridge.fingerprint_,
            "model": bridge.target_name,
            "sklatent": _version.__version__,
        },
        sort_keys=True,
    )


def _check_not_cut_over(store, names):
    if names["previous"] in store.columns():
        raise ValueError(
            f"{store.description()} is cut over (the old vectors are in "
            f"{names['previous']!r}); run sklatent migrate rollback first"
        )


def apply_to_store(bridge, store, *, batch_size=None, progress=None, reembedded=None):
    """Write ``bridge.transform`` of the served column into its shadow column.

    Reads the rows whose shadow is still empty ``batch_size`` at a time and
    writes each batch's translations with their stamps through
    :meth:`VectorStore.fill`: memory stays bounded, and an interrupted run
    continues on the next call with the rows it had not written (none is
    written twice). A LanceDB table keeps each translated batch (staged) and
    commits a fragment's new column as one data file, without a join.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted, ``direction="old-to-new"``.
    store : str or VectorStore
        A store URI or an opened store.
    batch_size : int or None, default=None
        Rows per batch (translated, and staged or committed, at once); None
        takes the engine's :attr:`VectorStore.default_batch_size`: 4,096 for
        Chroma, whose client copies a batch several times over, 16,384 for
        the others.
    progress : callable or None, default=None
        Called with the number of rows written after each batch.
    reembedded : tuple ``(ids, vectors)`` or None, default=None
        New-model vectors of some rows (those a plan picked), written first,
        in one commit, instead of their translations and stamped
        ``"reembedded": true``; rows whose shadow is already written keep it.
        An id that is not in the store is an error, before anything is
        written.

    Returns
    -------
    int
        The number of rows written by this call.
    """
    check_is_fitted(bridge, "translator_")
    if bridge.direction != "old-to-new":
        raise ValueError(
            "a new-to-old bridge translates queries; writing a store's shadow "
            "column needs an old-to-new bridge"
        )
    store = open_store(store)
    names = _names(store.column)
    _check_not_cut_over(store, names)
    width = store.width(store.column)
    if width != bridge.n_features_in_:
        raise ValueError(
            f"column {store.column!r} of {store.description()} holds vectors of "
            f"{width} values; the bridge takes {bridge.n_features_in_}"
        )
    _check_source_model(store, bridge)
    position, vectors = reembedded_rows(bridge, reembedded)
    _check_ids(store, position)
    stamp = bridge_stamp(bridge)
    own = json.dumps({**json.loads(stamp), "reembedded": True}, sort_keys=True)
    shadow, shadow_stamp = names["shadow"], names["shadow_stamp"]
    if shadow in store.columns():
        if store.width(shadow) != bridge.new_width_:
            raise ValueError(
                f"the shadow column {shadow!r} holds vectors of "
                f"{store.width(shadow)} values; the bridge writes {bridge.new_width_}"
            )
        counts = _stamp_counts(store, shadow)
        other = sum(counts.values()) - counts[stamp] - counts[own]
        if other:
            raise ValueError(
                f"{other} rows of the shadow column {shadow!r} were written by "
                "another bridge (their stamps differ); finish with that bridge"
            )
    else:
        store.add_columns({shadow: bridge.new_width_, shadow_stamp: None})

    written = _write_reembedded(store, shadow, position, vectors, own, progress)

    def translate(X):
        return {shadow: bridge.transform(X), shadow_stamp: [stamp] * len(X)}

    return written + store.fill(
        store.column,
        shadow,
        translate,
        key=stamp,
        batch_size=store.default_batch_size if batch_size is None else batch_size,
        progress=progress,
    )


def _check_source_model(store, bridge):
    """Refuse a bridge from another model than the one whose stamps the served
    vectors carry (a store migrated before, then finalized).

    Stamps that name no model (written by a bridge without ``target_name``)
    cannot tell: the bridge must then name its source model, which is taken
    as said; one that names none is refused rather than trusted unchecked.
    """
    models = {json.loads(text)["model"] for text in _stamp_counts(store, store.column)}
    served = f"the served column {store.column!r} of {store.description()}"
    if models == {None} and bridge.source_name is None:
        raise ValueError(
            f"{served} holds vectors written by a bridge that named no target "
            "model, and this bridge names no source model, so nothing checks "
            "that it translates from their space: refit it naming the model "
            "the served vectors are in (--source-name MODEL)"
        )
    if models <= {None, bridge.source_name}:
        return
    named = sorted(model for model in models if model is not None)
    raise ValueError(
        f"{served} holds vectors of model {' and '.join(map(repr, named))} (their "
        "stamps); "
        + (
            "this bridge names no source model"
            if bridge.source_name is None
            else f"this bridge translates from {bridge.source_name!r}"
        )
        + f": fit a bridge from {named[0]!r} (--source-name {named[0]})"
    )


def _check_ids(store, position):
    """Refuse re-embedded ids that are not in the store."""
    found = 0
    for batch in store.read_batches([store.id_column]):
        found += sum(key in position for key in batch[store.id_column])
    if found < len(position):
        raise ValueError(
            f"{len(position) - found} of the {len(position)} re-embedded ids are "
            f"not in {store.description()}"
        )


def _write_reembedded(store, shadow, position, vectors, stamp, progress):
    """Write the re-embedded rows whose shadow is empty, in one commit: the count."""
    if not position:
        return 0
    empty = []
    for batch in store.read_batches([store.id_column], empty=[shadow]):
        empty += [key for key in batch[store.id_column] if key in position]
    if empty:
        rows = [position[key] for key in empty]
        store.write_batch(
            empty, {shadow: vectors[rows], shadow + STAMP: [stamp] * len(rows)}
        )
        if progress is not None:
            progress(len(rows))
    return len(empty)


def _stamp_counts(store, column):
    """``{stamp: rows}`` of a vector column's stamps, the staged rows included."""
    stamp = column + STAMP
    if stamp not in store.columns():
        return collections.Counter()
    counts = store.staged(column, stamp)
    for batch in store.read_batches([stamp], present=[stamp]):
        counts.update(batch[stamp])
    return counts


def _stamps(store, column):
    """``[{...stamp, "rows": n}]`` of a vector column's stamps, most rows first."""
    counts = _stamp_counts(store, column)
    return [dict(json.loads(text), rows=n) for text, n in counts.most_common()]


def store_status(store):
    """Which column a store serves, by which model, and how far its shadow is.

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store.

    Returns
    -------
    dict
        ``store``, ``served_column``, ``served_model`` (the model of most
        served rows' stamps; None for unstamped vectors), ``state`` (``"no
        shadow"``, ``"shadow"`` or ``"cut over"``), ``rows``,
        ``shadow_written`` (the fraction of the served rows whose shadow is
        written; None without a shadow), ``shadow_staged`` (how many of
        those an interrupted apply staged and the next one commits; None
        without a shadow), and ``stamps`` (per column: each stamp and its
        row count, staged rows included).
    """
    store = open_store(store)
    names = _names(store.column)
    columns = store.columns()
    served = store.count(present=[store.column])
    stamps = {
        names[key]: _stamps(store, names[key])
        for key in ("served", "shadow", "previous")
        if names[key] in columns
    }
    shadow_written = staged = None
    if names["shadow"] in columns:
        staged = sum(store.staged(names["shadow"], names["shadow_stamp"]).values())
        written = store.count(present=[names["shadow"]]) + staged
        shadow_written = written / served if served else 1.0
    state = (
        "cut over"
        if names["previous"] in columns
        else "shadow"
        if shadow_written is not None
        else "no shadow"
    )
    served_stamps = stamps[store.column]
    return {
        "store": store.description(),
        "served_column": store.column,
        "served_model": served_stamps[0]["model"] if served_stamps else None,
        "state": state,
        "rows": store.count(),
        "shadow_written": shadow_written,
        "shadow_staged": staged,
        "stamps": stamps,
        "indices": store.indices(),
    }


def cutover_store(store):
    """Serve the shadow column: the URI's column holds the new vectors after it.

    In one commit the served column (and its stamps) becomes
    ``COLUMN__previous`` and the shadow ``COLUMN``. Refuses a shadow that is
    not fully written. A cutover that was interrupted (in a store whose
    switch is several steps) is finished, and so is a switch of a store that
    cannot tell which one was (:meth:`VectorStore.interrupted` ``"either"``:
    Chroma's two renames), serving the shadow.

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store.
    """
    store = open_store(store, finishing="cutover")
    names = _names(store.column)
    switch = store.interrupted()
    if switch == "either":  # the shadow was complete when the switch began
        store.serve(names["shadow"])
        return
    if switch:
        store.finish()
        return
    _check_not_cut_over(store, names)
    if names["shadow"] not in store.columns():
        raise ValueError(
            f"{store.description()} has no shadow column {names['shadow']!r}; "
            "write it first: sklatent migrate apply BRIDGE --store URI"
        )
    missing = _missing(store, names)
    if missing:
        staged = sum(store.staged(names["shadow"], names["shadow_stamp"]).values())
        raise ValueError(
            f"the shadow column {names['shadow']!r} misses {missing} rows"
            + (f" ({staged} of them staged by an interrupted apply)" if staged else "")
            + "; finish it first: sklatent migrate apply BRIDGE --store URI"
        )
    store.serve(names["shadow"])


def rollback_store(store):
    """Serve the old vectors again, bit for bit: undo :func:`cutover_store`.

    In one commit the served column becomes the shadow again and
    ``COLUMN__previous`` the served one (``cutover`` again redoes it). A
    rollback that was interrupted is finished, and so is a switch of a store
    that cannot tell which one was, serving the previous column.

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store.
    """
    store = open_store(store, finishing="rollback")
    names = _names(store.column)
    switch = store.interrupted()
    if switch == "either":
        store.serve(names["previous"])
        return
    if switch:
        store.finish()
        return
    if names["previous"] not in store.columns():
        raise ValueError(
            f"{store.description()} is not cut over (no column "
            f"{names['previous']!r}); nothing to roll back"
        )
    if names["shadow"] in store.columns():
        raise ValueError(
            f"{store.description()} has both {names['previous']!r} and "
            f"{names['shadow']!r}; rename or drop one by hand"
        )
    store.serve(names["previous"])


def finalize_store(store):
    """Delete the old vectors of a cut-over store: no rollback after it.

    Drops ``COLUMN__previous`` and its stamps (a Qdrant store: the old
    collection), so the store serves only the new space, stamped, and can be
    migrated again: the next bridge must translate from the model of those
    stamps (:func:`apply_to_store` refuses another).

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store, cut over.

    Returns
    -------
    list of str
        The columns deleted.
    """
    store = open_store(store)
    names = _names(store.column)
    columns = store.columns()
    if names["previous"] not in columns:
        raise ValueError(
            f"{store.description()} is not cut over (no column "
            f"{names['previous']!r}); finalize deletes the old vectors after a "
            "cutover"
        )
    if names["shadow"] in columns:
        raise ValueError(
            f"{store.description()} has both {names['previous']!r} and "
            f"{names['shadow']!r}; rename or drop one by hand"
        )
    dropped = [
        name for name in (names["previous"], names["previous_stamp"]) if name in columns
    ]
    store.drop(dropped)
    return dropped
