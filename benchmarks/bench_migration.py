"""sklatent.migration on real text encoders: retention@10 and the estimate's honesty.

The two cached encoders of :func:`sklatent.datasets.load_text_embeddings`
(``static``, 64-d, and ``minilm``, all-MiniLM-L6-v2, 384-d; 3,597 docstring
items, each with a query text and a document text), migrated both ways:
``static -> minilm`` and ``minilm -> static``. For each random split of the
items (``--splits``):

- the *store* is a fixed set of items (all but ``max(--pairs)``) that no fit
  ever sees; the *pairs* are the first ``n`` of the other items (nested as
  ``n`` grows), their documents embedded by both models;
- the *queries* are the store items' query texts embedded by the new model;
  the reference is their search in the store re-embedded by the new model;
- **corpus side**: the store translated old -> new
  (``fit_bridge(direction="old-to-new")``), searched with the new-model
  queries; **query side**: the queries translated new -> old
  (``direction="new-to-old"``), searched in the untouched old store;
- for every method (orthogonal, affine, ridge, auto) the retention@10
  measured on the store, the ground truth's recall@10 (the query's own
  document among its 10 nearest) through the bridge, and the report's
  *estimate* for a store of the store's size, made from the pairs alone,
  against two measurements on the store: with the query texts (what users
  see) and with the store's own documents as queries, leave-self-out (the
  protocol the estimate extrapolates);
- baselines: the old model alone (old-model queries against the old store:
  how far the old model's own neighbourhoods are from the new one's; the
  naive search, new-model queries against the old store, does not exist
  between spaces of different widths) and chance (10 / store size).

Prints one table per migration and side, the estimate against the
measurements, and a JSON line; ``--out FILE`` writes the raw rows.

    python benchmarks/bench_migration.py  # pairs 250 500 1000 2000, splits 0 1 2
    python benchmarks/bench_migration.py --quick  # pairs 500 2000, split 0
    python benchmarks/bench_migration.py --splits 1 --out s1.json  # one split
    python benchmarks/bench_migration.py --tables-from s0.json s1.json
"""

import argparse
import json
import time
import warnings

import numpy as np

METHODS = ("orthogonal", "rotation", "affine", "ridge", "regional", "auto")
MIGRATIONS = (("static", "minilm"), ("minilm", "static"))
SIDES = {"corpus": "old-to-new", "query": "new-to-old"}
BAND = (-0.10, 0.05)  # the target: estimate - measured within this
ESTIMATES = (  # (the estimate, the measurement it is for, what they are)
    ("estimate", "retention", "held-out items as queries, against query texts"),
    ("estimate", "retention_docs", "held-out items as queries, against documents"),
    (
        "estimate_queries",
        "retention_queries_fit",
        "pairs' query texts as queries (and for auto's choice), against query texts",
    ),
)


def load():
    from sklatent.datasets import load_text_embeddings

    data = load_text_embeddings(encoders=["static", "minilm"])
    names = data.encoder_names
    return (
        {n: np.asarray(data.query_embeddings[n], np.float64) for n in names},
        {n: np.asarray(data.document_embeddings[n], np.float64) for n in names},
    )


