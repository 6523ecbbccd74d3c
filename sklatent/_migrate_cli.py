"""``sklatent migrate fit|apply|report|export-faiss|check``: the command line.

The work lives in :mod:`sklatent.migration`; this module parses arguments,
reads and writes ``.npy`` and parquet files, prints the summary, and maps
outcomes to exit codes: 0 when the gate passes (or there is none), 1 when it
fails, 2 for usage and input errors (one line on stderr, argparse's own usage
errors included: :class:`UsageError`).
"""

import json
import os
import sys
import tempfile
import warnings

import numpy as np

from . import migration

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2


class InputError(ValueError):
    """A problem with the command's input: exit status 2, one line."""


class UsageError(Exception):
    """An argparse usage error of ``sklatent migrate``: exit status 2, one line.

    Its text is the whole line to print, ``"sklatent migrate fit: error: ..."``.
    """


def _one_line_errors(parser):
    """Make ``parser`` raise :class:`UsageError` instead of printing its usage.

    argparse's own ``error`` prints the usage block, then the message, and
    exits; the command's contract is one line on stderr and exit status 2,
    which :func:`sklatent.__main__.main` prints and returns.
    """

    def error(message):
        raise UsageError(f"{parser.prog}: error: {message} (see {parser.prog} --help)")

    parser.error = error
    return parser


def add_parser(commands, positive_int):
    """Add ``migrate`` and its subcommands to the ``commands`` subparsers."""
    migrate = commands.add_parser(
        "migrate",
        help="bridge a store embedded by an old model to a new model",
        description="Fit, measure and apply a bridge between an old and a new "
        "embedding "
        "model from parallel pairs. Exit status: 0 gate passed (or none), 1 gate "
        "failed, 2 usage or input error.",
    )
    _one_line_errors(migrate)
    sub = migrate.add_subparsers(
        dest="migrate_command", required=True, metavar="SUBCOMMAND"
    )

    def io_flags(p):
        p.add_argument(
            "--id-column", default="id", help="parquet id column (default: id)"
        )
        p.add_argument(
            "--embedding-column",
            default="embedding",
            help="parquet embedding column (default: embedding)",
        )
        p.add_argument("--quiet", action="store_true", help="no progress or summary")

    def gate_flags(p):
        p.add_argument("--report", help="write the report as JSON here (and a figure)")
        p.add_argument(
            "--queries",
            help="new-model vectors of typical queries (logged ones): the estimate "
            "searches with them (default: the held-out items themselves)",
        )
        p.add_argument("--min-retention", type=float, help="fail (exit 1) below this")
        p.add_argument(
            "--store-size",
            type=positive_int,
            help="store size the estimate is for (default: the pool's, else 1000000)",
        )

    fit = sub.add_parser("fit", help="fit a bridge on parallel pairs")
    fit.add_argument("--old", required=True, help="pairs embedded by the old model")
    fit.add_argument("--new", required=True, help="the same items by the new model")
    fit.add_argument("--out", required=True, help="the bridge (skops file)")
    fit.add_argument("--method", default="auto", choices=("auto",) + migration.METHODS)
    fit.add_argument("--direction", default="old-to-new", choices=migration.DIRECTIONS)
    fit.add_argument("--pool-old", help="unpaired old-space vectors (the store)")
    fit.add_argument("--pool-new", help="unpaired new-space vectors")
    fit.add_argument("--source-name", help="name of the old model")
    fit.add_argument("--target-name", help="name of the new model")
    fit.add_argument("--seed", type=int, default=0, help="seed of the held-out split")
    gate_flags(fit)
    io_flags(fit)

    apply = sub.add_parser("apply", help="translate a whole store")
    apply.add_argument("bridge")
    apply.add_argument("--input", required=True, help="the store (.npy or parquet)")
    apply.add_argument("--out", required=True, help="the translated store")
    apply.add_argument("--batch-size", type=positive_int, default=16384)
    io_flags(apply)

    report = sub.add_parser("report", help="measure a bridge on pairs it has not seen")
    report.add_argument("bridge")
    report.add_argument("--old", required=True)
    report.add_argument("--new", required=True)
    gate_flags(report)
    io_flags(report)

    export = sub.add_parser(
        "export-faiss", help="write the bridge as a faiss.LinearTransform"
    )
    export.add_argument("bridge")
    export.add_argument("--out", required=True)
    io_flags(export)

    check = sub.add_parser("check", help="which rows of a store look old, which new")
    check.add_argument("bridge")
    check.add_argument("--input", required=True)
    check.add_argument("--old", required=True, help="the pairs' old side")
    check.add_argument("--new", required=True, help="the pairs' new side")
    check.add_argument("--report", help="write the result as JSON here")
    check.add_argument(
        "--list", action="store_true", help="print the rows of each space"
    )
    io_flags(check)
    for command in (fit, apply, report, export, check):
        _one_line_errors(command)
    return migrate


