"""FAISS index files as vector stores: the corpus side of a migration.

A flat index file (``IndexFlat``, ``IndexFlatL2``, ``IndexFlatIP``, or an
``IndexIDMap``/``IndexIDMap2`` over one) holds its vectors as one float32
block after a short header, and an ``IndexIDMap``'s ids as one int64 block
after them; an ``IndexHNSWFlat`` writes its graph, then its vectors as a flat
index. This module reads the vectors and ids memory-mapped (no FAISS needed,
whatever the index's size) and writes the shadow of a flat index in FAISS's
own format: the served file's header with the new width, the translated
vectors, the same ids. The shadow of an ``IndexHNSWFlat`` is written as a
flat index first, then FAISS builds the graph of the translated vectors
with the served index's parameters; that of an ``IndexIVFFlat`` (read by
FAISS) too, then FAISS trains as many lists on the translated vectors. The
files of a store ``FILE``:

- ``FILE``: the served index, the one the application reads;
- ``FILE.shadow``: the index of the translated vectors, with the same ids in
  the same order; ``FILE.previous``: the old index after a cutover;
- ``INDEX.stamps.json``: each row's stamp of an index (run-length encoded);
- ``FILE.shadow.partial`` with ``.rows.npy`` and ``.json``: the shadow being
  written (memory-mapped), each row's stamp code (0 until the row is
  written and flushed: the progress record) and the stamps and the served
  file it translates;
- ``FILE.switch.json``: the steps of a cutover or rollback under way.
"""

import json
import os
import shutil
import struct

import numpy as np

from .._files import atomic_path
from ._vector_stores import PREVIOUS, SHADOW, STAMP, VectorStore

_HEADER = struct.Struct("<4siqqq?i")
"""An index's header: fourcc, d, ntotal, two unused int64, is_trained, metric
(a float32 metric_arg follows for metrics above inner product and L2)."""
FLAT = {b"IxFI": "IndexFlatIP", b"IxF2": "IndexFlatL2", b"IxFl": "IndexFlat"}
IDMAPS = {b"IxMp": "IndexIDMap", b"IxM2": "IndexIDMap2"}
HNSW = b"IHNf"
IVF_FLAT = b"IwFl"
SUPPORTED = (
    "IndexFlat (L2, inner product), IndexHNSWFlat, or an IndexIDMap/IndexIDMap2 "
    "over one, or an IndexIVFFlat"
)


class _Index:
    """Where an index file keeps its vectors and ids.

    Attributes: ``path``, ``kind`` (the index's name), ``d``, ``n``,
    ``codes`` (the vectors' offset), ``ids`` (the ids' offset; None: the ids
    are the positions), ``outer`` (the bytes of an ``IndexIDMap``'s header,
    else empty), ``flat`` (the flat index's header, up to the vectors; an
    ``IndexHNSWFlat``'s storage's), ``rebuilt`` (whether FAISS builds the
    shadow from a flat file of the translated vectors: an HNSW or an IVF).
    """

    def __init__(self, path, kind, d, n, codes, ids, outer, flat, hnsw):
        self.path, self.kind, self.d, self.n = path, kind, d, n
        self.codes, self.ids, self.outer, self.flat = codes, ids, outer, flat
        self.rebuilt = hnsw

    def vectors(self, mode="r"):
        return np.memmap(
            self.path, np.float32, mode, offset=self.codes, shape=(self.n, self.d)
        )

    def id_values(self):
        if self.ids is None:
            return np.arange(self.n, dtype=np.int64)
        return np.memmap(self.path, np.int64, "r", offset=self.ids, shape=(self.n,))

    def rebuild(self, faiss, d):
        """An empty ``IndexHNSWFlat`` of width ``d`` (under the same
        ``IndexIDMap``) with this one's parameters (M, efConstruction,
        efSearch, metric), and whether it takes ids."""
        served = faiss.read_index(self.path, faiss.IO_FLAG_SKIP_STORAGE)
        hnsw = faiss.downcast_index(served.index) if self.outer else served
        built = faiss.IndexHNSWFlat(d, hnsw.hnsw.nb_neighbors(1), hnsw.metric_type)
        built.hnsw.efConstruction = hnsw.hnsw.efConstruction
        built.hnsw.efSearch = hnsw.hnsw.efSearch
        if not self.outer:
            return built, False
        return getattr(faiss, IDMAPS[self.outer[:4]])(built), True


