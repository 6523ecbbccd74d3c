"""Stitch a package classifier across two real sentence encoders (issue 22, part 5).

On :func:`sklatent.datasets.load_text_embeddings` (needs ``sklatent[text]``):
each item's *document* embedding, labelled by its package (numpy, scipy,
scikit-learn, torch). A logistic regression is fitted on one encoder's
embeddings of the training items and stitched onto the other encoder through
``--anchors`` parallel anchors drawn from the training items: relative
representations (plain and centred, :func:`~sklatent.stitching.stitch_relative`)
and orthogonal and affine translators
(:func:`~sklatent.stitching.stitch_translated`). The reference is the target
encoder's own classifier fitted on all its training embeddings. Each cell is
the mean test accuracy over ``--draws`` anchor draws, with the spread (max -
min).

    python benchmarks/bench_stitching_text.py              # 300 anchors, 3 draws
    python benchmarks/bench_stitching_text.py --anchors 100 1000
"""

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklatent import RelativeTransformer
from sklatent.datasets import load_text_embeddings
from sklatent.stitching import stitch_relative, stitch_translated


def head():
    return LogisticRegression(max_iter=2000)


def stitched_scores(X_a, X_b, y, train, test, anchors):
    """Test accuracy on B of A's classifier, for each way of stitching."""
    scores = {}
    for name, center in [("relative", False), ("relative, centred", True)]:
        relative = RelativeTransformer(anchors=anchors, center=center)
        model = make_pipeline(relative, head()).fit(X_a[train], y[train])
        scores[name] = stitch_relative(model, X_b[train]).score(X_b[test], y[test])
    model = head().fit(X_a[train], y[train])
    rows = train[anchors]
    for method in ("orthogonal", "affine"):
        stitched = stitch_translated(model, X_b[rows], X_a[rows], method=method)
        scores[method] = stitched.score(X_b[test], y[test])
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[300])
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_text_embeddings(verbose=True)
    y = data.target
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.3, stratify=y, random_state=0
    )
    print(
        f"{len(y)} items, {len(train)} train / {len(test)} test, "
        f"labels {data.target_names}"
    )
    names = data.encoder_names
    print(
        "| source -> target | anchors | method | accuracy (spread) | of target's own |"
    )
    print("|---|---|---|---|---|")
    for source, target in [(names[0], names[1]), (names[1], names[0])]:
        X_a = data.document_embeddings[source]
        X_b = data.document_embeddings[target]
        own = head().fit(X_b[train], y[train]).score(X_b[test], y[test])
        print(f"| {target} own | - | - | {own:.3f} | 1.00 |")
        for n_anchors in args.anchors:
            runs = [
                stitched_scores(
                    X_a,
                    X_b,
                    y,
                    train,
                    test,
                    np.sort(
                        np.random.RandomState(draw).choice(
                            len(train), n_anchors, replace=False
                        )
                    ),
                )
                for draw in range(args.draws)
            ]
            for method in runs[0]:
                values = [run[method] for run in runs]
                print(
                    f"| {source} -> {target} | {n_anchors} | {method} | "
                    f"{np.mean(values):.3f} ({np.ptp(values):.3f}) | "
                    f"{np.mean(values) / own:.2f} |"
                )
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
