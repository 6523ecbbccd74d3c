"""Vector stores: a shadow column written through a bridge, cutover and rollback.

A vector store is named by a URI, ``lancedb://DIR/TABLE?column=vector``
(``&id=id`` names the id column; ``lancedb:///abs/dir/TABLE`` for an
absolute folder). :func:`open_store` opens it behind one small interface,
:class:`VectorStore`: read id/vector batches, write a column in batches,
list, add and rename columns, count rows. On it:

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
import hashlib
import json
import os
import shutil
import urllib.parse
import uuid

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import _version
from ._reembedded import reembedded_rows

SHADOW = "__shadow"
"""Suffix of the shadow column (the translated vectors being written)."""
PREVIOUS = "__previous"
"""Suffix of the column that keeps the served vectors after a cutover."""
STAMP = "__stamp"
"""Suffix of a vector column's stamp column (one JSON string a row)."""
SCHEMES = {
    "lancedb": ("TABLE", {"column": "vector", "id": "id"}),
    "qdrant": ("COLLECTION", {"vector": None}),
}
"""Each scheme's ``DIR/NAME`` and its options with their defaults (a Qdrant
store's ids are its point ids; its vector defaults to the collection's only
one)."""


StoreURI = collections.namedtuple("StoreURI", "scheme path table column id_column")


def _usage(scheme):
    name, options = SCHEMES[scheme]
    query = "&".join(f"{key}=NAME" for key in options)
    return f"{scheme}://DIR/{name}?{query}"


def parse_store_uri(uri):
    """Parse a store URI: ``lancedb://DIR/TABLE?column=vector&id=id`` or
    ``qdrant://DIR/COLLECTION?vector=NAME``.

    Parameters
    ----------
    uri : str
        ``SCHEME://DIR/NAME`` and a query. ``lancedb``: the served ``column``
        (default ``vector``) and the ``id`` column (default ``id``) of table
        ``NAME``. ``qdrant``: the ``vector`` (named; default: the
        collection's only one) of the collection or alias ``NAME``, in the
        folder of a local ``QdrantClient(path=DIR)``. ``DIR`` is relative to
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
    """
    scheme, sep, rest = str(uri).partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(
            f"{uri!r} is not a store URI; expected "
            + " or ".join(_usage(scheme) for scheme in SCHEMES)
        )
    name, defaults = SCHEMES[scheme]
    where, _, query = rest.partition("?")
    path, _, table = where.rstrip("/").rpartition("/")
    if not path or not table:
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
            f"(the options are {' and '.join(defaults)})"
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


def _lancedb():
    try:
        import lancedb
        import pyarrow as pa
    except ImportError:
        raise ValueError(
            "lancedb:// stores need lancedb: pip install 'sklatent[lancedb]'"
        ) from None
    return lancedb, pa


def _lance():
    """Lance's own package (``pylance``): fragments, data files, commits."""
    # Lance logs every DataReplacement commit as a warning (a young operation);
    # keep the command's output to its own lines unless the user set a level.
    os.environ.setdefault("LANCE_LOG", "error")
    try:
        import lance
        from lance.file import LanceFileWriter
        from lance.fragment import DataFile
    except ImportError:
        raise ValueError(
            "lancedb:// stores need pylance: pip install 'sklatent[lancedb]'"
        ) from None
    return lance, LanceFileWriter, DataFile


STAGING = "_sklatent_staging"
"""Folder, inside a Lance table's folder, of the batches written but not committed."""


def _arrow_column(pa, values, type_, positions=None, length=None):
    """``values`` as an arrow array of ``type_``; with ``positions``, placed there
    in an array of ``length`` rows whose other rows are null."""
    if isinstance(values, np.ndarray):
        values = np.ascontiguousarray(values, dtype=np.float32)
        mask = None
        if positions is not None:
            full = np.zeros((length, values.shape[1]), np.float32)
            full[positions] = values
            mask = np.ones(length, bool)
            mask[positions] = False
            values, mask = full, pa.array(mask)
        return pa.FixedSizeListArray.from_arrays(
            pa.array(values.ravel()), values.shape[1], mask=mask
        )
    if positions is not None:
        full = [None] * length
        for position, value in zip(positions, values, strict=True):
            full[position] = value
        values = full
    return pa.array(values, type_)