class _IVFIndex(_Index):
    """An ``IndexIVFFlat``, read by FAISS: its vectors and ids in memory, in
    the order of the ids (a row's list changes when the lists are trained
    again; its id does not)."""

    def __init__(self, path, faiss, where):
        try:
            index = faiss.read_index(path)
        except RuntimeError:
            raise ValueError(
                f"{where} is a truncated or damaged FAISS index file"
            ) from None
        self.nlist, self.nprobe, self.metric = (
            index.nlist,
            index.nprobe,
            index.metric_type,
        )
        invlists, vectors, ids = index.invlists, [], []
        for key in range(index.nlist):
            size = invlists.list_size(key)
            if not size:
                continue
            codes = faiss.rev_swig_ptr(invlists.get_codes(key), size * index.code_size)
            vectors.append(np.frombuffer(codes, np.float32).reshape(size, index.d))
            ids.append(faiss.rev_swig_ptr(invlists.get_ids(key), size).copy())
        ids = np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, np.int64)
        order = np.argsort(ids, kind="stable")  # a retrained index has other lists
        self._ids = ids[order]
        if np.any(np.diff(self._ids) == 0):
            raise ValueError(
                f"{where} repeats ids: an IndexIVFFlat is migrated row by row by "
                "its ids, which must be unique"
            )
        self._vectors = (
            np.concatenate(vectors)[order] if vectors else np.zeros((0, index.d))
        )
        flat = bytearray(faiss.serialize_index(faiss.IndexFlat(index.d, self.metric)))
        struct.pack_into("<q", flat, 8, index.ntotal)
        super().__init__(
            path,
            "IndexIVFFlat",
            index.d,
            index.ntotal,
            None,
            None,
            b"",
            bytes(flat),
            True,
        )

    def vectors(self, mode="r"):
        return self._vectors

    def id_values(self):
        return self._ids

    def rebuild(self, faiss, d):
        """An empty ``IndexIVFFlat`` of width ``d``, as many lists, the same
        nprobe and metric (trained by the caller), and True: it takes ids."""
        built = faiss.IndexIVFFlat(
            faiss.IndexFlat(d, self.metric), d, self.nlist, self.metric
        )
        built.nprobe = self.nprobe
        return built, True


def _header(data, offset):
    """``(fourcc, d, n, offset after the header)`` of the header at ``offset``."""
    fourcc, d, n, _, _, _, metric = _HEADER.unpack_from(data, offset)
    return fourcc, d, n, offset + _HEADER.size + (4 if metric > 1 else 0)


def _faiss(where):
    try:
        import faiss
    except ImportError:
        raise ValueError(
            f"{where} is an index FAISS rebuilds: pip install 'sklatent[faiss]'"
        ) from None
    return faiss


