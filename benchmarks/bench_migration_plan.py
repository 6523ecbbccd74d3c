"""Which rows to re-embed first: the plan's rows against random ones, on real text.

The two cached encoders of :func:`sklatent.datasets.load_text_embeddings`
(``static``, 64-d, and ``minilm``, 384-d; 3,597 docstring items, each with a
query text and a document text), migrated both ways on the corpus side. For
each random split (``--splits``) the store is 1,597 items no fit sees and the
pairs are ``--pairs`` of the other 2,000 (their documents by both models);
``fit_bridge(method="auto", queries=...)`` fits the bridge with the pairs'
query texts. The store is translated, then a budget of its rows is replaced
by their new-model vectors: the rows :func:`sklatent.migration.plan_reembedding`
picks, or random rows (``--random`` draws, averaged). Retention@10 of the
store's query texts (new model) against the store re-embedded whole, at each
budget. Prints one table per migration (mean over splits) and a JSON line.

    python benchmarks/bench_migration_plan.py  # splits 0 1 2, 2000 pairs
    python benchmarks/bench_migration_plan.py --pairs 1000 --splits 0
"""

import argparse
import json
import warnings

import numpy as np

BUDGETS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
MIGRATIONS = (("static", "minilm"), ("minilm", "static"))


def run(documents, queries, split, n_pairs, n_random):
    from sklatent.migration import fit_bridge, plan_reembedding, retention_at_k

    n_items = len(documents["static"])
    order = np.random.default_rng(split).permutation(n_items)
    store, pool = order[: n_items - 2000], order[n_items - 2000 :]
    pairs = pool[:n_pairs]
    rows = []
    for old, new in MIGRATIONS:
        S_old, S_new, Q_new = (
            documents[old][store],
            documents[new][store],
            queries[new][store],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bridge, report = fit_bridge(
                documents[old][pairs],
                documents[new][pairs],
                method="auto",
                store_size=len(store),
                queries=queries[new][pairs],
                random_state=split,
            )
        translated = bridge.transform(S_old)
        planned = plan_reembedding(bridge, S_old, 1.0)[0]

        def retention(picked, translated=translated, S_new=S_new, Q_new=Q_new):
            Z = translated.copy()
            Z[picked] = S_new[picked]
            return float(retention_at_k(Q_new, Z, Q_new, S_new).mean())

        rng = np.random.default_rng(1000 + split)
        for budget in BUDGETS:
            n = int(np.ceil(budget * len(store)))
            rows.append(
                {
                    "migration": f"{old} -> {new}",
                    "split": split,
                    "method": report["method"],
                    "budget": budget,
                    "plan": retention(planned[:n]),
                    "random": float(
                        np.mean(
                            [
                                retention(rng.choice(len(store), n, replace=False))
                                for _ in range(n_random)
                            ]
                        )
                    ),
                }
            )
    return rows


def table(rows):
    lines = []
    for migration in dict.fromkeys(r["migration"] for r in rows):
        lines += [
            f"{migration} (corpus side, mean of {len({r['split'] for r in rows})} "
            "splits)",
            "=======  ======  ======  =====",
            "budget   plan    random  lift",
            "=======  ======  ======  =====",
        ]
        for budget in BUDGETS:
            cell = [
                r for r in rows if r["migration"] == migration and r["budget"] == budget
            ]
            plan = np.mean([r["plan"] for r in cell])
            rand = np.mean([r["random"] for r in cell])
            lines.append(
                f"{budget:>6.0%}   {plan:.3f}   {rand:.3f}   {plan - rand:+.3f}"
            )
        lines.append("=======  ======  ======  =====")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--random", type=int, default=5, help="random draws")
    args = parser.parse_args(argv)
    from sklatent.datasets import load_text_embeddings

    data = load_text_embeddings(encoders=["static", "minilm"])
    documents = {n: np.asarray(data.document_embeddings[n]) for n in data.encoder_names}
    queries = {n: np.asarray(data.query_embeddings[n]) for n in data.encoder_names}
    rows = []
    for split in args.splits:
        rows += run(documents, queries, split, args.pairs, args.random)
    print(table(rows))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
