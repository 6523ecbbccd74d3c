"""``sklatent migrate``: fit, apply, plan, report, export-faiss, check, status, cutover,
rollback.

The command line of the migration.

The work lives in :mod:`sklatent.migration` (stores included); this module
parses arguments, calls it, prints the summary, and maps
outcomes to exit codes: 0 when the gate passes (or there is none), 1 when it
fails, 2 for usage and input errors (one line on stderr, argparse's own usage
errors included: the contract of :func:`sklatent._cli.entrypoint.run_command`).
"""

import argparse
import json
import os
import sys

import numpy as np

from .. import migration
from .._files import write_bytes_atomic
from .._progress import progress_bar

EXIT_OK, EXIT_GATE = 0, 1
STORE_URIS = (
    "lancedb://DIR/TABLE?column=vector, qdrant://DIR/COLLECTION?vector=NAME, "
    "chroma://DIR/COLLECTION or faiss://FILE"
)


def _retention(text):
    """Parse a retention threshold: a number between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"must be a retention between 0 and 1, got {text!r}"
        )
    return value


def _fraction(text):
    """Parse a budget: a fraction in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0.0 < value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], got {text!r}")
    return value


def add_parser(commands, positive_int, one_line_errors):
    """Add ``migrate`` and its subcommands to the ``commands`` subparsers.

    ``one_line_errors(parser)`` makes a parser's usage errors one line.
    """
    migrate = commands.add_parser(
        "migrate",
        help="bridge a store embedded by an old model to a new model",
        description="Fit, measure and apply a bridge between an old and a new "
        "embedding "
        "model from parallel pairs. Exit status: 0 gate passed (or none), 1 gate "
        "failed, 2 usage or input error.",
    )
    one_line_errors(migrate)
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

    def pair_flags(p):
        p.add_argument(
            "--by-row",
            action="store_true",
            help="pair row i of --old with row i of --new, whatever the ids (parquet "
            "files are joined on --id-column otherwise)",
        )

    def gate_flags(p):
        p.add_argument("--report", help="write the report as JSON here (and a figure)")
        p.add_argument(
            "--queries",
            help="new-model vectors of typical queries (logged ones): the estimate "
            "searches with them (default: the held-out items themselves)",
        )
        p.add_argument(
            "--min-retention",
            type=_retention,
            help="fail (exit 1) below this retention, between 0 and 1",
        )
        p.add_argument(
            "--store-size",
            type=positive_int,
            help="store size the estimate is for (default: the pool's, else "
            f"{migration.DEFAULT_STORE_SIZE})",
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
    pair_flags(fit)
    io_flags(fit)

    apply = sub.add_parser("apply", help="translate a whole store")
    apply.add_argument("bridge")
    apply.add_argument("--input", help="the store (.npy or parquet)")
    apply.add_argument("--out", help="the translated store")
    apply.add_argument(
        "--store",
        help=f"a vector store ({STORE_URIS}): write its shadow column, "
        "resumably (instead of --input and --out)",
    )
    apply.add_argument(
        "--batch-size",
        type=positive_int,
        help="rows a batch (default: 16384; 4096 on a Chroma store)",
    )
    apply.add_argument(
        "--reembedded",
        help="parquet file of new-model vectors of some rows (--id-column: their "
        "ids, row numbers for a .npy store; --embedding-column), written instead "
        "of their translations (sklatent migrate plan says which rows)",
    )
    io_flags(apply)

    plan = sub.add_parser("plan", help="the rows worth re-embedding first")
    plan.add_argument("bridge")
    plan.add_argument("--input", help="the old store (.npy or parquet)")
    plan.add_argument("--store", help=f"a vector store ({STORE_URIS})")
    plan.add_argument(
        "--budget",
        type=_fraction,
        required=True,
        help="the fraction of the rows to re-embed, in (0, 1]",
    )
    plan.add_argument(
        "--out", required=True, help="the ids, one a line (row numbers for .npy)"
    )
    plan.add_argument("--batch-size", type=positive_int, default=16384)
    io_flags(plan)

    report = sub.add_parser("report", help="measure a bridge on pairs it has not seen")
    report.add_argument("bridge")
    report.add_argument("--old", required=True)
    report.add_argument("--new", required=True)
    gate_flags(report)
    pair_flags(report)
    io_flags(report)

    export = sub.add_parser(
        "export-faiss", help="write the bridge as a faiss.LinearTransform"
    )
    export.add_argument("bridge")
    export.add_argument("--out", required=True)
    io_flags(export)

    check = sub.add_parser("check", help="which rows of a store look old, which new")
    check.add_argument("bridge")
    check.add_argument("--input", help="the store (.npy or parquet)")
    check.add_argument(
        "--store",
        help=f"a vector store ({STORE_URIS}): check its served column "
        "(instead of --input)",
    )
    check.add_argument(
        "--old",
        help="the pairs' old side: fit the check on the pairs instead of using "
        "the bridge's (with --new)",
    )
    check.add_argument("--new", help="the pairs' new side (with --old)")
    check.add_argument("--report", help="write the result as JSON here")
    check.add_argument(
        "--list",
        action="store_true",
        help="print the rows of each space (with --store: the ids of the minority "
        "and of neither)",
    )
    check.add_argument("--batch-size", type=positive_int, default=16384)
    pair_flags(check)
    io_flags(check)
    status = sub.add_parser(
        "status", help="a vector store's served column, model and shadow"
    )
    status.add_argument(
        "store",
        help=STORE_URIS,
    )
    status.add_argument("--json", action="store_true", help="print it as JSON")
    cutover = sub.add_parser(
        "cutover", help="serve the shadow column (the old one is kept)"
    )
    cutover.add_argument("store")
    rollback = sub.add_parser("rollback", help="serve the old vectors again")
    rollback.add_argument("store")
    finalize = sub.add_parser(
        "finalize",
        help="delete the old vectors of a cut-over store (no rollback after it)",
    )
    finalize.add_argument("store")
    finalize.add_argument(
        "--yes",
        action="store_true",
        help="confirm: the old vectors are deleted for good",
    )
    commands = (
        fit,
        apply,
        plan,
        report,
        export,
        check,
        status,
        cutover,
        rollback,
        finalize,
    )
    for command in commands:
        one_line_errors(command)
    return migrate


# --- input and output ------------------------------------------------------


def _columns(args):
    return dict(id_column=args.id_column, embedding_column=args.embedding_column)


def _write_json(result, path):
    # allow_nan=False: a report is strict JSON (NaN and Infinity are not)
    text = json.dumps(result, indent=2, allow_nan=False)
    write_bytes_atomic(path, (text + "\n").encode())


def _write_report(report, path):
    _write_json(report, path)
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
        *_calibration_line(report.get("calibration")),
        "pairs look parallel"
        if report["pairs_look_parallel"]
        else "PAIRS DO NOT LOOK PARALLEL",
        "gate: " + ("passed" if report["passed"] else "FAILED"),
    ]
    return "\n".join(lines)


