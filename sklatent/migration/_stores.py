"""Stores of embeddings: reading them and translating them through a bridge.

A store is a ``.npy`` file (memory-mapped: any size) or a parquet file with an
id column and a column of fixed-length float lists; :func:`read_vectors` reads
either, :func:`read_pairs` pairs two of them (by id for parquet),
:func:`apply_bridge` writes a translated store in bounded memory, and
:func:`export_faiss` writes the bridge as a FAISS transform (which rows look
like which space: :mod:`sklatent.migration._spaces`). Every function takes
explicit arguments; a problem with the input is a one-line :class:`ValueError`
(an unreadable file an :class:`OSError`). Every file is written atomically
(:mod:`sklatent._files`).
"""

import os
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._files import atomic_path, write_bytes_atomic
from .._translation import LatentTranslator
from ._bridge import MigrationBridge
from ._reembedded import reembedded_rows
from ._regions import RegionalTranslator

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path):
    """Whether ``path`` names a parquet file, by its suffix.

    Parameters
    ----------
    path : str or path-like
        A file name.

    Returns
    -------
    bool
        True for ``.parquet`` and ``.pq``.
    """
    return os.fspath(path).endswith(PARQUET_SUFFIXES)


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(
            "parquet needs pyarrow: pip install 'sklatent[migrate]'"
        ) from None
    return pa, pq


def _list_column(column, where, name):
    """A parquet column of float lists as an (n, width) float32 array.

    Every row is checked: a null row, a list of another length than the
    first, or values that are not numbers are refused by row number (lists
    of uneven lengths would otherwise be re-cut into the wrong rows).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    where = os.fspath(where)
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and not (
        pa.types.is_fixed_size_list(kind)
    ):
        raise ValueError(
            f"column {name!r} of {where} holds {kind}, not lists of floats (one "
            "embedding per row)"
        )
    if not (
        pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)
    ):
        raise ValueError(
            f"column {name!r} of {where} holds lists of {kind.value_type}, not of "
            "floats"
        )
    n = len(column)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(
            f"row {row} of column {name!r} of {where} is null ({column.null_count} "
            "null rows): every row needs an embedding"
        )
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    width = int(np.bincount(lengths).argmax()) if n else 0
    uneven = np.flatnonzero(lengths != width)
    if len(uneven):
        raise ValueError(
            f"row {uneven[0]} of column {name!r} of {where} holds "
            f"{lengths[uneven[0]]} values where most rows hold {width} "
            f"({len(uneven)} rows differ): every embedding must have one length"
        )
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    if flat.dtype == object:  # nulls inside the lists
        raise ValueError(
            f"column {name!r} of {where} holds null values inside its lists"
        )
    return flat.astype(np.float32, copy=False).reshape(n, width)


def read_vectors(path, *, id_column="id", embedding_column="embedding"):
    """Read a store: ``(vectors, ids)``.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file (memory-mapped, ids None) or a parquet file.
    id_column, embedding_column : str, default="id", "embedding"
        The parquet columns of the ids and of the vectors (float lists of one
        length). A parquet file without ``id_column`` has ids None.

    Returns
    -------
    vectors : ndarray of shape (n, d)
        float32 for parquet; the file's own dtype for ``.npy``.
    ids : list or None
        The parquet ids, row by row.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no such file: {path}")
    if is_parquet(path):
        _, pq = _pyarrow()
        table = pq.read_table(path)
        names = table.column_names
        if embedding_column not in names:
            raise ValueError(
                f"{path} has no column {embedding_column!r} "
                f"(columns: {', '.join(names)})"
            )
        X = _list_column(
            table.column(embedding_column).combine_chunks(), path, embedding_column
        )
        if len(X) == 0:
            raise ValueError(f"{path} has no rows")
        ids = table.column(id_column).to_pylist() if id_column in names else None
        return X, ids
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"cannot read {path} as .npy or parquet: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{path} holds an array of shape {X.shape}; expected 2-D")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"{path} holds {X.dtype} values, not numbers")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path} holds no vectors (shape {X.shape})")
    return X, None