# --- input and output ------------------------------------------------------


def _is_parquet(path):
    return os.fspath(path).endswith((".parquet", ".pq"))


def read_vectors(path, args):
    """Return ``(vectors, ids)``: a memory-mapped ``.npy`` (ids None) or parquet."""
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    if _is_parquet(path):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(
                "parquet needs pyarrow: pip install 'sklatent[migrate]'"
            ) from None
        table = pq.read_table(path)
        names = table.column_names
        if args.embedding_column not in names:
            raise InputError(
                f"{path} has no column {args.embedding_column!r} "
                f"(columns: {', '.join(names)})"
            )
        column = table.column(args.embedding_column).combine_chunks()
        try:
            width = len(column[0]) if len(column) else 0
            flat = column.flatten().to_numpy(zero_copy_only=False)
            X = flat.astype(np.float32, copy=False).reshape(len(column), width)
        except (ValueError, TypeError, AttributeError) as exc:
            raise InputError(
                f"column {args.embedding_column!r} of {path} is not "
                "lists of floats of one "
                f"length ({exc})"
            ) from None
        ids = (
            table.column(args.id_column).to_pylist()
            if args.id_column in names
            else None
        )
        return X, ids
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read {path} as .npy or parquet: {exc}") from None
    if X.ndim != 2:
        raise InputError(f"{path} holds an array of shape {X.shape}; expected 2-D")
    return X, None


def read_pairs(old_path, new_path, args):
    """The pairs, row by row, or joined on the id column for parquet."""
    X, old_ids = read_vectors(old_path, args)
    Y, new_ids = read_vectors(new_path, args)
    if old_ids is not None and new_ids is not None:
        position = {key: i for i, key in enumerate(new_ids)}
        rows = [(i, position[key]) for i, key in enumerate(old_ids) if key in position]
        if not rows:
            raise InputError(f"{old_path} and {new_path} share no {args.id_column!r}")
        a, b = np.array(rows).T
        X, Y = np.asarray(X)[a], np.asarray(Y)[b]
    elif len(X) != len(Y):
        raise InputError(
            f"{old_path} has {len(X)} rows and {new_path} {len(Y)}; row "
            "i of each must be "
            "the same item"
        )
    return X, Y


def _load_bridge(path):
    try:
        import skops.io as sio
    except ImportError:
        raise InputError(
            "bridges are skops files: pip install 'sklatent[skops]'"
        ) from None
    import sklatent

    if not os.path.exists(path):
        raise InputError(f"no such bridge: {path}")
    try:
        bridge = sio.load(path, trusted=sklatent.ESTIMATORS)
    except Exception as exc:  # skops raises many kinds on a foreign file
        raise InputError(f"{path} is not a sklatent bridge: {exc}") from None
    if not isinstance(bridge, migration.MigrationBridge):
        raise InputError(
            f"{path} holds a {type(bridge).__name__}, not a MigrationBridge"
        )
    return bridge


