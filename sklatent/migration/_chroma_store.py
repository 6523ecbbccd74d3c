"""Chroma collections (``chromadb.PersistentClient(path=DIR)``) as vector stores."""

import collections
import os

import numpy as np

from ._vector_stores import PREVIOUS, SHADOW, STAMP, CollectionStore

COLUMN = "embedding"
"""The interface's name of a Chroma record's embedding (a record has one)."""


def _chromadb():
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError:
        raise ValueError(
            "chroma:// stores need chromadb: pip install 'sklatent[chroma]'"
        ) from None
    return chromadb, Settings


class ChromaStore(CollectionStore):
    """A Chroma collection in a local folder (``chromadb.PersistentClient(path=DIR)``).

    The URI names the collection the application queries. The shadow is a
    collection of its own, ``COLLECTION__shadow``, created with the served
    collection's configuration (its distance space and HNSW parameters) and
    metadata, but no embedding function (the served one's embeds with the
    old model): each record of the served collection with its id, document,
    metadata and URI, its embedding translated, and its stamp in the metadata
    (``embedding__stamp``); each batch is one upsert (of at most the client's
    ``get_max_batch_size()`` records), each record written whole. Chroma has
    no aliases: a cutover renames the served collection
    ``COLLECTION__previous`` and the shadow ``COLLECTION``, a rollback
    ``COLLECTION`` back to ``COLLECTION__shadow`` and ``COLLECTION__previous``
    to ``COLLECTION``; the old collection is never written. The two renames
    are two commits: between them the store holds ``COLLECTION__previous``
    and ``COLLECTION__shadow`` and no ``COLLECTION``, which :meth:`interrupted`
    reports, and either command finishes.

    The interface's columns are the record ids (``id``), the embedding
    (``embedding``) and its stamps (``embedding__stamp``), with
    ``embedding__shadow`` (and its stamps) in the shadow collection, and
    ``embedding__previous`` in the old one after a cutover. A collection
    with no record yet has no width: the shadow is a column once it holds a
    record or this store created it (a shadow left empty by an interrupted
    first upsert is taken up again by the next ``add_columns``).
    """

    id_kind = "record ids"

    default_batch_size = 4096
    """Chroma hands embeddings back as float64 arrays and keeps the shadow
    collection's index in memory: over 100,000 records of 384 values,
    batches of 16,384 raised the anonymous memory by 598 MB, of 4,096 by
    296 MB, of 2,048 by 264 MB (docs/migration.rst)."""

    def __init__(self, uri):
        super().__init__(uri)
        chromadb, Settings = _chromadb()
        if not os.path.isfile(os.path.join(uri.path, "chroma.sqlite3")):
            raise ValueError(
                f"no Chroma storage at {uri.path!r} (no chroma.sqlite3: not a "
                "folder of chromadb.PersistentClient(path=...))"
            )
        self.client = chromadb.PersistentClient(
            path=uri.path, settings=Settings(anonymized_telemetry=False)
        )
        self.served = uri.table
        self.column = COLUMN
        self._created = set()  # collections this store created, empty or not
        if self.served not in self._collections() and self.interrupted() is None:
            raise ValueError(
                f"the Chroma storage {uri.path!r} has no collection {uri.table!r}"
            )

    def _collections(self):
        return {collection.name for collection in self.client.list_collections()}

    def _collection(self, name):
        # No embedding function: a migration passes embeddings, and Chroma's
        # default one would fetch a model the first time it embedded.
        return self.client.get_collection(name, embedding_function=None)

    def interrupted(self):
        """``"either"`` for a cutover or rollback stopped between its two
        renames (``COLLECTION__previous`` and ``COLLECTION__shadow`` and no
        ``COLLECTION``: a stopped cutover and a stopped rollback leave the
        same three collections, and either one's :meth:`serve` finishes it),
        else None."""
        served, names = self.served, self._collections()
        if served not in names and {served + PREVIOUS, served + SHADOW} <= names:
            return "either"
        return None

    def _layout(self):
        """``{column: (collection, kind)}``: where each column lives."""
        names = self._collections()
        layout = {}
        for suffix in ("", SHADOW, PREVIOUS):
            name = self.served + suffix
            if name in names and (
                not suffix
                or name in self._created
                or self._collection(name).get_model().dimension
            ):
                if not suffix:
                    layout[self.id_column] = (name, "id")
                layout[COLUMN + suffix] = (name, "vector")
                layout[COLUMN + suffix + STAMP] = (name, "stamp")
        return layout

    def _width(self, collection):
        return self._collection(collection).get_model().dimension

    def _records(self, collection, ids=None, *, include=(), limit=None, offset=None):
        """``(ids, {id: {field: value}})`` of a collection's records (``ids``, or
        a page), with the fields of ``include``."""
        found = self._collection(collection).get(
            ids=ids, limit=limit, offset=offset, include=list(include)
        )
        fields = {field: found[field] for field in include}
        records = {
            key: {field: values[k] for field, values in fields.items()}
            for k, key in enumerate(found["ids"])
        }
        return found["ids"], records

    def _value(self, record, kind, key):
        if record is None:
            return None
        if kind == "id":
            return key
        if kind == "stamp":
            return (record["metadatas"] or {}).get(COLUMN + STAMP)
        return record.get("embeddings", True)  # True: present, not read

    def _size(self):
        return self._collection(self.served).count()

    def _delete(self, collection):
        self.client.delete_collection(collection)

    def read_batches(self, columns, *, present=(), empty=(), batch_size=16384):
        layout = self._layout()
        wanted = list(dict.fromkeys([*columns, *present, *empty]))
        include = collections.defaultdict(set)  # a record's presence needs none
        for name in wanted:
            collection, kind = layout[name]
            if kind == "stamp":
                include[collection].add("metadatas")
            elif kind == "vector" and name in columns:
                include[collection].add("embeddings")
        offset = 0
        while True:
            ids, served = self._records(
                self.served,
                include=include[self.served],
                limit=batch_size,
                offset=offset,
            )
            if not ids:
                return
            offset += len(ids)
            found = {self.served: served}
            values = {}
            for name in wanted:
                collection, kind = layout[name]
                if collection not in found:
                    found[collection] = self._records(
                        collection, ids, include=include[collection]
                    )[1]
                values[name] = [
                    self._value(found[collection].get(key), kind, key) for key in ids
                ]
            batch = self._select_rows(
                values, layout, columns, present=present, empty=empty
            )
            if batch is not None:
                yield batch

    def add_columns(self, specs):
        shadow = COLUMN + SHADOW
        if set(specs) - {shadow, shadow + STAMP} or shadow in self._layout():
            raise ValueError(
                f"{self.description()} takes only a shadow ({shadow!r}), as a "
                "collection of its own"
            )
        served = self._collection(self.served)
        configuration = dict(served.configuration_json)
        configuration.pop("embedding_function", None)
        self._created.add(self.served + SHADOW)
        self.client.get_or_create_collection(
            self.served + SHADOW,
            configuration=configuration,
            metadata=served.metadata,
            embedding_function=None,
        )

    def write_batch(self, ids, values):
        """Write ``values`` into the records ``ids``: those a collection lacks
        are copied from the served one first (document, metadata, URI); one
        upsert a collection (a batch of at most ``get_max_batch_size()``)."""
        layout = self._layout()
        by_collection = collections.defaultdict(dict)
        for name, value in values.items():
            by_collection[layout[name][0]][name] = value
        ids = list(ids)
        fields = ("embeddings", "metadatas", "documents", "uris")
        for collection, columns in by_collection.items():
            records = self._records(collection, ids, include=fields)[1]
            missing = [key for key in ids if key not in records]
            if missing:  # the served embeddings are not copied: not read
                records.update(
                    self._records(self.served, missing, include=fields[1:])[1]
                )
            rows = {field: [records[key].get(field) for key in ids] for field in fields}
            rows["metadatas"] = [dict(m or {}) for m in rows["metadatas"]]
            for name, value in columns.items():
                if layout[name][1] == "vector":
                    rows["embeddings"] = np.asarray(value, np.float32)
                else:
                    for metadata, stamp in zip(rows["metadatas"], value, strict=True):
                        metadata[COLUMN + STAMP] = stamp
            rows["metadatas"] = [m or None for m in rows["metadatas"]]
            for field in ("documents", "uris"):
                if all(value is None for value in rows[field]):
                    rows[field] = None
            target = self._collection(collection)
            step = self.client.get_max_batch_size()
            for start in range(0, len(ids), step):
                part = slice(start, start + step)
                target.upsert(
                    ids=ids[part],
                    **{
                        field: None if value is None else value[part]
                        for field, value in rows.items()
                    },
                )

    def indices(self):
        """Each collection's vector index and distance space (``{"HNSW (ip)":
        ["embedding", "embedding__shadow"]}``): a shadow is searched as the
        served collection is."""
        found = {}
        for column, (collection, kind) in self._layout().items():
            if kind == "vector":
                configuration = self._collection(collection).configuration_json
                for index in ("hnsw", "spann"):
                    if configuration.get(index):
                        name = f"{index.upper()} ({configuration[index]['space']})"
                        found.setdefault(name, []).append(column)
        return found

    def serve(self, column):
        """Rename the served collection and then ``column``'s (two commits; a
        pair stopped between them is :meth:`interrupted`, and finished by
        serving either column again)."""
        to, away = (SHADOW, PREVIOUS) if column.endswith(SHADOW) else (PREVIOUS, SHADOW)
        if self.served in self._collections():
            self._collection(self.served).modify(name=self.served + away)
        self._collection(self.served + to).modify(name=self.served)
