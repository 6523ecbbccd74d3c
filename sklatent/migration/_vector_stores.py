"""Vector stores behind one small interface, named by a URI.

A vector store is named by a URI, ``lancedb://DIR/TABLE?column=vector``
(``&id=id`` names the id column; ``lancedb:///abs/dir/TABLE`` for an
absolute folder), ``qdrant://DIR/COLLECTION?vector=NAME``,
``chroma://DIR/COLLECTION`` or ``faiss://FILE`` (a FAISS index file).
:class:`VectorStore` is what a migration needs of a store: read id/vector
batches, write a column in batches, list, add and rename columns, count
rows, serve a column. Each engine implements it in a module of its own
(``_lancedb_store``, ``_qdrant_store``, ``_chroma_store``, ``_faiss_store``);
:mod:`._shadow` migrates a store through it. The column names a migration
uses are the served column's name with a suffix: :data:`SHADOW`,
:data:`PREVIOUS`, :data:`STAMP`.
"""

import collections
import urllib.parse

import numpy as np

SHADOW = "__shadow"
"""Suffix of the shadow column (the translated vectors being written)."""
PREVIOUS = "__previous"
"""Suffix of the column that keeps the served vectors after a cutover."""
STAMP = "__stamp"
"""Suffix of a vector column's stamp column (one JSON string a row)."""
SCHEMES = {
    "lancedb": ("TABLE", {"column": "vector", "id": "id"}),
    "qdrant": ("COLLECTION", {"vector": None}),
    "chroma": ("COLLECTION", {}),
    "faiss": ("FILE", {}),
}
"""Each scheme's ``DIR/NAME`` and its options with their defaults (a Qdrant
store's ids are its point ids; its vector defaults to the collection's only
one; a Chroma record has one embedding, and its id). A ``FILE`` is a path of
its own: ``faiss://index.faiss`` is in the working folder."""


StoreURI = collections.namedtuple("StoreURI", "scheme path table column id_column")


def _usage(scheme):
    name, options = SCHEMES[scheme]
    query = "&".join(f"{key}=NAME" for key in options)
    where = name if name == "FILE" else f"DIR/{name}"
    return f"{scheme}://{where}" + (f"?{query}" if query else "")


def parse_store_uri(uri):
    """Parse a store URI: ``lancedb://DIR/TABLE?column=vector&id=id``,
    ``qdrant://DIR/COLLECTION?vector=NAME``, ``chroma://DIR/COLLECTION`` or
    ``faiss://FILE``.

    Parameters
    ----------
    uri : str
        ``SCHEME://DIR/NAME`` and a query. ``lancedb``: the served ``column``
        (default ``vector``) and the ``id`` column (default ``id``) of table
        ``NAME``. ``qdrant``: the ``vector`` (named; default: the
        collection's only one) of the collection or alias ``NAME``, in the
        folder of a local ``QdrantClient(path=DIR)``. ``chroma``: the
        collection ``NAME`` of ``chromadb.PersistentClient(path=DIR)`` (the
        column ``embedding``, the ids ``id``). ``DIR`` is relative to
        the working folder; ``SCHEME:///abs/DIR/NAME`` for an absolute one.

    Returns
    -------
    StoreURI
        ``scheme``, ``path`` (the folder), ``table`` (the table, collection
        or alias), ``column`` (None: the collection's only vector),
        ``id_column``.

    Examples
    --------
    >>> from sklatent.migration import parse_store_uri
    >>> uri = parse_store_uri("lancedb://data/db/docs?column=emb")
    >>> uri.path, uri.table, uri.column, uri.id_column
    ('data/db', 'docs', 'emb', 'id')
    >>> parse_store_uri("qdrant:///srv/qdrant/docs?vector=text")[1:4]
    ('/srv/qdrant', 'docs', 'text')
    >>> parse_store_uri("chroma://data/chroma/docs")[:3]
    ('chroma', 'data/chroma', 'docs')
    >>> parse_store_uri("faiss://docs.faiss")[1:3]
    ('', 'docs.faiss')
    """
    scheme, sep, rest = str(uri).partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(
            f"{uri!r} is not a store URI; expected "
            + " or ".join(_usage(scheme) for scheme in SCHEMES)
        )
    name, defaults = SCHEMES[scheme]
    where, _, query = rest.partition("?")
    path, sep, table = where.rstrip("/").rpartition("/")
    if name == "FILE" and sep and not path:  # a file in /
        path = "/"
    if not table or not (path or name == "FILE"):
        raise ValueError(f"{uri!r} names no {name.lower()}; expected {_usage(scheme)}")
    try:
        options = dict(urllib.parse.parse_qsl(query, strict_parsing=bool(query)))
    except ValueError:
        raise ValueError(
            f"{uri!r} has a malformed query {query!r}; expected {_usage(scheme)}"
        ) from None
    unknown = set(options) - set(defaults)
    if unknown:
        raise ValueError(
            f"{uri!r}: unknown option {sorted(unknown)[0]!r} "
            + (
                f"(the options are {' and '.join(defaults)})"
                if defaults
                else "(it takes none)"
            )
        )
    options = {**defaults, **options}
    return StoreURI(
        scheme,
        path,
        table,
        options.get("column", options.get("vector")),
        options.get("id", "id"),
    )