def count_rows(path):
    """The number of rows of a ``.npy`` or parquet store, without reading it.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file (its header is read) or a parquet file (its footer).

    Returns
    -------
    int
        The number of rows.
    """
    if is_parquet(path):
        _, pq = _pyarrow()
        if not os.path.exists(path):
            raise ValueError(f"no such file: {os.fspath(path)}")
        return pq.ParquetFile(path).metadata.num_rows
    return len(read_vectors(path)[0])


MIN_MATCHED_SHARE = 0.5
"""Pairs joined by id must match at least this share of the smaller file's ids."""


def read_pairs(
    old_path, new_path, *, id_column="id", embedding_column="embedding", by_row=False
):
    """The pairs of two stores: joined on their ids, or row by row.

    Parquet files are joined on ``id_column``: ids must be unique in each
    file (a repeated id would pair rows with the wrong items), and at least
    :data:`MIN_MATCHED_SHARE` of the smaller file's ids must be found in the
    other (ids found in one file only are dropped, with a warning that counts
    them). ``.npy`` files have no ids and are paired row by row, as parquet
    files are with ``by_row=True``.

    Parameters
    ----------
    old_path, new_path : str or path-like
        The same items embedded by the old and the new model.
    id_column, embedding_column : str, default="id", "embedding"
        As in :func:`read_vectors`. A parquet file without ``id_column`` is
        an error unless ``by_row``.
    by_row : bool, default=False
        Pair row ``i`` with row ``i``, whatever the ids.

    Returns
    -------
    X_old, Y_new : ndarray
        Row ``i`` of each is the same item.
    """
    columns = dict(id_column=id_column, embedding_column=embedding_column)
    (X, old_ids), (Y, new_ids) = (
        read_vectors(path, **columns) for path in (old_path, new_path)
    )
    if not by_row:
        for path, ids in ((old_path, old_ids), (new_path, new_ids)):
            if is_parquet(path) and ids is None:
                raise ValueError(
                    f"{os.fspath(path)} has no id column {id_column!r}: name it "
                    "(--id-column), or pair row i with row i (--by-row)"
                )
    if old_ids is not None and new_ids is not None and not by_row:
        for path, ids in ((old_path, old_ids), (new_path, new_ids)):
            if len(set(ids)) < len(ids):
                seen, repeated = set(), None
                for key in ids:
                    if key in seen:
                        repeated = key
                        break
                    seen.add(key)
                raise ValueError(
                    f"{os.fspath(path)} repeats ids (e.g. {repeated!r}; "
                    f"{len(ids) - len(set(ids))} repeats): pairs are joined on "
                    f"{id_column!r}, which must be unique"
                )
        position = {key: i for i, key in enumerate(new_ids)}
        rows = [(i, position[key]) for i, key in enumerate(old_ids) if key in position]
        smaller = min(len(old_ids), len(new_ids))
        if len(rows) < MIN_MATCHED_SHARE * smaller:
            raise ValueError(
                f"only {len(rows)} of the {smaller} ids of the smaller file are in "
                f"both {os.fspath(old_path)} and {os.fspath(new_path)} (at least "
                f"{MIN_MATCHED_SHARE:.0%} must be): are they the same items?"
            )
        unmatched = len(old_ids) + len(new_ids) - 2 * len(rows)
        if unmatched:
            warnings.warn(
                f"{unmatched} ids are in one file only ({len(old_ids) - len(rows)} "
                f"old, {len(new_ids) - len(rows)} new) and are left out of the pairs",
                UserWarning,
                stacklevel=2,
            )
        a, b = np.array(rows).T
        return np.asarray(X)[a], np.asarray(Y)[b]
    if len(X) != len(Y):
        raise ValueError(
            f"{old_path} has {len(X)} rows and {new_path} {len(Y)}; row i of each "
            "must be the same item"
        )
    return X, Y


def load_bridge(path):
    """Load a :class:`MigrationBridge` saved with skops (no pickle, trusted types only).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_bridge` (``sklatent migrate fit``).

    Returns
    -------
    MigrationBridge
    """
    try:
        import skops.io as sio
    except ImportError:
        raise ValueError(
            "bridges are skops files: pip install 'sklatent[skops]'"
        ) from None
    if not os.path.exists(path):
        raise ValueError(f"no such bridge: {path}")
    try:
        bridge = sio.load(
            path, trusted=[MigrationBridge, LatentTranslator, RegionalTranslator]
        )
    except Exception as exc:  # skops raises many kinds on a foreign file
        raise ValueError(f"{path} is not a sklatent bridge: {exc}") from None
    if not isinstance(bridge, MigrationBridge):
        raise ValueError(
            f"{path} holds a {type(bridge).__name__}, not a MigrationBridge"
        )
    return bridge


