"""Vector stores: a shadow column written through a bridge, cutover and rollback.

A vector store is named by a URI, ``lancedb://DIR/TABLE?column=vector``
(``&id=id`` names the id column; ``lancedb:///abs/dir/TABLE`` for an
absolute folder). :func:`open_store` opens it behind one small interface,
:class:`VectorStore`: read id/vector batches, write a column in batches,
list, add and rename columns, count rows. On it:

- :func:`apply_to_store` writes ``bridge.transform`` of the served column
  into a *shadow* column next to it (``vector__shadow``), a batch at a time,
  each batch one commit: an interrupted run continues on the next call with
  the rows still missing (no row missed or written twice). Every row carries
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
import os
import urllib.parse

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import _version

SHADOW = "__shadow"
"""Suffix of the shadow column (the translated vectors being written)."""
PREVIOUS = "__previous"
"""Suffix of the column that keeps the served vectors after a cutover."""
STAMP = "__stamp"
"""Suffix of a vector column's stamp column (one JSON string a row)."""
SCHEMES = ("lancedb",)


StoreURI = collections.namedtuple("StoreURI", "scheme path table column id_column")


def parse_store_uri(uri):
    """Parse a store URI: ``lancedb://DIR/TABLE?column=vector&id=id``.

    Parameters
    ----------
    uri : str
        ``SCHEME://DIR/TABLE``, the query naming the served ``column``
        (default ``vector``) and the ``id`` column (default ``id``). ``DIR``
        is relative to the working folder; ``lancedb:///abs/DIR/TABLE`` for
        an absolute one.

    Returns
    -------
    StoreURI
        ``scheme``, ``path`` (the folder), ``table``, ``column``,
        ``id_column``.

    Examples
    --------
    >>> from sklatent.migration import parse_store_uri
    >>> uri = parse_store_uri("lancedb://data/db/docs?column=emb")
    >>> uri.path, uri.table, uri.column, uri.id_column
    ('data/db', 'docs', 'emb', 'id')
    """
    scheme, sep, rest = str(uri).partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(
            f"{uri!r} is not a store URI; expected lancedb://DIR/TABLE?column=vector"
        )
    where, _, query = rest.partition("?")
    path, _, table = where.rstrip("/").rpartition("/")
    if not path or not table:
        raise ValueError(
            f"{uri!r} names no table; expected {scheme}://DIR/TABLE?column=vector"
        )
    try:
        options = dict(urllib.parse.parse_qsl(query, strict_parsing=bool(query)))
    except ValueError:
        raise ValueError(
            f"{uri!r} has a malformed query {query!r}; expected column=NAME&id=NAME"
        ) from None
    unknown = set(options) - {"column", "id"}
    if unknown:
        raise ValueError(
            f"{uri!r}: unknown option {sorted(unknown)[0]!r} "
            "(the options are column and id)"
        )
    return StoreURI(
        scheme, path, table, options.get("column", "vector"), options.get("id", "id")
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

    def count(self, where=None):
        """The number of rows (those where the SQL condition ``where`` holds)."""
        raise NotImplementedError

    def read_batches(self, columns, *, where=None, batch_size=16384):
        """Yield ``{column: values}`` batches of ``columns`` (vectors as 2-D arrays)."""
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

    def indices(self):
        """The store's indices: ``{name: [column, ...]}``."""
        return {}

    def description(self):
        """The store, as its URI says it."""
        return f"{self.uri.scheme}://{self.uri.path}/{self.uri.table}"


def _lancedb():
    try:
        import lancedb
        import pyarrow as pa
    except ImportError:
        raise ValueError(
            "lancedb:// stores need lancedb: pip install 'sklatent[lancedb]'"
        ) from None
    return lancedb, pa


def _sql_string(text):
    return "'" + text.replace("'", "''") + "'"


def _sql_name(name):
    return "`" + name.replace("`", "``") + "`"


class LanceDBStore(VectorStore):
    """A LanceDB table (embedded: a folder, no server).

    Each :meth:`write_batch` is one ``merge_insert`` on the id column: one
    commit (a new table version), so a batch is written whole or not at all.
    """

    def __init__(self, uri):
        super().__init__(uri)
        lancedb, self._pa = _lancedb()
        if not os.path.isdir(uri.path):
            raise ValueError(f"no LanceDB database at {uri.path!r} (no such folder)")
        db = lancedb.connect(uri.path)
        try:
            self.table = db.open_table(uri.table)
        except (ValueError, FileNotFoundError):
            raise ValueError(
                f"the LanceDB database {uri.path!r} has no table {uri.table!r}"
            ) from None
        if self.id_column not in self.columns():
            raise ValueError(
                f"{self.description()} has no id column {self.id_column!r} "
                "(name it with ?id=NAME)"
            )

    def columns(self):
        return list(self.table.schema.names)

    def width(self, column):
        field = self.table.schema.field(column)
        if not self._pa.types.is_fixed_size_list(field.type) or not (
            self._pa.types.is_floating(field.type.value_type)
        ):
            raise ValueError(
                f"column {column!r} of {self.description()} holds {field.type}, "
                "not vectors (fixed-size lists of floats)"
            )
        return field.type.list_size

    def count(self, where=None):
        return self.table.count_rows(where)

    def read_batches(self, columns, *, where=None, batch_size=16384):
        query = self.table.search().select(list(columns))
        if where is not None:
            query = query.where(where)
        pa = self._pa
        for batch in query.limit(None).to_batches(batch_size):
            values = {}
            for name in columns:
                column = batch.column(name)
                if pa.types.is_fixed_size_list(column.type):
                    flat = column.flatten().to_numpy(zero_copy_only=False)
                    column = flat.reshape(len(batch), column.type.list_size)
                else:
                    column = column.to_pylist()
                values[name] = column
            yield values

    def add_columns(self, specs):
        pa = self._pa
        fields = [
            pa.field(
                name, pa.string() if width is None else pa.list_(pa.float32(), width)
            )
            for name, width in specs.items()
        ]
        self.table.add_columns(pa.schema(fields))

    def write_batch(self, ids, values):
        pa = self._pa
        data = {self.id_column: ids}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                value = np.ascontiguousarray(value, dtype=np.float32)
                value = pa.FixedSizeListArray.from_arrays(
                    pa.array(value.ravel()), value.shape[1]
                )
            data[name] = value
        self.table.merge_insert(self.id_column).when_matched_update_all().execute(
            pa.table(data)
        )

    def rename(self, renames):
        self.table.alter_columns(
            *({"path": old, "rename": new} for old, new in renames.items())
        )

    def indices(self):
        return {index.name: list(index.columns) for index in self.table.list_indices()}


STORES = {"lancedb": LanceDBStore}


def open_store(uri):
    """Open the store a URI names (see :func:`parse_store_uri`).

    Parameters
    ----------
    uri : str, StoreURI or VectorStore
        The store (an opened one is returned as it is).

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
    if store.column not in store.columns():
        raise ValueError(
            f"{store.description()} has no column {store.column!r} "
            f"(columns: {', '.join(store.columns())})"
        )
    return store


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


def _missing(store, names):
    """SQL: the rows with a served vector whose shadow is not written."""
    shadow, served = _sql_name(names["shadow"]), _sql_name(store.column)
    return f"{shadow} IS NULL AND {served} IS NOT NULL"


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
        the shadow column exists).
    """
    store = open_store(store)
    names = _names(store.column)
    if names["shadow"] not in store.columns():
        return store.count(f"{_sql_name(store.column)} IS NOT NULL")
    return store.count(_missing(store, names))


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


def apply_to_store(bridge, store, *, batch_size=16384, progress=None):
    """Write ``bridge.transform`` of the served column into its shadow column.

    Reads the rows whose shadow is still empty ``batch_size`` at a time and
    writes each batch's translations with their stamps in one commit: memory
    stays bounded, and an interrupted run continues on the next call with
    the rows it had not written (none is written twice).

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted, ``direction="old-to-new"``.
    store : str or VectorStore
        A store URI or an opened store.
    batch_size : int, default=16384
        Rows per batch (and per commit).
    progress : callable or None, default=None
        Called with the number of rows written after each batch.

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
    stamp = bridge_stamp(bridge)
    shadow, shadow_stamp = names["shadow"], names["shadow_stamp"]
    if shadow in store.columns():
        if store.width(shadow) != bridge.new_width_:
            raise ValueError(
                f"the shadow column {shadow!r} holds vectors of "
                f"{store.width(shadow)} values; the bridge writes {bridge.new_width_}"
            )
        other = store.count(
            f"{_sql_name(shadow_stamp)} IS NOT NULL AND "
            f"{_sql_name(shadow_stamp)} != {_sql_string(stamp)}"
        )
        if other:
            raise ValueError(
                f"{other} rows of the shadow column {shadow!r} were written by "
                "another bridge (their stamps differ); finish with that bridge"
            )
    else:
        store.add_columns({shadow: bridge.new_width_, shadow_stamp: None})
    written = 0
    for batch in store.read_batches(
        [store.id_column, store.column],
        where=_missing(store, names),
        batch_size=batch_size,
    ):
        ids = batch[store.id_column]
        Z = bridge.transform(np.asarray(batch[store.column]))
        store.write_batch(ids, {shadow: Z, shadow_stamp: [stamp] * len(ids)})
        written += len(ids)
        if progress is not None:
            progress(len(ids))
    return written


def _stamps(store, column):
    """``[{...stamp, "rows": n}]`` of a stamp column, most rows first."""
    if column not in store.columns():
        return []
    counts = collections.Counter()
    for batch in store.read_batches([column], where=f"{_sql_name(column)} IS NOT NULL"):
        counts.update(batch[column])
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
        written; None without a shadow), and ``stamps`` (per column: each
        stamp and its row count).
    """
    store = open_store(store)
    names = _names(store.column)
    columns = store.columns()
    served = store.count(f"{_sql_name(store.column)} IS NOT NULL")
    stamps = {
        names[key]: _stamps(store, names[key + "_stamp"])
        for key in ("served", "shadow", "previous")
        if names[key] in columns
    }
    shadow_written = None
    if names["shadow"] in columns:
        written = store.count(f"{_sql_name(names['shadow'])} IS NOT NULL")
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
        "stamps": stamps,
        "indices": store.indices(),
    }


