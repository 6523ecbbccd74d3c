"""Qdrant collections in local mode as vector stores (no server)."""

import collections
import os

import numpy as np

from ._vector_stores import PREVIOUS, SHADOW, STAMP, CollectionStore


def _qdrant():
    try:
        from qdrant_client import QdrantClient, models
    except ImportError:
        raise ValueError(
            "qdrant:// stores need qdrant-client: pip install 'sklatent[qdrant]'"
        ) from None
    return QdrantClient, models


class QdrantStore(CollectionStore):
    """A Qdrant collection in local mode (``QdrantClient(path=DIR)``, no server).

    The URI names the collection or, for a cutover, the *alias* the
    application queries. The shadow is a collection of its own,
    ``COLLECTION__shadow``: each point of the served collection with its id,
    payload and other vectors, its vector translated, and its stamp in the
    payload (``VECTOR__stamp``); each batch is one upsert, each point
    written whole. A cutover points the alias at the shadow collection and a
    rollback back at the old one, each one alias operation; the old
    collection is never written. Qdrant cannot rename a named vector, so a
    shadow vector in the same collection could only be served by rewriting
    every point, mixing two spaces while it runs.

    The interface's columns are the point ids (``id``), the vector
    (``VECTOR``, ``vector`` for the unnamed one) and its stamps
    (``VECTOR__stamp``), with ``VECTOR__shadow`` (and its stamps) in the
    shadow collection, or ``VECTOR__previous`` in the old one after a
    cutover.
    """

    id_kind = "point ids"

    def __init__(self, uri):
        super().__init__(uri)
        QdrantClient, self._models = _qdrant()
        if not os.path.isfile(os.path.join(uri.path, "meta.json")):
            raise ValueError(
                f"no Qdrant storage at {uri.path!r} (no meta.json: not a folder "
                "of QdrantClient(path=...))"
            )
        try:
            self.client = QdrantClient(path=uri.path)
        except RuntimeError as error:  # the folder is locked by another client
            raise ValueError(str(error).splitlines()[0]) from None
        aliases = {
            alias.alias_name: alias.collection_name
            for alias in self.client.get_aliases().aliases
        }
        self.alias = uri.table if uri.table in aliases else None
        self.served = aliases.get(uri.table, uri.table)
        if not self.client.collection_exists(self.served):
            raise ValueError(
                f"the Qdrant storage {uri.path!r} has no collection or alias "
                f"{uri.table!r}"
            )
        vectors = self._vectors_config(self.served)
        if uri.column is None and len(vectors) != 1:
            raise ValueError(
                f"{self.description()} has the vectors {', '.join(vectors)}: "
                "name one with ?vector=NAME"
            )
        self._vector = next(iter(vectors)) if uri.column is None else uri.column
        if self._vector not in vectors:
            raise ValueError(
                f"{self.description()} has no vector {self._vector!r} "
                f"(vectors: {', '.join(map(repr, vectors))})"
            )
        self._named = isinstance(
            self.client.get_collection(self.served).config.params.vectors, dict
        )
        self.column = self._vector or "vector"

    def _vectors_config(self, collection):
        """``{name: VectorParams}`` (``""`` for the unnamed vector)."""
        vectors = self.client.get_collection(collection).config.params.vectors
        return dict(vectors) if isinstance(vectors, dict) else {"": vectors}

    def _layout(self):
        """``{column: (collection, kind)}``: where each column lives."""
        exists = self.client.collection_exists
        served, column = self.served, self.column
        layout = {
            self.id_column: (served, "id"),
            column: (served, "vector"),
            column + STAMP: (served, "stamp"),
        }
        base = served.removesuffix(SHADOW)
        if base != served and exists(base):  # cut over
            layout[column + PREVIOUS] = (base, "vector")
            layout[column + PREVIOUS + STAMP] = (base, "stamp")
        elif exists(served + SHADOW):
            layout[column + SHADOW] = (served + SHADOW, "vector")
            layout[column + SHADOW + STAMP] = (served + SHADOW, "stamp")
        return layout

    def _width(self, collection):
        return self._vectors_config(collection)[self._vector].size

    def _value(self, point, kind):
        if point is None:
            return None
        if kind == "id":
            return point.id
        if kind == "stamp":
            return (point.payload or {}).get(self.column + STAMP)
        vector = point.vector
        return vector.get(self._vector) if isinstance(vector, dict) else vector

    def _points(self, collection, ids):
        """``{id: point}`` of those of ``ids`` that ``collection`` holds."""
        return {
            point.id: point
            for point in self.client.retrieve(
                collection, ids, with_payload=True, with_vectors=True
            )
        }

    def _size(self):
        return self.client.count(self.served, exact=True).count

    def read_batches(self, columns, *, present=(), empty=(), batch_size=16384):
        layout = self._layout()
        wanted = list(dict.fromkeys([*columns, *present, *empty]))
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.served,
                limit=batch_size,
                offset=offset,
                with_payload=True,
                with_vectors=True,
            )
            ids = [point.id for point in points]
            found = {self.served: dict(zip(ids, points, strict=True))}
            values = {}
            for name in wanted:
                collection, kind = layout[name]
                if collection not in found:
                    found[collection] = self._points(collection, ids)
                values[name] = [
                    self._value(found[collection].get(i), kind) for i in ids
                ]
            batch = self._select_rows(
                values, layout, columns, present=present, empty=empty
            )
            if batch is not None:
                yield batch
            if offset is None:
                return

    def add_columns(self, specs):
        layout = self._layout()
        shadow = self.column + SHADOW
        if set(specs) - {shadow, shadow + STAMP} or shadow in layout:
            raise ValueError(
                f"{self.description()} takes only a shadow ({shadow!r}), as a "
                "collection of its own"
            )
        info = self.client.get_collection(self.served).config.params
        vectors = self._vectors_config(self.served)
        vectors[self._vector] = vectors[self._vector].model_copy(
            update={"size": specs[shadow]}
        )
        self.client.create_collection(
            self.served + SHADOW,
            vectors_config=vectors if self._named else vectors[""],
            sparse_vectors_config=info.sparse_vectors,
        )

    def write_batch(self, ids, values):
        """Write ``values`` into the points ``ids``: those of a collection that
        lacks them are copied from the served one first (ids, payload, other
        vectors); one upsert a collection."""
        layout = self._layout()
        by_collection = collections.defaultdict(dict)
        for name, value in values.items():
            by_collection[layout[name][0]][name] = value
        ids = list(ids)
        for collection, columns in by_collection.items():
            points = self._points(collection, ids)
            missing = [i for i in ids if i not in points]
            if missing:
                points.update(self._points(self.served, missing))
            upserts = []
            for k, i in enumerate(ids):
                point = points[i]
                vector = point.vector if self._named else {"": point.vector}
                vector, payload = dict(vector or {}), dict(point.payload or {})
                for name, value in columns.items():
                    if layout[name][1] == "vector":
                        vector[self._vector] = np.asarray(value[k], float).tolist()
                    else:
                        payload[self.column + STAMP] = value[k]
                upserts.append(
                    self._models.PointStruct(
                        id=i,
                        vector=vector if self._named else vector[""],
                        payload=payload,
                    )
                )
            self.client.upsert(collection, upserts, wait=True)

    def _delete(self, collection):
        self.client.delete_collection(collection)

    def serve(self, column):
        if self.alias is None:
            raise ValueError(
                f"{self.description()} names the collection {self.served!r}, not "
                "an alias: a cutover switches the alias the application queries; "
                "query the collection through one (update_collection_aliases) "
                "and name the alias in the URI"
            )
        collection = self._layout()[column][0]
        models = self._models
        self.client.update_collection_aliases(
            change_aliases_operations=[
                models.DeleteAliasOperation(
                    delete_alias=models.DeleteAlias(alias_name=self.alias)
                ),
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(
                        collection_name=collection, alias_name=self.alias
                    )
                ),
            ]
        )
        self.served = collection