class VectorStore:
    """The interface of a vector store: what the migration needs of it.

    Parameters
    ----------
    uri : StoreURI
        What :func:`parse_store_uri` returns.

    Attributes
    ----------
    column, id_column : str
        The served vector column and the id column.
    """

    default_batch_size = 16384
    """Rows a batch of :func:`~sklatent.migration.apply_to_store` writes by
    default on this engine: what bounds the memory the batch's copies take."""

    def __init__(self, uri):
        self.uri = uri
        self.column = uri.column
        self.id_column = uri.id_column

    def columns(self):
        """The column names, in order."""
        raise NotImplementedError

    def width(self, column):
        """The vectors' length in ``column`` (a fixed-size list of floats)."""
        raise NotImplementedError

    def count(self, *, present=(), empty=()):
        """The number of rows (those with a value in every ``present`` column
        and none in any ``empty`` column)."""
        raise NotImplementedError

    def read_batches(self, columns, *, present=(), empty=(), batch_size=16384):
        """Yield ``{column: values}`` batches of ``columns`` (vectors as 2-D arrays)
        of the rows :meth:`count` counts."""
        raise NotImplementedError

    def add_columns(self, specs):
        """Add empty (null) columns: ``{name: width}`` (a vector) or ``{name: None}``
        (a string)."""
        raise NotImplementedError

    def write_batch(self, ids, values):
        """Write ``values`` (``{column: vectors or strings}``) into the rows ``ids``,
        in one commit."""
        raise NotImplementedError

    def rename(self, renames):
        """Rename columns (``{old: new}``) in one commit."""
        raise NotImplementedError

    def drop(self, columns):
        """Delete columns and their values, in one commit."""
        raise NotImplementedError

    def serve(self, column):
        """Serve ``column``, the shadow or the previous one, in one commit.

        The served column (and its stamps) takes the other name: the
        previous one when the shadow is served (cutover), the shadow when
        the previous one is (rollback). The default renames the columns.
        """
        names = _names(self.column)
        other = names["previous"] if column == names["shadow"] else names["shadow"]
        self.rename(
            {**_swap(self, self.column, other), **_swap(self, column, self.column)}
        )

    def interrupted(self):
        """The switch (``"cutover"`` or ``"rollback"``) an interrupted call left
        half done, ``"either"`` for a store left in a state that either one's
        :meth:`serve` finishes (it cannot tell which was stopped), or None. A
        store whose :meth:`serve` is one commit never has one."""
        return None

    def finish(self):
        """Finish the switch :meth:`interrupted` names."""
        raise NotImplementedError

    def fill(self, source, target, func, *, key, batch_size=16384, progress=None):
        """Write ``func`` of ``source``'s vectors where ``target`` is empty.

        ``func`` takes a 2-D array of ``source`` vectors and returns
        ``{column: values}`` for the same rows: ``target`` and the columns
        written with it (its stamps). Each batch is one commit, so an
        interrupted call leaves whole batches and the next call writes only
        the rows still empty (none twice). ``key`` names what ``func``
        computes: a store that keeps work between commits discards work of
        another key. ``progress`` is called with each batch's row count.

        Returns
        -------
        int
            The number of rows written.
        """
        batches = self.read_batches(
            [self.id_column, source],
            present=[source],
            empty=[target],
            batch_size=batch_size,
        )
        return self._write_batches(batches, source, func, progress)

    def _write_batches(self, batches, source, func, progress):
        """:meth:`write_batch` ``func`` of each batch's ``source``: the count."""
        written = 0
        for batch in batches:
            ids = batch[self.id_column]
            self.write_batch(ids, func(np.asarray(batch[source])))
            written += len(ids)
            if progress is not None:
                progress(len(ids))
        return written

    def staged(self, target, column):
        """Rows written by :meth:`fill` into ``target`` but not committed yet
        (kept for the next call to commit): ``{value: rows}`` of their
        ``column``, one of the columns written with ``target``."""
        return collections.Counter()

    def indices(self):
        """The store's indices: ``{name: [column, ...]}``."""
        return {}

    def description(self):
        """The store, as its URI says it."""
        return f"{self.uri.scheme}://{self.uri.path}/{self.uri.table}"


