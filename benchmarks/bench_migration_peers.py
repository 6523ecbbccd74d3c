"""The peers' maps on the pairs of ``bench_migration.py``: retention@10 on the store.

Runs in the peers' own Python 3.12 venv (``rebasis`` 0.1.0, ``isotrieve``
0.4.0; never sklatent's dependencies), on the text embeddings
``bench_migration.py --export FILE`` wrote, with the same splits (the same
numpy permutation), the same store, pairs and queries, and the same
retention@10 (cosine, the 10 best by a stable sort, overlap with the search
of the store re-embedded by the new model). Each peer map is fitted the way
its library fits it: ``isotrieve`` ``RidgeMapping(alpha="auto")`` (GCV) and
``OrthogonalProcrustesMapping``; ``rebasis``'s candidate adapters on
l2-normalised pairs, as its ``fit_candidates`` prepares them.

    python3.12 -m venv peers
    peers/bin/python -m pip install rebasis==0.1.0 isotrieve==0.4.0
    python benchmarks/bench_migration.py --export text.npz
    peers/bin/python benchmarks/bench_migration_peers.py text.npz --out peers.json
"""

import argparse
import json
import warnings

import numpy as np

MIGRATIONS = (("static", "minilm"), ("minilm", "static"))


def _unit(Z):
    n = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(n > 0, n, 1.0)


def _top(Q, S, k=10):
    scores = _unit(Q) @ _unit(S).T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def retention(Q, S, Q_ref, S_ref, k=10):
    A, B = _top(Q, S, k), _top(Q_ref, S_ref, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(A, B, strict=True)]))


def maps():
    from isotrieve import OrthogonalProcrustesMapping, RidgeMapping
    from rebasis.core.linear import LinearAdapter, LowRankAffineAdapter
    from rebasis.core.procrustes import CenteredProcrustesAdapter, ProcrustesAdapter

    def rebasis(cls):
        def fit(src, dst):
            adapter = cls.fit(_unit(src), _unit(dst))
            return lambda V: adapter.apply(_unit(V))

        return fit

    def isotrieve(make):
        def fit(src, dst):
            mapping = make().fit(src, dst)
            return mapping.transform

        return fit

    return {
        "isotrieve ridge (GCV)": isotrieve(lambda: RidgeMapping(alpha="auto")),
        "isotrieve orthogonal": isotrieve(OrthogonalProcrustesMapping),
        "rebasis linear": rebasis(LinearAdapter),
        "rebasis low-rank affine": rebasis(LowRankAffineAdapter),
        "rebasis centred procrustes": rebasis(CenteredProcrustesAdapter),
        "rebasis procrustes": rebasis(ProcrustesAdapter),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("embeddings")
    parser.add_argument("--pairs", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    data = np.load(args.embeddings)
    docs = {n: data[f"documents_{n}"].astype(np.float64) for n in ("static", "minilm")}
    queries = {n: data[f"queries_{n}"].astype(np.float64) for n in ("static", "minilm")}
    n_items = len(docs["static"])
    rows = []
    for split in args.splits:
        order = np.random.default_rng(split).permutation(n_items)
        n_store = n_items - max(args.pairs)
        store, pool = order[:n_store], order[n_store:]
        for old, new in MIGRATIONS:
            S_old, S_new, Q_new = (
                docs[old][store],
                docs[new][store],
                queries[new][store],
            )
            for n in sorted(args.pairs):
                P_old, P_new = docs[old][pool[:n]], docs[new][pool[:n]]
                for name, fit in maps().items():
                    for side in ("corpus", "query"):
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                if side == "corpus":
                                    f = fit(P_old, P_new)
                                    value = retention(Q_new, f(S_old), Q_new, S_new)
                                else:
                                    f = fit(P_new, P_old)
                                    value = retention(f(Q_new), S_old, Q_new, S_new)
                        except Exception as exc:  # a peer map refusing these shapes
                            value = None
                            print(f"  {name} {side}: {type(exc).__name__}: {exc}"[:160])
                        rows.append(
                            {
                                "migration": f"{old} -> {new}",
                                "split": split,
                                "n_pairs": n,
                                "method": name,
                                "side": side,
                                "retention": value,
                            }
                        )
                        if value is not None:
                            print(
                                f"split {split} {old} -> {new} {n:5d} {side:6s} "
                                f"{name:28s} {value:.3f}",
                                flush=True,
                            )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