def _calibration_line(calibration):
    """The summary's line on score agreement (none without a calibration)."""
    if calibration is None:
        return []
    return [
        f"scores: agreement at the new model's {calibration['quantile']:.0%} "
        f"quantile cosine ({calibration['threshold']:.3f}) "
        f"{calibration['agreement_before']:.3f} bridged, "
        f"{calibration['agreement_after']:.3f} calibrated (a constant answer "
        f"{calibration['agreement_constant']:.3f})"
    ]


# --- subcommands -----------------------------------------------------------


def _queries(args):
    """The ``--queries`` vectors (loaded), or None."""
    if not args.queries:
        return None
    return np.asarray(migration.read_vectors(args.queries, **_columns(args))[0])


def _fit(args):
    X, Y = migration.read_pairs(
        args.old, args.new, by_row=args.by_row, **_columns(args)
    )
    pools = {}
    for name in ("pool_old", "pool_new"):
        if getattr(args, name):
            pools[name], _ = migration.read_vectors(
                getattr(args, name), **_columns(args)
            )
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
    migration.save_bridge(bridge, args.out)
    if args.report:
        report["pairs_curve"] = migration.pairs_curve(
            X,
            Y,
            method=report["method"],
            direction=args.direction,
            random_state=args.seed,
        )
    return _gate(report, args)


