"""Stitch a package classifier across two real sentence encoders (issue 22, part 5).

On :func:`sklatent.datasets.load_text_embeddings` (cached embeddings, or
``sklatent[text]`` to encode them): each item's *document* embedding, labelled
by its package (numpy, scipy, scikit-learn, torch). A head is fitted on one
encoder's embeddings of the training items, either a logistic regression
(``plain``) or a StandardScaler followed by one (``scaled``), and stitched
onto the other encoder through ``--anchors`` parallel anchors drawn from the
training items:

- relative representations, plain and centred
  (:func:`~sklatent.stitching.stitch_relative`; the head then reads the
  relative vectors);
- translators (:func:`~sklatent.stitching.stitch_translated`): orthogonal
  (``normalize="standard"``, the default, and ``"center"``, with the scaled
  head both in the scaler's metric, the default, and in A's raw metric),
  affine, and ridge with its penalty chosen by 5-fold cross-validation on the
  anchors;
- the same translators fitted on the anchors plus the pairs
  :func:`~sklatent.matching.match_spaces` finds between the unpaired pools
  (every training item, the first encoder's pool shuffled; the anchors are
  the seeds; one matching serves both directions): ``pools + ...``.

References: the target encoder's own head (same kind) fitted on all its
training embeddings, and the translators fitted on *all* training pairs
(``all pairs + ...``, the ceiling of any anchor set). Each cell is the mean
test accuracy over ``--draws`` anchor draws, with the spread (max - min).

    python benchmarks/bench_stitching_text.py       # 100, 300, 1000 anchors
    python benchmarks/bench_stitching_text.py --anchors 300 --draws 5
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklatent import LatentTranslator, RelativeTransformer
from sklatent._cli.demo_text import pool_pairs
from sklatent.datasets import load_text_embeddings
from sklatent.stitching import stitch_relative, stitch_translated


def make_head(kind, *steps):
    """A fresh head: ``steps`` (a relative transformer), then the classifier."""
    classifier = LogisticRegression(max_iter=2000)
    if kind == "scaled":
        return make_pipeline(*steps, StandardScaler(), classifier)
    return make_pipeline(*steps, classifier)


def cv_ridge(X_b, X_a, alphas=(0.1, 1.0, 10.0, 100.0, 1000.0)):
    """A ridge translator whose penalty 5-fold cross-validation chose on the pairs.

    The score is the translator's own, the mean cosine of translated and true
    target embeddings: it knows nothing of the head.
    """
    search = GridSearchCV(
        LatentTranslator(method="ridge"), {"alpha": list(alphas)}, cv=5
    )
    search.fit(X_b, X_a)
    return LatentTranslator(method="ridge", alpha=search.best_params_["alpha"])


def translated_scores(head, kind, X_b, X_a, B_test, y_test, prefix=""):
    """Accuracy of each translator fitted on the pairs ``(X_b, X_a)``."""
    variants = {
        "orthogonal": {},
        "orthogonal, centred": {"normalize": "center"},
        "affine": {"method": "affine"},
        "ridge (CV)": {"translator": cv_ridge(X_b, X_a)},
    }
    if kind == "scaled":
        variants["orthogonal, centred, raw metric"] = {
            "normalize": "center",
            "head_aware": False,
        }
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AnchorWarning: counted in the docs
        for name, params in variants.items():
            stitched = stitch_translated(head, X_b, X_a, **params)
            scores[prefix + name] = stitched.score(B_test, y_test)
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--no-relative", action="store_true", help="skip relative stitching (slow)"
    )
    parser.add_argument("--no-pools", action="store_true", help="skip matching")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_text_embeddings(verbose=True)
    y = data.target
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.3, stratify=y, random_state=0
    )
    y_train, y_test = y[train], y[test]
    print(
        f"{len(y)} items, {len(train)} train / {len(test)} test, "
        f"labels {data.target_names}",
        flush=True,
    )
    names = data.encoder_names
    emb = {name: data.document_embeddings[name] for name in names}
    directions = [(names[0], names[1]), (names[1], names[0])]
    kinds = ("plain", "scaled")

    # Matched pools, once per anchor draw: the pairs serve both directions.
    pools = {}
    if not args.no_pools:
        first, second = names
        for n_anchors in args.anchors:
            for draw in range(args.draws):
                anchors = np.sort(
                    np.random.RandomState(draw).choice(
                        len(train), n_anchors, replace=False
                    )
                )
                rows = pool_pairs(
                    emb[first][train], emb[second][train], anchors, random_state=draw
                )
                pools[(n_anchors, draw)] = rows
                info = rows[2]
                print(
                    f"pools, {n_anchors} seeds, draw {draw}: {info['pairs']} new "
                    f"pairs, precision {info['precision']:.3f}, converged "
                    f"{info['converged']}, {info['seconds']:.1f} s",
                    flush=True,
                )

    rows_out = []
    for source, target in directions:
        A_train, B_train = emb[source][train], emb[target][train]
        B_test = emb[target][test]
        for kind in kinds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                own = make_head(kind).fit(B_train, y_train).score(B_test, y_test)
                head = make_head(kind).fit(A_train, y_train)
            ceiling = translated_scores(
                head, kind, B_train, A_train, B_test, y_test, prefix="all pairs + "
            )
            rows_out.append((source, target, kind, "-", "own", [own], own))
            for method, value in ceiling.items():
                rows_out.append((source, target, kind, "all", method, [value], own))
            for n_anchors in args.anchors:
                runs = []
                for draw in range(args.draws):
                    anchors = np.sort(
                        np.random.RandomState(draw).choice(
                            len(train), n_anchors, replace=False
                        )
                    )
                    scores = {}
                    if not args.no_relative:
                        for name, center in [
                            ("relative", False),
                            ("rel. centred", True),
                        ]:
                            relative = RelativeTransformer(
                                anchors=anchors, center=center
                            )
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore", ConvergenceWarning)
                                model = make_head(kind, relative).fit(A_train, y_train)
                            stitched = stitch_relative(model, B_train)
                            scores[name] = stitched.score(B_test, y_test)
                    scores.update(
                        translated_scores(
                            head,
                            kind,
                            B_train[anchors],
                            A_train[anchors],
                            B_test,
                            y_test,
                        )
                    )
                    if (n_anchors, draw) in pools:
                        x_rows, y_rows, _ = pools[(n_anchors, draw)]
                        # x rows index the first encoder's pool, y the second's.
                        b_rows, a_rows = (
                            (x_rows, y_rows) if target == names[0] else (y_rows, x_rows)
                        )
                        scores.update(
                            translated_scores(
                                head,
                                kind,
                                B_train[b_rows],
                                A_train[a_rows],
                                B_test,
                                y_test,
                                prefix="pools + ",
                            )
                        )
                    runs.append(scores)
                    print(
                        f"  {source} -> {target}, {kind}, {n_anchors} anchors, draw "
                        f"{draw}: "
                        + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()),
                        flush=True,
                    )
                for method in runs[0]:
                    values = [run[method] for run in runs]
                    rows_out.append(
                        (source, target, kind, n_anchors, method, values, own)
                    )

    print(
        "\n| source -> target | head | anchors | method | accuracy (spread) "
        "| of target's own |"
    )
    print("|---|---|---|---|---|---|")
    for source, target, kind, n_anchors, method, values, own in rows_out:
        print(
            f"| {source} -> {target} | {kind} | {n_anchors} | {method} | "
            f"{np.mean(values):.3f} ({np.ptp(values):.3f}) | "
            f"{np.mean(values) / own:.2f} |"
        )
    if pools:
        print("\n| seeds | new pairs | precision | converged | seconds |")
        print("|---|---|---|---|---|")
        for n_anchors in args.anchors:
            infos = [pools[(n_anchors, d)][2] for d in range(args.draws)]
            print(
                f"| {n_anchors} | {np.mean([i['pairs'] for i in infos]):.0f} | "
                f"{np.mean([i['precision'] for i in infos]):.3f} "
                f"({np.ptp([i['precision'] for i in infos]):.3f}) | "
                f"{sum(i['converged'] for i in infos)}/{len(infos)} | "
                f"{np.mean([i['seconds'] for i in infos]):.1f} |"
            )
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