def save_bridge(bridge, path):
    """Save a fitted bridge with skops, atomically.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted.
    path : str or path-like
        The file; :func:`load_bridge` reads it back.
    """
    import skops.io as sio

    write_bytes_atomic(path, sio.dumps(bridge))


def apply_bridge(
    bridge,
    store,
    out,
    *,
    batch_size=16384,
    progress=None,
    embedding_column="embedding",
    id_column="id",
    reembedded=None,
):
    """Translate a whole store in bounded memory, written atomically.

    A ``.npy`` store is memory-mapped and translated ``batch_size`` rows at a
    time into a temporary ``.npy`` file next to ``out``; a parquet store is
    read and written a row group of ``batch_size`` rows at a time, every
    other column kept. The temporary file replaces ``out`` only when every
    row is written: an interrupted run leaves nothing at ``out``.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted.
    store : str, path or ndarray
        A ``.npy`` or parquet file (or an array): ``n`` rows of
        ``bridge.n_features_in_`` columns.
    out : str or path
        Where the translated store goes: ``.npy``, or parquet for a parquet
        store.
    batch_size : int, default=16384
        Rows per batch. The process's own (anonymous) memory grows by a few
        batches (figures in :ref:`migration`).
    progress : callable or None, default=None
        Called with the number of rows done after each batch.
    embedding_column : str, default="embedding"
        The parquet column of the vectors.
    id_column : str, default="id"
        The parquet column of the ids (read only with ``reembedded``).
    reembedded : tuple ``(ids, vectors)`` or None, default=None
        New-model vectors of some rows (those a plan picked:
        :func:`plan_reembedding`), written instead of their translations:
        ``ids`` are row numbers for a ``.npy`` store, values of ``id_column``
        for parquet. Needs an old-to-new bridge; an id that is not in the
        store is an error (and nothing is written).

    Returns
    -------
    tuple
        The shape written.
    """
    check_is_fitted(bridge, "translator_")
    parquet = [
        isinstance(path, (str, os.PathLike)) and is_parquet(path)
        for path in (store, out)
    ]
    if any(parquet):
        if not all(parquet):
            raise ValueError(
                "parquet in, parquet out: give both the store and the output "
                "as .parquet"
            )
        return _apply_parquet(
            bridge,
            store,
            out,
            batch_size,
            progress,
            embedding_column,
            id_column,
            reembedded_rows(bridge, reembedded),
        )
    X = read_vectors(store)[0] if isinstance(store, (str, os.PathLike)) else store
    _check_width(bridge, X.shape, store)
    position, vectors = reembedded_rows(bridge, reembedded)
    for key in position:
        if not (isinstance(key, int) and 0 <= key < len(X)):
            raise ValueError(
                "the re-embedded ids of a .npy store are its row numbers, from 0 "
                f"to {len(X) - 1}; got {key!r}"
            )
    rows = np.array(sorted(position), dtype=np.int64)
    sources = np.array([position[row] for row in rows], dtype=np.int64)
    width = bridge.new_width_ if bridge.direction == "old-to-new" else bridge.old_width_
    with atomic_path(out, suffix=".npy") as tmp:
        Z = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(len(X), width)
        )
        for start in range(0, len(X), batch_size):
            stop = min(start + batch_size, len(X))
            Z[start:stop] = bridge.transform(np.asarray(X[start:stop]))
            lo, hi = np.searchsorted(rows, [start, stop])
            Z[rows[lo:hi]] = vectors[sources[lo:hi]]
            if progress is not None:
                progress(stop - start)
        Z.flush()
        del Z
    return (len(X), width)


def _check_width(bridge, shape, where):
    if len(shape) != 2 or shape[1] != bridge.n_features_in_:
        where = (
            os.fspath(where) if isinstance(where, (str, os.PathLike)) else "the store"
        )
        raise ValueError(
            f"{where} has shape {tuple(shape)}; the bridge takes "
            f"{bridge.n_features_in_} columns"
        )