def _gate(report, args):
    """Write the report (``--report``), print its summary, and give the gate's exit."""
    if args.report:
        _write_report(report, args.report)
    if not args.quiet:
        print(_summary(report), file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_GATE


def _report(args):
    bridge = migration.load_bridge(args.bridge)
    X, Y = migration.read_pairs(
        args.old, args.new, by_row=args.by_row, **_columns(args)
    )
    report = migration.measure_bridge(
        bridge,
        X,
        Y,
        store_size=args.store_size,
        min_retention=args.min_retention,
        queries=_queries(args),
    )
    return _gate(report, args)


def _reembedded(args):
    """The ``--reembedded`` ids and vectors, or None."""
    if args.reembedded is None:
        return None
    vectors, ids = migration.read_vectors(args.reembedded, **_columns(args))
    if ids is None:
        raise ValueError(
            f"{args.reembedded} has no ids: give a parquet file with an "
            f"{args.id_column!r} column (row numbers for a .npy store) and an "
            f"{args.embedding_column!r} column"
        )
    return ids, np.asarray(vectors)


def _plan(args):
    if (args.input is None) == (args.store is None):
        raise ValueError("give --input FILE or --store URI (one of them)")
    bridge = migration.load_bridge(args.bridge)
    ids = None
    store = args.store
    if store is None:
        store, ids = migration.read_vectors(args.input, **_columns(args))
    planned, errors = migration.plan_reembedding(
        bridge, store, args.budget, batch_size=args.batch_size
    )
    if ids is not None:
        planned = [ids[i] for i in planned]
    text = "".join(f"{key}\n" for key in planned)
    write_bytes_atomic(args.out, text.encode())
    if not args.quiet:
        picked = np.sort(errors)[::-1][: len(planned)]
        print(
            f"{len(planned)} of {len(errors)} rows to re-embed first (predicted "
            f"error {picked.mean() if len(picked) else 0.0:.3f} against "
            f"{errors.mean() if len(errors) else 0.0:.3f} for all rows)",
            file=sys.stderr,
        )
    return EXIT_OK


def _apply(args):
    if args.store is not None:
        if args.input is not None or args.out is not None:
            raise ValueError("give --store, or --input and --out, not both")
        return _apply_store(args)
    if args.input is None or args.out is None:
        raise ValueError("give --input and --out (or --store URI)")
    bridge = migration.load_bridge(args.bridge)
    update, close = progress_bar(
        migration.count_rows(args.input), enabled=not args.quiet
    )
    try:
        migration.apply_bridge(
            bridge,
            args.input,
            args.out,
            **({} if args.batch_size is None else {"batch_size": args.batch_size}),
            progress=update,
            embedding_column=args.embedding_column,
            id_column=args.id_column,
            reembedded=_reembedded(args),
        )
    finally:
        close()
    return EXIT_OK


def _apply_store(args):
    bridge = migration.load_bridge(args.bridge)
    store = migration.open_store(args.store)
    update, close = progress_bar(
        migration.shadow_missing(store), enabled=not args.quiet
    )
    try:
        written = migration.apply_to_store(
            bridge,
            store,
            batch_size=args.batch_size,
            progress=update,
            reembedded=_reembedded(args),
        )
    finally:
        close()
    if not args.quiet:
        print(
            f"{written} rows written into the shadow of {store.column!r}",
            file=sys.stderr,
        )
    return EXIT_OK


def _status(args):
    status = migration.store_status(args.store)
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    written = status["shadow_written"]
    print(
        f"{status['store']}: serves {status['served_column']!r} "
        f"({status['served_model'] or 'unstamped'}), {status['rows']} rows, "
        f"{status['state']}"
        + ("" if written is None else f", shadow {written:.1%} written")
    )
    for column, stamps in status["stamps"].items():
        for stamp in stamps:
            print(
                f"  {column}: {stamp['rows']} rows by model {stamp['model']}, "
                f"bridge {stamp['bridge']}, sklatent {stamp['sklatent']}"
            )
    for name, columns in status["indices"].items():
        print(f"  index {name} on {', '.join(columns)}")
    return EXIT_OK


def _cutover(args):
    migration.cutover_store(args.store)
    return EXIT_OK


def _rollback(args):
    migration.rollback_store(args.store)
    return EXIT_OK


def _finalize(args):
    if not args.yes:
        raise ValueError(
            "finalize deletes the old vectors for good (no rollback after it); "
            "pass --yes"
        )
    dropped = migration.finalize_store(args.store)
    print(f"deleted {', '.join(map(repr, dropped))}", file=sys.stderr)
    return EXIT_OK


def _export_faiss(args):
    migration.export_faiss(migration.load_bridge(args.bridge), args.out)
    return EXIT_OK


def _check(args):
    if (args.input is None) == (args.store is None):
        raise ValueError("give --input FILE or --store URI (one of them)")
    if (args.old is None) != (args.new is None):
        raise ValueError(
            "give --old and --new together (or neither: the bridge's own check)"
        )
    bridge = migration.load_bridge(args.bridge)
    pairs = None
    if args.old is not None:
        pairs = migration.read_pairs(
            args.old, args.new, by_row=args.by_row, **_columns(args)
        )
    if args.store is not None:
        result = migration.check_vector_store(
            bridge, args.store, pairs=pairs, batch_size=args.batch_size
        )
        listed = {
            f"minority ({result['minority']})": result["minority_ids"],
            "neither": result["neither_ids"],
        }
    else:
        store, ids = migration.read_vectors(args.input, **_columns(args))
        result = migration.check_store(bridge, store, pairs=pairs)
        if ids is not None:
            for side in ("source", "target", "neither"):
                result[f"{side}_ids"] = [ids[i] for i in result[f"{side}_rows"]]
        listed = {
            side: result[f"{side}_rows"] for side in ("source", "target", "neither")
        }
    if args.report:
        _write_json(result, args.report)
    if not args.quiet:
        print(
            f"{result['source_fraction']:.3f} of {result['n_rows']} "
            "rows look like the source "
            f"space, {result['target_fraction']:.3f} like the target, "
            f"{result['neither_fraction']:.3f} like neither (classifier accuracy "
            f"{result['classifier_accuracy']:.3f})",
            file=sys.stderr,
        )
    if args.list:
        for side, rows in listed.items():
            print(side, *rows)
    # most rows in neither space: the store is not what the bridge is about
    return EXIT_GATE if result["neither_fraction"] > 0.5 else EXIT_OK


COMMANDS = {
    "fit": _fit,
    "apply": _apply,
    "plan": _plan,
    "report": _report,
    "export-faiss": _export_faiss,
    "check": _check,
    "status": _status,
    "cutover": _cutover,
    "rollback": _rollback,
    "finalize": _finalize,
}