def _vectors(column):
    """A fixed-size list array without nulls as a 2-D numpy array."""
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(column), column.type.list_size)


def _values(column):
    """An arrow array as a migration reads it: vectors 2-D, the rest a list."""
    if hasattr(column.type, "list_size"):  # a fixed-size list
        return _vectors(column)
    return column.to_pylist()


def _sql_name(name):
    return "`" + name.replace("`", "``") + "`"


class LanceDBStore(VectorStore):
    """A LanceDB table (embedded: a folder, no server).

    :meth:`fill` writes a column a fragment (a data file of the table) at a
    time, with no join: each batch of a fragment's rows is staged in a file
    of its own (in ``TABLE.lance/_sklatent_staging``), and when the fragment
    is complete its new column is written as one new data file of the
    fragment and committed (Lance's ``DataReplacement``), one table version.
    A call interrupted, even by ``kill -9``, resumes after its last staged
    batch; memory stays that of a batch, whatever the table's size. Rows
    left empty in fragments that already hold the column, and
    :meth:`write_batch`, go through a ``merge_insert`` on the id column (one
    commit a batch, which joins the batch with the whole table).
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

    def _ranges(self, fragment, columns, batch_size, *, start=0):
        """Yield ``(start, stop, rows)``: ``columns`` (and ``_rowaddr``) of the
        rows of ``fragment``, ``batch_size`` physical rows at a time (from
        ``start``), as one-chunk tables; ranges whose rows are all deleted
        are left out.

        One scan a range: a scan of a whole fragment reads its pages ahead
        (the whole column, when it was written in large batches: the memory
        grew with the table), a scan of a range only the pages it covers.
        A condition on a vector column is evaluated here, not by Lance, whose
        filter on it read the fragment's whole column again for every range.
        """
        base = fragment.fragment_id << 32
        size = fragment.metadata.physical_rows
        for lo in range(start, size, batch_size):
            hi = min(lo + batch_size, size)
            batches = [
                batch
                for batch in fragment.to_batches(
                    columns=list(columns),
                    filter=f"_rowaddr >= {base + lo} AND _rowaddr < {base + hi}",
                    with_row_address=True,
                    batch_size=batch_size,
                )
                if batch.num_rows
            ]
            if batches:
                yield lo, hi, self._pa.Table.from_batches(batches).combine_chunks()

    def _rows(self, columns, present, empty, batch_size, fragments=None):
        """One-chunk tables of ``columns`` of the rows with a value in every
        ``present`` column and none in any ``empty`` column."""
        import pyarrow.compute as pc

        _lance()
        if fragments is None:
            fragments = self.table.to_lance().get_fragments()
        read = list(dict.fromkeys([*columns, *present, *empty]))
        for fragment in fragments:
            for _, _, rows in self._ranges(fragment, read, batch_size):
                keep = None
                for name, wanted in [(n, True) for n in present] + [
                    (n, False) for n in empty
                ]:
                    mask = rows.column(name).is_valid()
                    mask = mask if wanted else pc.invert(mask)
                    keep = mask if keep is None else pc.and_(keep, mask)
                if keep is not None:
                    rows = rows.filter(keep)
                if rows.num_rows:
                    yield rows.select(list(columns)).combine_chunks()

    def count(self, *, present=(), empty=()):
        if not present and not empty:
            return self.table.count_rows()
        return sum(rows.num_rows for rows in self._rows([], present, empty, 16384))

    def read_batches(
        self, columns, *, present=(), empty=(), batch_size=16384, fragments=None
    ):
        """As :meth:`VectorStore.read_batches`; ``fragments``: of those only."""
        for rows in self._rows(columns, present, empty, batch_size, fragments):
            yield {name: _values(rows.column(name).chunk(0)) for name in columns}

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
        schema = self.table.schema
        data = {self.id_column: ids}
        for name, value in values.items():
            data[name] = _arrow_column(pa, value, schema.field(name).type)
        self.table.merge_insert(self.id_column).when_matched_update_all().execute(
            pa.table(data)
        )

    def fill(self, source, target, func, *, key, batch_size=16384, progress=None):
        _lance()
        dataset = self.table.to_lance()
        if dataset.data_storage_version.startswith("0."):  # legacy files
            return super().fill(
                source, target, func, key=key, batch_size=batch_size, progress=progress
            )
        field = {f.name(): f.id() for f in dataset.lance_schema.fields()}[target]
        written = [
            fragment
            for fragment in dataset.get_fragments()
            if any(field in file.fields for file in fragment.metadata.files)
        ]
        count = self._fill_fragments(
            dataset, source, target, func, key, batch_size, progress
        )
        # rows emptied in fragments already written (a row rewritten since):
        # a merge_insert of those rows
        left = [
            fragment
            for fragment in written
            if fragment.count_rows(f"{_sql_name(target)} IS NULL")
        ]
        batches = self.read_batches(
            [self.id_column, source],
            present=[source],
            empty=[target],
            batch_size=batch_size,
            fragments=left,
        )
        return count + self._write_batches(batches, source, func, progress)

    def _fill_fragments(self, dataset, source, target, func, key, batch_size, progress):
        """Fill ``target`` in the fragments that have no data file for it."""
        ids = {field.name(): field.id() for field in dataset.lance_schema.fields()}
        todo = {}
        for fragment in dataset.get_fragments():
            files = fragment.metadata.files
            if any(ids[target] in file.fields for file in files):
                continue
            source_file = [file.path for file in files if ids[source] in file.fields]
            if source_file:  # else the source is empty in the whole fragment
                # staged work is valid for these source data and this key only
                digest = hashlib.sha1((source_file[0] + "\0" + key).encode())
                todo[f"{fragment.fragment_id}-{digest.hexdigest()[:16]}"] = fragment
        staging = os.path.join(dataset.uri, STAGING, target)
        if os.path.isdir(staging):
            for name in set(os.listdir(staging)) - set(todo):
                shutil.rmtree(os.path.join(staging, name))
        written = 0
        for name, fragment in todo.items():
            folder = os.path.join(staging, name)
            os.makedirs(folder, exist_ok=True)
            written += self._stage(fragment, folder, source, func, batch_size, progress)
            if any(name.endswith(".arrow") for name in os.listdir(folder)):
                dataset = self._commit(dataset, fragment.metadata, folder, ids)
            shutil.rmtree(folder)
        self.table.checkout_latest()
        return written

    def _staged_folders(self, target):
        """The staging folders of fragments still to fill (stale ones too)."""
        _lance()
        dataset = self.table.to_lance()
        staging = os.path.join(dataset.uri, STAGING, target)
        if target not in self.columns() or not os.path.isdir(staging):
            return []
        field = {f.name(): f.id() for f in dataset.lance_schema.fields()}[target]
        todo = {
            str(fragment.fragment_id)
            for fragment in dataset.get_fragments()
            if not any(field in file.fields for file in fragment.metadata.files)
        }
        return [
            os.path.join(staging, name)
            for name in os.listdir(staging)
            if name.split("-")[0] in todo
        ]

    def staged(self, target, column):
        import pyarrow.compute as pc

        counts = collections.Counter()
        for folder in self._staged_folders(target):
            for part in os.listdir(folder):
                if part.endswith(".arrow"):
                    with self._pa.memory_map(os.path.join(folder, part)) as source:
                        table = self._pa.ipc.open_file(source).read_all()
                        for item in pc.value_counts(table.column(column).drop_null()):
                            counts[item["values"].as_py()] += item["counts"].as_py()
        return counts

    def _stage(self, fragment, folder, source, func, batch_size, progress):
        """Write the ranges of a fragment not staged yet, each in its own file
        (``START-STOP.arrow``, physical row offsets), renamed into place whole.

        A range without a ``source`` vector is not staged (its rows stay null).
        """
        pa = self._pa
        parts = sorted(name for name in os.listdir(folder) if name.endswith(".arrow"))
        written = 0
        schema = self.table.schema
        for start, stop, rows in self._ranges(
            fragment, [source], batch_size, start=int(parts[-1][11:21]) if parts else 0
        ):
            column = rows.column(source).chunk(0)
            valid = column.is_valid().to_numpy(zero_copy_only=False)
            if not valid.any():
                continue
            offsets = rows.column("_rowaddr").chunk(0).to_numpy() - (
                fragment.fragment_id << 32
            )
            positions = (offsets[valid] - start).astype(np.intp)
            if len(positions) == stop - start:
                positions = None  # every row of the range: no nulls to place
            vectors = _vectors(column.filter(column.is_valid()))
            values = func(vectors)
            part = pa.record_batch(
                [
                    _arrow_column(
                        pa, value, schema.field(name).type, positions, stop - start
                    )
                    for name, value in values.items()
                ],
                names=list(values),
            )
            path = os.path.join(folder, f"{start:010d}-{stop:010d}.arrow")
            with (
                pa.OSFile(path + ".tmp", "wb") as sink,
                pa.ipc.new_file(sink, part.schema) as writer,
            ):
                writer.write_batch(part)
            os.replace(path + ".tmp", path)
            written += len(vectors)
            if progress is not None:
                progress(len(vectors))
        return written

    def _commit(self, dataset, metadata, folder, ids):
        """Write a fragment's staged batches as one data file and commit it."""
        lance, LanceFileWriter, DataFile = _lance()
        pa = self._pa
        parts = sorted(name for name in os.listdir(folder) if name.endswith(".arrow"))
        name = f"{uuid.uuid4().hex}.lance"
        path = os.path.join(dataset.uri, "data", name)
        writer, rows = None, 0

        def nulls(n):  # rows between the staged ones: deleted or without a source
            if n:
                writer.write_batch(
                    pa.record_batch(
                        [pa.nulls(n, field.type) for field in schema], schema=schema
                    )
                )

        for part in parts:
            with pa.memory_map(os.path.join(folder, part)) as source:
                reader = pa.ipc.open_file(source)
                if writer is None:
                    names = reader.schema.names
                    schema = pa.schema([self.table.schema.field(n) for n in names])
                    writer = LanceFileWriter(
                        path, schema, version=dataset.data_storage_version
                    )
                nulls(int(part[:10]) - rows)
                for i in range(reader.num_record_batches):
                    writer.write_batch(reader.get_batch(i))
            rows = int(part[11:21])
        nulls(metadata.physical_rows - rows)
        writer.close()
        major, minor = map(int, dataset.data_storage_version.split("."))
        file = DataFile(
            name,
            [ids[n] for n in names],
            list(range(len(names))),
            major,
            minor,
            os.path.getsize(path),
        )
        replace = lance.LanceOperation.DataReplacement(
            [lance.LanceOperation.DataReplacementGroup(metadata.id, file)]
        )
        return lance.LanceDataset.commit(
            dataset.uri, replace, read_version=dataset.version
        )

    def rename(self, renames):
        self.table.alter_columns(
            *({"path": old, "rename": new} for old, new in renames.items())
        )

    def indices(self):
        return {index.name: list(index.columns) for index in self.table.list_indices()}