def run_split(queries, documents, pair_counts, split, methods):
    from sklatent.metrics import top_k_accuracy
    from sklatent.migration import bridge_retention, fit_bridge, retention_at_k
    from sklatent.migration._bridge import affine_is_stable

    n_items = len(next(iter(documents.values())))
    order = np.random.default_rng(split).permutation(n_items)
    n_store = n_items - max(pair_counts)
    store, pool = order[:n_store], order[n_store:]
    rows = []
    for old, new in MIGRATIONS:
        S_old, S_new = documents[old][store], documents[new][store]
        Q_new, Q_old = queries[new][store], queries[old][store]
        base = {
            "migration": f"{old} -> {new}",
            "split": split,
            "store_size": n_store,
            "old_model_alone": float(retention_at_k(Q_old, S_old, Q_new, S_new).mean()),
            "chance": 10 / n_store,
            "recall_reembedded": top_k_accuracy(Q_new, S_new, k=10),
            "recall_old_model": top_k_accuracy(Q_old, S_old, k=10),
        }
        for side, direction in SIDES.items():
            for n in pair_counts:
                pairs = pool[:n]
                for method in methods:
                    if method == "affine" and not affine_is_stable(
                        int(0.8 * n),
                        documents[old if direction == "old-to-new" else new].shape[1],
                    ):
                        continue  # fit_bridge refuses it (docs/migration.rst)
                    start = time.perf_counter()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        bridge, report = fit_bridge(
                            documents[old][pairs],
                            documents[new][pairs],
                            method=method,
                            direction=direction,
                            store_size=n_store,
                            random_state=split,
                        )
                    seconds = time.perf_counter() - start
                    # the same fit, its estimate searching with the pairs'
                    # query texts (the logged queries a team has)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        bridge_q, with_queries = fit_bridge(
                            documents[old][pairs],
                            documents[new][pairs],
                            method=method,
                            direction=direction,
                            store_size=n_store,
                            random_state=split,
                            queries=queries[new][pairs],
                        )
                    hq = with_queries["heldout"]
                    if direction == "old-to-new":  # auto may choose otherwise
                        Qq, Sq = Q_new, bridge_q.transform(S_old)
                    else:
                        Qq, Sq = bridge_q.transform(Q_new), S_old
                    if direction == "old-to-new":
                        Q, S = Q_new, bridge.transform(S_old)
                    else:
                        Q, S = bridge.transform(Q_new), S_old
                    h = report["heldout"]
                    rows.append(
                        {
                            **base,
                            "side": side,
                            "n_pairs": n,
                            "method": method,
                            "chosen": report["method"],
                            "alpha": report["alpha"],
                            "fit_s": seconds,
                            "warnings": sorted({str(w.message)[:80] for w in caught}),
                            "retention": float(
                                retention_at_k(Q, S, Q_new, S_new).mean()
                            ),
                            "retention_docs": float(
                                bridge_retention(bridge, S_old, S_new).mean()
                            ),
                            "recall": top_k_accuracy(Q, S, k=10),
                            "estimate": h["retention_at_10"],
                            "central": h["retention_at_10_central"],
                            "std": h["retention_at_10_std"],
                            "estimate_queries": hq["retention_at_10"],
                            "chosen_queries": with_queries["method"],
                            "retention_queries_fit": float(
                                retention_at_k(Qq, Sq, Q_new, S_new).mean()
                            ),
                            "std_queries": hq["retention_at_10_std"],
                            "heldout_measured": h["retention_at_10_measured"],
                            "heldout_size": h["measured_store_size"],
                            "passed_parallel": report["pairs_look_parallel"],
                        }
                    )
                    r = rows[-1]
                    print(
                        f"split {split} {base['migration']:16s} {side:6s} {n:5d} "
                        f"{method:10s} -> {r['chosen']:10s} retention "
                        f"{r['retention']:.3f} (docs {r['retention_docs']:.3f}) "
                        f"estimate {r['estimate']:.3f} +- {r['std']:.3f} "
                        f"(with queries {r['estimate_queries']:.3f}) "
                        f"recall {r['recall']:.3f} [{seconds:.1f} s]",
                        flush=True,
                    )
    return rows


def _cell(values, digits=3):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (
        f"{values.mean():.{digits}f} "
        f"({values.min():.{digits}f}-{values.max():.{digits}f})"
    )


def _rst(header, body):
    """A reStructuredText simple table."""
    widths = [
        max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))
    ]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([rule, line(header), rule, *map(line, body), rule])


def _select(rows, **where):
    return [r for r in rows if all(r[key] == value for key, value in where.items())]