def _names(column):
    """The served, shadow and previous columns of ``column`` and their stamps."""
    return {
        "served": column,
        "shadow": column + SHADOW,
        "previous": column + PREVIOUS,
        "served_stamp": column + STAMP,
        "shadow_stamp": column + SHADOW + STAMP,
        "previous_stamp": column + PREVIOUS + STAMP,
    }


def _swap(store, a, b):
    """Renames moving columns ``a`` (and stamp) to ``b``: ``{old: new}``."""
    columns = store.columns()
    renames = {a: b}
    if a + STAMP in columns:
        renames[a + STAMP] = b + STAMP
    return renames


class CollectionStore(VectorStore):
    """A store that keeps its served vectors, the shadow and the previous ones
    each in a collection of its own (Qdrant, Chroma), with their stamps.

    An engine gives :meth:`_layout` (``{column: (collection, kind)}``, kind
    ``"id"``, ``"vector"`` or ``"stamp"``; ``served``, the served
    collection), :meth:`_width`, :meth:`_size` and :meth:`_delete`, and reads
    its batches through :meth:`_select_rows`.
    """

    id_kind = "ids"
    """What the engine's ids are, in words."""

    def _layout(self):
        raise NotImplementedError

    def _width(self, collection):
        """The vectors' length in ``collection``."""
        raise NotImplementedError

    def _size(self):
        """The number of records of the served collection."""
        raise NotImplementedError

    def columns(self):
        return list(self._layout())

    def width(self, column):
        collection, kind = self._layout()[column]
        if kind != "vector":
            raise ValueError(
                f"column {column!r} of {self.description()} holds "
                f"{self.id_kind if kind == 'id' else 'stamps'}, not vectors"
            )
        return self._width(collection)

    def _delete(self, collection):
        """Delete ``collection`` and its records."""
        raise NotImplementedError

    def drop(self, columns):
        """Delete the collection that holds ``columns`` (a shadow or previous
        vector and its stamps: all of that collection's columns)."""
        layout = self._layout()
        doomed = {layout[name][0] for name in columns}
        held = {name for name, (where, _) in layout.items() if where in doomed}
        if self.served in doomed or held != set(columns):
            raise ValueError(
                f"{self.description()} drops whole collections: the shadow or the "
                "previous one, with its stamps"
            )
        for collection in doomed:
            self._delete(collection)

    def count(self, *, present=(), empty=()):
        if not present and not empty:
            return self._size()
        return sum(
            len(batch[self.id_column])
            for batch in self.read_batches(
                [self.id_column], present=present, empty=empty
            )
        )

    @staticmethod
    def _select_rows(values, layout, columns, *, present, empty):
        """The rows of a batch whose ``present`` columns hold a value and whose
        ``empty`` columns none.

        ``values`` is ``{column: [value or None, ...]}`` (one entry a row).
        Returns ``{column: values}`` of ``columns`` (those of kind
        ``"vector"`` as 2-D float32 arrays), or None when no row is left.
        """
        rows = len(next(iter(values.values())))
        keep = [
            k
            for k in range(rows)
            if all(values[name][k] is not None for name in present)
            and all(values[name][k] is None for name in empty)
        ]
        if not keep:
            return None
        batch = {}
        for name in columns:
            column = [values[name][k] for k in keep]
            if layout[name][1] == "vector":
                column = np.asarray(column, np.float32)
            batch[name] = column
        return batch