def _apply_parquet(
    bridge, store, out, batch_size, progress, embedding_column, id_column, reembedded
):
    position, vectors = reembedded
    pa, pq = _pyarrow()
    if not os.path.exists(store):
        raise ValueError(f"no such file: {os.fspath(store)}")
    source = pq.ParquetFile(store)
    if embedding_column not in source.schema_arrow.names:
        raise ValueError(f"{os.fspath(store)} has no column {embedding_column!r}")
    n = width = used = 0
    if position and id_column not in source.schema_arrow.names:
        raise ValueError(
            f"{os.fspath(store)} has no id column {id_column!r} to match the "
            "re-embedded ids on (name it with --id-column)"
        )
    with atomic_path(out, suffix=".parquet") as tmp:
        writer = None
        try:
            for batch in source.iter_batches(batch_size=batch_size):
                X = _list_column(
                    batch.column(embedding_column), store, embedding_column
                )
                _check_width(bridge, X.shape, store)
                Z = np.asarray(bridge.transform(X), dtype=np.float32)
                if position:
                    for i, key in enumerate(batch.column(id_column).to_pylist()):
                        if key in position:
                            Z[i] = vectors[position[key]]
                            used += 1
                width = Z.shape[1]
                embedded = pa.FixedSizeListArray.from_arrays(pa.array(Z.ravel()), width)
                i = batch.schema.get_field_index(embedding_column)
                table = pa.Table.from_batches([batch]).set_column(
                    i, embedding_column, embedded
                )
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                n += len(batch)
                if progress is not None:
                    progress(len(batch))
            if writer is None:
                raise ValueError(f"{os.fspath(store)} has no rows")
            if used < len(position):
                raise ValueError(
                    f"{len(position) - used} of the {len(position)} re-embedded "
                    f"ids are not in the {id_column!r} column of "
                    f"{os.fspath(store)}"
                )
        finally:
            if writer is not None:
                writer.close()
    return (n, width)


def _check_affine(bridge, weight, offset, n_probes=64):
    """Refuse a bridge whose transform is not ``x @ weight + offset``.

    The map is checked on probe rows about the fitted source mean, at the
    source's own spread and at twice it (a map that normalises rows, say,
    agrees with no affine map at two scales).
    """
    translator = bridge.translator_
    rng = np.random.default_rng(0)
    mean, scale = translator.x_mean_, np.maximum(translator.x_scale_, 1e-12)
    probes = mean + scale * rng.normal(size=(n_probes, len(mean)))
    probes = np.vstack([probes, mean + 2.0 * (probes - mean)])
    got = bridge.transform(probes)
    want = probes @ weight + offset
    error = np.abs(got - want).max()
    size = max(np.abs(want).max(), 1e-300)
    if not error <= 1e-6 * size:
        raise ValueError(
            f"this bridge's map is not affine (normalize={translator.normalize!r}: "
            f"off by {error:.3g} on probe rows); FAISS can only apply an affine map"
        )


def export_faiss(bridge, out):
    """Write the bridge as a ``faiss.LinearTransform`` (``A x + b``), atomically.

    Parameters
    ----------
    bridge : MigrationBridge
        Fitted, with an affine map.
    out : str or path-like
        The transform's file (``faiss.read_VectorTransform`` reads it).
    """
    try:
        import faiss
    except ImportError:
        raise ValueError(
            "export-faiss needs faiss: pip install 'sklatent[faiss]'"
        ) from None
    if not bridge.is_linear:
        raise ValueError(
            f"this {bridge.method_} bridge's map is not affine (its translator "
            "normalises rows or blends regions); FAISS can only apply an affine "
            "map: fit an orthogonal, rotation, affine or ridge bridge"
        )
    weight, offset = bridge.affine_map()
    _check_affine(bridge, weight, offset)
    d_in, d_out = weight.shape
    transform = faiss.LinearTransform(d_in, d_out, True)
    # faiss computes A x + b with A of shape (d_out, d_in), row-major
    faiss.copy_array_to_vector(
        np.ascontiguousarray(weight.T, np.float32).ravel(), transform.A
    )
    faiss.copy_array_to_vector(np.ascontiguousarray(offset, np.float32), transform.b)
    transform.is_trained = True
    with atomic_path(out) as tmp:
        faiss.write_VectorTransform(transform, tmp)