def tables(rows, pair_counts, methods):
    """The tables of docs/migration.rst, as reStructuredText."""
    out = []
    for migration in [f"{a} -> {b}" for a, b in MIGRATIONS]:
        mine = _select(rows, migration=migration)
        splits = sorted({r["split"] for r in mine})
        first = [next(r for r in mine if r["split"] == s) for s in splits]
        out.append(
            f"\n{migration}: store of {mine[0]['store_size']} items, "
            f"{len(splits)} split(s), mean (min-max). Old model alone "
            f"{_cell([r['old_model_alone'] for r in first])}; chance "
            f"{mine[0]['chance']:.3f}. Recall@10 of the ground truth: re-embedded "
            f"{_cell([r['recall_reembedded'] for r in first])}, old model alone "
            f"{_cell([r['recall_old_model'] for r in first])}.\n"
        )
        for side in SIDES:
            body = []
            for n in pair_counts:
                cells = [
                    _cell(
                        [
                            r["retention"]
                            for r in _select(mine, side=side, n_pairs=n, method=m)
                        ]
                    )
                    for m in methods
                ]
                auto = _select(mine, side=side, n_pairs=n, method="auto")
                extra = []
                if auto:
                    extra = [
                        ",".join(r["chosen"][:5] for r in auto),
                        _cell([r["recall"] for r in auto]),
                        _cell([r["retention_queries_fit"] for r in auto]),
                        ",".join(r["chosen_queries"][:5] for r in auto),
                    ]
                body.append([str(n), *cells, *extra])
            header = ["pairs", *methods]
            if "auto" in methods:
                header += [
                    "auto chose",
                    "recall@10 (auto)",
                    "auto, queries=",
                    "it chose",
                ]
            out.append(f"{side} side, retention@10 on the store\n")
            out.append(_rst(header, body) + "\n")
    for key, against, title in ESTIMATES:
        out.append(
            f"\n{title}: estimate - measured, mean (min-max); target band "
            f"{BAND[0]:+.2f} to {BAND[1]:+.2f}\n"
        )
        body, inside, total = [], 0, 0
        for migration in [f"{a} -> {b}" for a, b in MIGRATIONS]:
            for side in SIDES:
                for n in pair_counts:
                    row = [migration, side, str(n)]
                    for m in methods:
                        got = _select(
                            rows, migration=migration, side=side, n_pairs=n, method=m
                        )
                        diffs = [r[key] - r[against] for r in got]
                        inside += sum(BAND[0] <= d <= BAND[1] for d in diffs)
                        total += len(diffs)
                        row.append(_cell(diffs))
                    auto = _select(
                        rows, migration=migration, side=side, n_pairs=n, method="auto"
                    )
                    if auto:
                        row += [
                            _cell([r[key] for r in auto]),
                            _cell([r[against] for r in auto]),
                        ]
                    body.append(row)
        header = ["migration", "side", "pairs", *methods]
        if "auto" in methods:
            header += ["auto: estimate", "measured"]
        out.append(_rst(header, body))
        out.append(f"\nwithin the band: {inside}/{total}")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=None)
    parser.add_argument(
        "--splits", type=int, nargs="+", default=None, help="seeds of the splits"
    )
    parser.add_argument(
        "--tables-from", nargs="+", help="print the tables of saved --out files"
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="write the raw rows as JSON here")
    parser.add_argument(
        "--export", help="write the embeddings as .npz (for bench_migration_peers.py)"
    )
    args = parser.parse_args(argv)
    if args.export:
        queries, documents = load()
        np.savez(
            args.export,
            **{f"queries_{n}": Z for n, Z in queries.items()},
            **{f"documents_{n}": Z for n, Z in documents.items()},
        )
        return None
    pair_counts = sorted(
        args.pairs or ([500, 2000] if args.quick else [250, 500, 1000, 2000])
    )
    if args.tables_from:
        rows = []
        for path in args.tables_from:
            with open(path) as f:
                rows += json.load(f)
        print(tables(rows, pair_counts, args.methods))
        return rows
    splits = args.splits or ([0] if args.quick else [0, 1, 2])
    queries, documents = load()
    start = time.perf_counter()
    rows = []
    for split in splits:
        rows += run_split(queries, documents, pair_counts, split, args.methods)
    print(tables(rows, pair_counts, args.methods))
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    print(json.dumps({"rows": len(rows), "splits": splits, "pairs": pair_counts}))
    return rows


if __name__ == "__main__":
    main()