def _swap(store, a, b):
    """Renames moving columns ``a`` (and stamp) to ``b``: ``{old: new}``."""
    columns = store.columns()
    renames = {a: b}
    if a + STAMP in columns:
        renames[a + STAMP] = b + STAMP
    return renames


def cutover_store(store):
    """Serve the shadow column: the URI's column holds the new vectors after it.

    In one commit the served column (and its stamps) becomes
    ``COLUMN__previous`` and the shadow ``COLUMN``. Refuses a shadow that is
    not fully written.

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store.
    """
    store = open_store(store)
    names = _names(store.column)
    _check_not_cut_over(store, names)
    if names["shadow"] not in store.columns():
        raise ValueError(
            f"{store.description()} has no shadow column {names['shadow']!r}; "
            "write it first: sklatent migrate apply BRIDGE --store URI"
        )
    missing = store.count(_missing(store, names))
    if missing:
        raise ValueError(
            f"the shadow column {names['shadow']!r} misses {missing} rows; "
            "finish it first: sklatent migrate apply BRIDGE --store URI"
        )
    store.rename(
        {
            **_swap(store, names["served"], names["previous"]),
            **_swap(store, names["shadow"], names["served"]),
        }
    )


def rollback_store(store):
    """Serve the old vectors again, bit for bit: undo :func:`cutover_store`.

    In one commit the served column becomes the shadow again and
    ``COLUMN__previous`` the served one (``cutover`` again redoes it).

    Parameters
    ----------
    store : str or VectorStore
        A store URI or an opened store.
    """
    store = open_store(store)
    names = _names(store.column)
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
    store.rename(
        {
            **_swap(store, names["served"], names["shadow"]),
            **_swap(store, names["previous"], names["served"]),
        }
    )