def _index_name(path):
    """The class of the index in ``path`` as FAISS reads it (None: unreadable)."""
    try:
        import faiss

        index = faiss.read_index(path, faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except (ImportError, RuntimeError):
        return None
    name = type(index).__name__
    inner = getattr(index, "index", None)
    if inner is not None:
        name += f" over {type(faiss.downcast_index(inner)).__name__}"
    return name


def _refuse(path, where):
    name = _index_name(path)
    if name is None:
        raise ValueError(f"{where} is not a FAISS index file")
    raise ValueError(
        f"{where} holds an {name}: a migration rebuilds an {SUPPORTED} (an index "
        "trained on its vectors would have to be trained again in the new "
        "space); serve new-model queries from it with sklatent migrate "
        "export-faiss instead"
    )


def read_index_layout(path, where):
    """The layout of the index file ``path`` (``where`` names it in errors).

    A flat index's vectors follow its header; an ``IndexHNSWFlat`` writes its
    storage (a flat index) last, so its vectors end the file (before the ids
    of an ``IndexIDMap`` over it).
    """
    size = os.path.getsize(path)
    damaged = f"{where} is a truncated or damaged FAISS index file"
    with open(path, "rb") as file:
        head = file.read(2 * (_HEADER.size + 4) + 8)
        try:
            outer, n_outer = b"", None
            fourcc, d, n, offset = _header(head, 0)
            if fourcc in IDMAPS:
                outer, n_outer = head[:offset], n
                fourcc, d, n, offset = _header(head, offset)
        except struct.error:
            fourcc = None
        if fourcc == IVF_FLAT and not outer:
            return _IVFIndex(path, _faiss(where), where)
        if fourcc not in FLAT and fourcc != HNSW:
            _refuse(path, where)
        hnsw = fourcc == HNSW
        if hnsw:  # the storage's header: its length from the HNSW's metric
            length = offset - len(outer) + 8
            tail = 4 * n * d + (8 + 8 * n if outer else 0)
            start = size - tail - length
            if start < offset:
                raise ValueError(damaged)
            file.seek(start)
            flat = file.read(length)
        else:
            start, flat = len(outer), head[len(outer) : offset + 8]
        try:
            kind, d_flat, n_flat, _ = _header(flat, 0)
            (count,) = struct.unpack_from("<Q", flat, len(flat) - 8)
        except struct.error:
            raise ValueError(damaged) from None
        codes = start + len(flat)
        end = codes + 4 * n * d
        ids = None
        if outer:
            file.seek(end)
            (m,) = struct.unpack("<Q", file.read(8).ljust(8, b"\0"))
            ids, end = end + 8, end + 8 + 8 * m
        if (
            kind not in FLAT
            or (d_flat, n_flat, count) != (d, n, n * d)
            or n_outer not in (None, n)
            or end != size
        ):
            raise ValueError(damaged)
    name = "IndexHNSWFlat" if hnsw else FLAT[kind]
    if outer:
        name = f"{IDMAPS[outer[:4]]} over {name}"
    return _Index(path, name, d, n, codes, ids, outer, flat, hnsw)


def _identity(path):
    stat = os.stat(path)
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _write_json(path, value):
    with atomic_path(path) as tmp, open(tmp, "w") as file:
        json.dump(value, file)
        file.flush()
        os.fsync(file.fileno())


def _read_json(path):
    with open(path) as file:
        return json.load(file)


def _runs(codes):
    """Run-length encoding of a row's stamp codes: ``[[code, rows], ...]``."""
    if not len(codes):
        return []
    starts = np.flatnonzero(np.diff(codes)) + 1
    bounds = np.concatenate([[0], starts, [len(codes)]])
    pairs = zip(bounds[:-1], bounds[1:], strict=True)
    return [[int(codes[a]), int(b - a)] for a, b in pairs]


class FaissStore(VectorStore):
    """A FAISS index file (``faiss://FILE``): a flat index or an
    ``IndexHNSWFlat``, or an ``IndexIDMap``/``IndexIDMap2`` over one, or an
    ``IndexIVFFlat``.

    The interface's columns are the ids (``id``: the ``IndexIDMap``'s, else
    the positions), the served vectors (``vector``: the index ``FILE``), the
    shadow (``vector__shadow``: ``FILE.shadow``, a new index of the same
    type, metric and ids, of the bridge's width) or the old vectors after a
    cutover (``vector__previous``: ``FILE.previous``), and their stamps.

    :meth:`fill` writes the translated vectors, a batch at a time, into the
    shadow index file being built (``FILE.shadow.partial``, memory-mapped in
    FAISS's own layout) and flushes them before it records the batch's rows
    as written (their stamp codes, ``FILE.shadow.partial.rows.npy``, flushed
    in turn): an interrupted run, even by ``kill -9``, resumes with the rows
    not recorded, and none is written twice. When every row is written the
    file is renamed ``FILE.shadow`` (one :func:`os.replace`); for an
    ``IndexHNSWFlat`` FAISS builds the graph (same M, efConstruction,
    efSearch and metric) from it into ``FILE.shadow``, written atomically,
    and for an ``IndexIVFFlat`` trains as many lists (same nprobe and
    metric) on it. A cutover
    moves ``FILE`` to ``FILE.previous`` (a hard link: ``FILE`` is never
    missing) and ``FILE.shadow`` onto ``FILE`` (one :func:`os.replace`), the
    stamps with them, and a rollback the other way, each step recorded
    first in ``FILE.switch.json``: an interrupted switch is found by the
    next command and finished by running the same one again.
    """

    def __init__(self, uri):
        super().__init__(uri)
        self.file = os.path.join(uri.path, uri.table)
        self.column, self.id_column = "vector", "id"
        if not os.path.isfile(self.file):
            raise ValueError(f"no FAISS index file {self.file!r}")
        self.partial = self.file + ".shadow.partial"
        self.journal = self.file + ".switch.json"
        if not self.interrupted():
            self.served = read_index_layout(self.file, self.description())
            self._clean()

    def description(self):
        return f"faiss://{self.file}"

    def _path(self, column):
        """The file of a column (the built index for the shadow)."""
        if column.endswith(STAMP):
            return self._path(column.removesuffix(STAMP)) + ".stamps.json"
        suffix = {"": "", SHADOW: ".shadow", PREVIOUS: ".previous"}
        return self.file + suffix[column.removeprefix(self.column)]

    def _partial_meta(self):
        """The shadow being written: its record, or None (none, or one of
        another served file: stale)."""
        try:
            meta = _read_json(self.partial + ".json")
        except (FileNotFoundError, ValueError):
            return None
        if not (
            os.path.isfile(self.partial)
            and os.path.isfile(self.partial + ".rows.npy")
            and meta["source"] == _identity(self.file)
        ):
            return None
        return meta

    def _clean(self):
        """Remove what a finished shadow (or a stale one) left behind."""
        built = os.path.isfile(self._path(self.column + SHADOW))
        if built or self._partial_meta() is None:
            for name in ("", ".rows.npy", ".json"):
                if os.path.exists(self.partial + name):
                    os.unlink(self.partial + name)

    def _shadow_state(self):
        """``"built"``, ``"partial"`` or None."""
        if os.path.isfile(self._path(self.column + SHADOW)):
            return "built"
        return "partial" if self._partial_meta() is not None else None

    def columns(self):
        shadow, previous = self.column + SHADOW, self.column + PREVIOUS
        names = [self.id_column, self.column]
        if self._shadow_state():
            names.append(shadow)
        if os.path.isfile(self._path(previous)):
            names.append(previous)
        stamps = [name + STAMP for name in names[1:]]
        return names + [
            name
            for name in stamps
            if os.path.isfile(self._path(name))
            or (name == shadow + STAMP and self._shadow_state() == "partial")
        ]

    def _index(self, column):
        """The :class:`_Index` of a vector column."""
        if column == self.column + SHADOW and self._shadow_state() == "partial":
            return read_index_layout(self.partial, self.description() + " (shadow)")
        if column == self.column:
            return self.served
        return read_index_layout(self._path(column), f"{self._path(column)!r}")

    def width(self, column):
        if column == self.id_column or column.endswith(STAMP):
            raise ValueError(
                f"column {column!r} of {self.description()} holds "
                f"{'ids' if column == self.id_column else 'stamps'}, not vectors"
            )
        return self._index(column).d

    def _codes(self, column):
        """The stamp codes of a stamp column's rows (0: none) and the stamps."""
        vectors = column.removesuffix(STAMP)
        if vectors == self.column + SHADOW and self._shadow_state() == "partial":
            meta = self._partial_meta()
            return np.load(self.partial + ".rows.npy", mmap_mode="r"), meta["stamps"]
        record = _read_json(self._path(column))
        codes = np.repeat(*np.array(record["runs"], np.int64).reshape(-1, 2).T)
        return codes, record["stamps"]

    def _present(self, column):
        """Which rows have a value in ``column`` (None: all)."""
        if column.endswith(STAMP):
            return np.asarray(self._codes(column)[0]) != 0
        if column == self.column + SHADOW and self._shadow_state() == "partial":
            return np.asarray(self._codes(column + STAMP)[0]) != 0
        return None

    def _select(self, present, empty, batch_size):
        """Yield ``(start, rows)``: the positions of each range of
        ``batch_size`` rows that have a value in every ``present`` column and
        none in any ``empty`` column (None: every row of the range)."""
        keep = np.ones(self.served.n, bool)
        for name in present:
            has = self._present(name)
            if has is not None:
                keep &= has
        for name in empty:
            has = self._present(name)
            keep &= False if has is None else ~has
        whole = bool(keep.all())
        for start in range(0, self.served.n, batch_size):
            stop = min(start + batch_size, self.served.n)
            if whole:
                yield start, slice(start, stop)
                continue
            rows = start + np.flatnonzero(keep[start:stop])
            if len(rows):
                yield start, rows

    def count(self, *, present=(), empty=()):
        return sum(
            len(range(self.served.n)[rows]) if isinstance(rows, slice) else len(rows)
            for _, rows in self._select(present, empty, self.served.n or 1)
        )

    def _reader(self, name):
        """A function of rows (positions): their values of column ``name``."""
        if name == self.id_column:
            ids = self.served.id_values()
            return lambda rows: ids[rows].tolist()
        if name.endswith(STAMP):
            codes, stamps = self._codes(name)
            table = [None, *stamps]
            return lambda rows: [table[code] for code in codes[rows]]
        vectors = self._index(name).vectors()
        return lambda rows: np.array(vectors[rows], np.float32)

    def read_batches(self, columns, *, present=(), empty=(), batch_size=16384):
        readers = {name: self._reader(name) for name in columns}
        for _, rows in self._select(present, empty, batch_size):
            yield {name: read(rows) for name, read in readers.items()}

    def add_columns(self, specs):
        shadow = self.column + SHADOW
        if set(specs) != {shadow, shadow + STAMP} or self._shadow_state():
            raise ValueError(
                f"{self.description()} takes only a shadow index ({shadow!r} and "
                "its stamps), as a file of its own"
            )
        served, d = self.served, specs[shadow]
        outer, flat = bytearray(served.outer), bytearray(served.flat)
        # the partial shadow of an index FAISS rebuilds is a flat index (no ids)
        for header in [flat] if served.rebuilt or not outer else [outer, flat]:
            struct.pack_into("<i", header, 4, d)
        struct.pack_into("<Q", flat, len(flat) - 8, served.n * d)
        prefix = flat if served.rebuilt else outer + flat
        self._clean()
        with atomic_path(self.partial) as tmp, open(tmp, "wb") as out:
            out.write(prefix)
            out.truncate(len(prefix) + 4 * served.n * d)
            if served.ids is not None and not served.rebuilt:  # the same ids
                out.seek(0, os.SEEK_END)
                with open(self.file, "rb") as source:
                    source.seek(served.ids - 8)
                    shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())
        with atomic_path(self.partial + ".rows.npy", suffix=".npy") as tmp:
            np.lib.format.open_memmap(tmp, "w+", np.int32, (served.n,)).flush()
        _write_json(
            self.partial + ".json",
            {"source": _identity(self.file), "width": d, "stamps": []},
        )

    def _positions(self, ids):
        """The rows of ``ids``."""
        ids = np.asarray(ids, np.int64)
        if self.served.ids is None and not self.served.rebuilt:
            return ids
        known = self.served.id_values()
        order = np.argsort(known, kind="stable")
        return order[np.searchsorted(known, ids, sorter=order)]

    def write_batch(self, ids, values):
        self._write_rows(self._positions(ids), values)

    def _write_rows(self, rows, values):
        """Write the shadow's vectors of ``rows``, flush them, then record them."""
        shadow = self.column + SHADOW
        if set(values) != {shadow, shadow + STAMP} or (
            self._shadow_state() != "partial"
        ):
            raise ValueError(
                f"{self.description()} writes only a shadow index being built"
            )
        meta = self._partial_meta()
        stamps = meta["stamps"]
        new = [s for s in dict.fromkeys(values[shadow + STAMP]) if s not in stamps]
        if new:
            stamps += new
            _write_json(self.partial + ".json", meta)
        code = {stamp: i + 1 for i, stamp in enumerate(stamps)}
        index = read_index_layout(self.partial, self.description() + " (shadow)")
        vectors = index.vectors("r+")
        vectors[rows] = np.asarray(values[shadow], np.float32)
        vectors.flush()
        del vectors
        written = np.load(self.partial + ".rows.npy", mmap_mode="r+")
        written[rows] = [code[stamp] for stamp in values[shadow + STAMP]]
        written.flush()

    def fill(self, source, target, func, *, key, batch_size=16384, progress=None):
        vectors = self._index(source).vectors()
        written = 0
        for _, rows in self._select([source], [target], batch_size):
            values = func(np.array(vectors[rows], np.float32))
            self._write_rows(rows, values)
            n = len(values[target])
            written += n
            if progress is not None:
                progress(n)
        self._finish()
        return written

    def _finish(self):
        """Make a fully written partial shadow ``FILE.shadow`` (renamed, or
        the index FAISS builds from it), its stamps first."""
        if self._shadow_state() != "partial":
            return
        meta = self._partial_meta()
        codes = np.load(self.partial + ".rows.npy")
        if not codes.all():
            return
        shadow = self._path(self.column + SHADOW)
        _write_json(
            shadow + ".stamps.json", {"stamps": meta["stamps"], "runs": _runs(codes)}
        )
        if self.served.rebuilt:
            self._rebuild(shadow)
            os.unlink(self.partial)
        else:
            with open(self.partial, "rb+") as file:
                os.fsync(file.fileno())
            os.replace(self.partial, shadow)
        self._clean()

    def _rebuild(self, shadow):
        """FAISS builds the shadow index (an HNSW's graph, an IVF's lists
        trained again) of the translated vectors, written atomically."""
        faiss = _faiss(self.description())
        vectors = read_index_layout(self.partial, self.description()).vectors()
        index, with_ids = self.served.rebuild(faiss, vectors.shape[1])
        if not index.is_trained:  # k-means on at most 256 rows a list
            n = min(len(vectors), 256 * index.nlist)
            rows = np.random.default_rng(0).choice(len(vectors), n, replace=False)
            index.train(np.array(vectors[np.sort(rows)]))
        ids = self.served.id_values()
        for start in range(0, len(vectors), 65536):
            X = np.array(vectors[start : start + 65536])
            if with_ids:
                index.add_with_ids(X, np.array(ids[start : start + len(X)]))
            else:
                index.add(X)
        with atomic_path(shadow) as tmp:
            faiss.write_index(index, tmp)

    def drop(self, columns):
        """Delete the files of ``columns`` (the previous index and its stamps)."""
        previous = self.column + PREVIOUS
        if not set(columns) <= {previous, previous + STAMP}:
            raise ValueError(
                f"{self.description()} drops only the previous index and its stamps"
            )
        for column in columns:
            os.unlink(self._path(column))

    def interrupted(self):
        if not os.path.isfile(self.journal):
            return None
        return _read_json(self.journal)["switch"]

    def rename(self, renames):
        """Move the files of columns (``{old: new}``), each step recorded first
        in ``FILE.switch.json``: a file that another takes the place of is
        linked to its new name first (so no name the application reads is
        ever missing), then replaced."""
        self._finish()
        moves = [(self._path(a), self._path(b)) for a, b in renames.items()]
        targets = {b for _, b in moves}
        steps = [["link" if a in targets else "move", a, b] for a, b in moves]
        for _, _, b in steps:
            if os.path.exists(b) and b not in {a for _, a, _ in steps}:
                raise ValueError(f"{b!r} is in the way of a cutover; move it away")
        shadow = self.column + SHADOW
        switch = "cutover" if renames.get(shadow) == self.column else "rollback"
        folder = os.path.dirname(self.file)
        _write_json(
            self.journal,
            {
                "switch": switch,
                "steps": [
                    [
                        op,
                        os.path.relpath(a, folder or "."),
                        os.path.relpath(b, folder or "."),
                    ]
                    for op, a, b in steps
                ],
            },
        )
        self.finish()

    def finish(self):
        """Do the steps of ``FILE.switch.json`` not done yet, then remove it."""
        folder = os.path.dirname(self.file)
        for op, a, b in _read_json(self.journal)["steps"]:
            a, b = os.path.join(folder, a), os.path.join(folder, b)
            if op == "link" and not os.path.exists(b):
                try:
                    os.link(a, b)
                except OSError:  # a file system without hard links: a copy
                    with atomic_path(b) as tmp:
                        shutil.copyfile(a, tmp)
            elif op == "move" and os.path.exists(a):
                os.replace(a, b)
        os.unlink(self.journal)
        self.served = read_index_layout(self.file, self.description())

    def indices(self):
        found = {}
        for column in self.columns():
            if column != self.id_column and not column.endswith(STAMP):
                found.setdefault(self._index(column).kind, []).append(column)
        return found