def _atomic_write_bytes(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sklatent-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_report(report, path, quiet):
    _atomic_write_bytes(path, (json.dumps(report, indent=2) + "\n").encode())
    if "heldout" in report:
        _figure(report, os.path.splitext(path)[0] + ".png")


def _figure(report, path):
    """Held-out retention against the pairs used, next to the report (optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    curve = report.get("pairs_curve") or {}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if curve:
        xs = [int(k) for k in curve]
        ax.plot(xs, list(curve.values()), "o-", label="held-out retention@10")
        ax.set_xlabel("pairs used to fit")
    store = report["heldout"]["retention_curve"]
    ax.set_ylabel("retention@10")
    ax.set_ylim(0, 1)
    ax.set_title(
        f"{report['method']}: estimate {report['heldout']['retention_at_10']:.3f} at "
        f"{report['store_size']:,} items"
    )
    if not curve:
        ax.plot(
            [int(k) for k in store], list(store.values()), "o-", label="by store size"
        )
        ax.set_xscale("log")
        ax.set_xlabel("store size (held-out items)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _summary(report):
    h = report["heldout"]
    naive = report.get("naive")
    lines = [
        f"method {report['method']}, {report['n_pairs']} pairs, {report['direction']}",
        f"retention@10 at {report['store_size']:,} items: {h['retention_at_10']:.3f} "
        f"+- {h['retention_at_10_std']:.3f} (measured "
        f"{h['retention_at_10_measured']:.3f} "
        f"on {h['measured_store_size']} held-out items; shuffled pairs "
        f"{report['shuffled']['retention_at_10_measured']:.3f}"
        + (f"; no bridge {naive['retention_at_10_measured']:.3f}" if naive else "")
        + ")",
        f"top1 {h['top1']:.3f}, mrr {h['mrr']:.3f}, mean cosine {h['mean_cosine']:.3f}",
        "pairs look parallel"
        if report["pairs_look_parallel"]
        else "PAIRS DO NOT LOOK PARALLEL",
        "gate: " + ("passed" if report["passed"] else "FAILED"),
    ]
    return "\n".join(lines)


def _pairs_curve(X, Y, args, method):
    """Held-out measured retention for fits on growing numbers of pairs.

    Each fit uses ``method``, the one ``fit`` chose (ridge's penalty chosen
    afresh by GCV at each size).
    """
    n = len(X)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(n)
    held, train = order[: n // 5], order[n // 5 :]
    curve = {}
    for m in sorted({max(30, len(train) // d) for d in (8, 4, 2, 1)}):
        if m > len(train):
            continue
        b = migration.MigrationBridge(method, direction=args.direction).fit(
            X[train[:m]], Y[train[:m]]
        )
        curve[str(m)] = float(migration.bridge_retention(b, X[held], Y[held]).mean())
    return curve


# --- subcommands -----------------------------------------------------------


def _queries(args):
    """The ``--queries`` vectors (loaded), or None."""
    if not args.queries:
        return None
    return np.asarray(read_vectors(args.queries, args)[0])


def _fit(args):
    X, Y = read_pairs(args.old, args.new, args)
    pools = {}
    for name in ("pool_old", "pool_new"):
        if getattr(args, name):
            pools[name], _ = read_vectors(getattr(args, name), args)
    queries = _queries(args)
    bridge, report = migration.fit_bridge(
        np.asarray(X),
        np.asarray(Y),
        queries=queries,
        method=args.method,
        direction=args.direction,
        store_size=args.store_size,
        min_retention=args.min_retention,
        source_name=args.source_name,
        target_name=args.target_name,
        random_state=args.seed,
        **pools,
    )
    import skops.io as sio

    _atomic_write_bytes(args.out, sio.dumps(bridge))
    if args.report:
        report["pairs_curve"] = _pairs_curve(
            np.asarray(X, np.float64), np.asarray(Y), args, report["method"]
        )
        _write_report(report, args.report, args.quiet)
    if not args.quiet:
        print(_summary(report), file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_GATE


def _report(args):
    bridge = _load_bridge(args.bridge)
    X, Y = read_pairs(args.old, args.new, args)
    report = migration.measure_bridge(
        bridge,
        X,
        Y,
        store_size=args.store_size,
        min_retention=args.min_retention,
        queries=_queries(args),
    )
    if args.report:
        _write_report(report, args.report, args.quiet)
    if not args.quiet:
        print(_summary(report), file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_GATE


def _progress(total, quiet):
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, lambda: None
    bar = tqdm(total=total, unit="rows", file=sys.stderr)
    return bar.update, bar.close


def _apply(args):
    bridge = _load_bridge(args.bridge)
    if _is_parquet(args.input) or _is_parquet(args.out):
        return _apply_parquet(bridge, args)
    X, _ = read_vectors(args.input, args)
    if X.shape[1] != bridge.n_features_in_:
        raise InputError(
            f"{args.input} has {X.shape[1]} columns; the bridge takes "
            f"{bridge.n_features_in_}"
        )
    update, close = _progress(len(X), args.quiet)
    try:
        migration.apply_bridge(
            bridge, X, args.out, batch_size=args.batch_size, progress=update
        )
    finally:
        close()
    return EXIT_OK


def _apply_parquet(bridge, args):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            "parquet needs pyarrow: pip install 'sklatent[migrate]'"
        ) from None
    if not (_is_parquet(args.input) and _is_parquet(args.out)):
        raise InputError(
            "parquet in, parquet out: give both --input and --out as .parquet"
        )
    source = pq.ParquetFile(args.input)
    names = source.schema_arrow.names
    if args.embedding_column not in names:
        raise InputError(f"{args.input} has no column {args.embedding_column!r}")
    update, close = _progress(source.metadata.num_rows, args.quiet)
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(suffix=".parquet", prefix=".sklatent-", dir=folder)
    os.close(fd)
    writer = None
    try:
        for batch in source.iter_batches(batch_size=args.batch_size):
            column = batch.column(args.embedding_column)
            width = len(column[0]) if len(column) else bridge.n_features_in_
            X = (
                column.flatten()
                .to_numpy(zero_copy_only=False)
                .reshape(len(column), width)
            )
            if width != bridge.n_features_in_:
                raise InputError(
                    f"{args.input} has {width}-d embeddings; the bridge takes "
                    f"{bridge.n_features_in_}"
                )
            Z = np.asarray(bridge.transform(X), dtype=np.float32)
            out_width = Z.shape[1]
            embedded = pa.FixedSizeListArray.from_arrays(pa.array(Z.ravel()), out_width)
            i = batch.schema.get_field_index(args.embedding_column)
            table = pa.Table.from_batches([batch]).set_column(
                i, args.embedding_column, embedded
            )
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            if update is not None:
                update(len(batch))
        if writer is None:
            raise InputError(f"{args.input} has no rows")
        writer.close()
        writer = None
        os.replace(tmp, args.out)
    except BaseException:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        close()
    return EXIT_OK


def _export_faiss(args):
    try:
        import faiss
    except ImportError:
        raise InputError(
            "export-faiss needs faiss: pip install 'sklatent[faiss]'"
        ) from None
    bridge = _load_bridge(args.bridge)
    if not bridge.is_linear:
        raise InputError(
            f"a {bridge.method_} bridge is not linear; FAISS cannot apply it"
        )
    weight, offset = bridge.affine_map()
    d_in, d_out = weight.shape
    lt = faiss.LinearTransform(d_in, d_out, True)
    # faiss computes A x + b with A of shape (d_out, d_in), row-major
    faiss.copy_array_to_vector(np.ascontiguousarray(weight.T, np.float32).ravel(), lt.A)
    faiss.copy_array_to_vector(np.ascontiguousarray(offset, np.float32), lt.b)
    lt.is_trained = True
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(prefix=".sklatent-", dir=folder)
    os.close(fd)
    try:
        faiss.write_VectorTransform(lt, tmp)
        os.replace(tmp, args.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return EXIT_OK


def _check(args):
    bridge = _load_bridge(args.bridge)
    X, Y = read_pairs(args.old, args.new, args)
    store, ids = read_vectors(args.input, args)
    result = migration.check_store(bridge, X, Y, store)
    if ids is not None:
        result["source_ids"] = [ids[i] for i in result["source_rows"]]
        result["target_ids"] = [ids[i] for i in result["target_rows"]]
    if args.report:
        _atomic_write_bytes(args.report, (json.dumps(result, indent=2) + "\n").encode())
    if not args.quiet:
        print(
            f"{result['source_fraction']:.3f} of {result['n_rows']} "
            "rows look like the source "
            f"space, {result['target_fraction']:.3f} like the target "
            "(classifier accuracy "
            f"{result['classifier_accuracy']:.3f})",
            file=sys.stderr,
        )
    if args.list:
        print("source", *result["source_rows"])
        print("target", *result["target_rows"])
    return EXIT_OK


COMMANDS = {
    "fit": _fit,
    "apply": _apply,
    "report": _report,
    "export-faiss": _export_faiss,
    "check": _check,
}


def run(args, parser):
    """Run a parsed ``migrate`` command; return the exit status."""
    prog = f"sklatent migrate {args.migrate_command}"

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            return COMMANDS[args.migrate_command](args)
    except (InputError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        reason = f"{exc.strerror}: {exc.filename}" if exc.filename else exc
        print(f"{prog}: error: {reason}", file=sys.stderr)
        return EXIT_USAGE