def _qdrant():
    try:
        from qdrant_client import QdrantClient, models
    except ImportError:
        raise ValueError(
            "qdrant:// stores need qdrant-client: pip install 'sklatent[qdrant]'"
        ) from None
    return QdrantClient, models


class QdrantStore(VectorStore):
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

    def columns(self):
        return list(self._layout())

    def width(self, column):
        collection, kind = self._layout()[column]
        if kind != "vector":
            raise ValueError(
                f"column {column!r} of {self.description()} holds "
                f"{'point ids' if kind == 'id' else 'stamps'}, not vectors"
            )
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

    def count(self, *, present=(), empty=()):
        if not present and not empty:
            return self.client.count(self.served, exact=True).count
        return sum(
            len(batch[self.id_column])
            for batch in self.read_batches(
                [self.id_column], present=present, empty=empty
            )
        )

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
            keep = [
                k
                for k in range(len(ids))
                if all(values[name][k] is not None for name in present)
                and all(values[name][k] is None for name in empty)
            ]
            if keep:
                batch = {}
                for name in columns:
                    column = [values[name][k] for k in keep]
                    if layout[name][1] == "vector":
                        column = np.asarray(column, np.float32)
                    batch[name] = column
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


STORES = {"lancedb": LanceDBStore, "qdrant": QdrantStore}


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


def apply_to_store(bridge, store, *, batch_size=16384, progress=None, reembedded=None):
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
    batch_size : int, default=16384
        Rows per batch (translated, and staged or committed, at once).
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
        batch_size=batch_size,
        progress=progress,
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
    store.serve(names["previous"])
