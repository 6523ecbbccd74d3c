"""LanceDB tables as vector stores (embedded: a folder, no server)."""

import collections
import hashlib
import os
import shutil
import uuid

import numpy as np

from ._vector_stores import VectorStore


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

    def drop(self, columns):
        """Delete columns (their data files go at the table's next
        ``cleanup_old_versions``, which also drops the versions a
        ``checkout`` could restore them from)."""
        self.table.drop_columns(list(columns))

    def indices(self):
        return {index.name: list(index.columns) for index in self.table.list_indices()}
