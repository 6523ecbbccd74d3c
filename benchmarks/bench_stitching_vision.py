"""Stitch a Fashion-MNIST classifier across two real image encoders (issue 32, part 3).

On :func:`sklatent.datasets.load_image_embeddings` ("fashion_mnist", the
default 3,000 images: 2,000 to fit on, 1,000 held out), embedded by
EfficientNet-Lite0 and Lite2 (cached, or ``sklatent[vision]`` to encode them).
A head (StandardScaler then logistic regression) is fitted on one encoder's
embeddings of the training images and reused on the other encoder's through
``--anchors`` parallel anchors drawn from the training images. The heads'
regularisation ``C`` (0.01, 0.1 or 1) is chosen by 3-fold cross-validation on
the source encoder's own training embeddings, once for the absolute heads
and once for the relative ones (centred, 300 anchors); the target never
takes part.

- relative representations (:func:`~sklatent.stitching.stitch_relative`; the
  head then reads relative vectors): cosine (``relative``), centred cosine
  (``rel. centred``), and the product of invariances, centred cosine,
  Euclidean, L1 and L-infinity similarities concatenated (``rel. product``);
  and the centred cosine on *whitened* embeddings (``rel. whitened``): each
  encoder's embeddings reduced to their ``k`` leading principal components,
  each scaled to unit variance (``PCA(k, whiten=True)`` fitted on that
  encoder's own training embeddings, no pairs, no labels), then centred
  cosines to the anchors, each standardised on the encoder's own training
  rows (``normalize="standard"``), then the logistic regression: one
  pipeline, ``PCA(k, whiten=True)`` first, which ``stitch_relative`` gives B
  fitted on B's own training embeddings. If two spaces are related by an
  invertible linear map, whitening leaves them related by a rotation, to
  which cosines are invariant. ``k`` (32, 64, 128 or 256) is
  chosen for each direction by 3-fold stitching validation on the training
  images alone (A's head fitted on two folds, stitched onto B through 300
  anchors of those folds, scored on B's third fold), with the head's ``C``
  chosen by cross-validation on A's whitened training embeddings;
- translators (:func:`~sklatent.stitching.stitch_translated`, in the head's
  scaled metric): ``orthogonal``, ``affine``, and ``ridge (CV)`` with its
  penalty chosen by 5-fold cross-validation on the anchors (the translator's
  own score: it knows nothing of the head);
- ``ridge + matched pools``: not supervised by the anchors alone, it also
  reads the *unpaired* pools, both encoders' embeddings of the training
  images, B's shuffled so that no order pairs them.
  :func:`~sklatent.matching.match_spaces` finds more pairs between the pools
  from the anchors as seeds (on each pool's 64 leading principal components,
  each fitted on its own pool; its held-out-seed gate keeps the pairs found
  only when they help a map on held-out anchors), then the ridge (CV)
  translator is fitted on the anchors and those pairs. How many pairs were
  found, and the fraction that are right (known here, used for nothing
  else), are printed with each draw.

References: the target encoder's own head fitted on all its training
embeddings (``own``), and the source head applied to the target's embeddings
as they are (``none``: both are 1280-d, so it runs, at chance). Each cell is
the mean test accuracy over ``--draws`` anchor draws, with the spread
(max - min), and its ratio to ``own``.

    python benchmarks/bench_stitching_vision.py            # 100, 300, 1000 anchors
    python benchmarks/bench_stitching_vision.py --anchors 300 --draws 1
    python benchmarks/bench_stitching_vision.py --methods "ridge (CV)" \
        "ridge + matched pools"                             # those rows only
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklatent import LatentTranslator, RelativeTransformer
from sklatent.datasets import load_image_embeddings
from sklatent.matching import match_spaces
from sklatent.stitching import stitch_relative, stitch_translated

ENCODERS = ("efficientnet-lite0", "efficientnet-lite2")

RELATIVE = {
    "relative": {},
    "rel. centred": {"center": True},
    "rel. product": {
        "center": True,
        "similarity": ["cosine", "euclidean", "l1", "linf"],
    },
}

TRANSLATORS = {"orthogonal": {}, "affine": {"method": "affine"}}

CS = (0.01, 0.1, 1.0)

WHITENED_K = (32, 64, 128, 256)

MATCH_WIDTH = 64

METHODS = (
    *RELATIVE,
    "rel. whitened",
    *TRANSLATORS,
    "ridge (CV)",
    "ridge + matched pools",
)


def make_head(C, *steps):
    """A fresh head: ``steps`` (a relative transformer), a scaler, the classifier."""
    return make_pipeline(
        *steps, StandardScaler(), LogisticRegression(C=C, max_iter=2000)
    )


def choose_c(X, y, *steps):
    """The C of best 3-fold accuracy of ``make_head(C, *steps)`` on ``(X, y)``."""
    scores = [cross_val_score(make_head(C, *steps), X, y, cv=3).mean() for C in CS]
    return CS[int(np.argmax(scores))]


def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def whitening_step(k):
    """Each encoder's ``k`` leading principal components, at unit variance."""
    return PCA(k, whiten=True, random_state=0)


def whitened_head(C, anchors, *steps):
    """``steps`` (the whitening), centred relative vectors, the classifier."""
    relative = RelativeTransformer(anchors=anchors, center=True, normalize="standard")
    return make_pipeline(*steps, relative, LogisticRegression(C=C, max_iter=2000))


def choose_whitening(A_train, B_train, y_train):
    """``(k, C)`` of the best 3-fold stitching accuracy A -> B on training rows."""
    best = None
    for k in WHITENED_K:
        A_w = whitening_step(k).fit(A_train).transform(A_train)
        B_w = whitening_step(k).fit(B_train).transform(B_train)
        relative = RelativeTransformer(n_anchors=300, center=True, random_state=0)
        C = choose_c(A_w, y_train, relative)
        scores = []
        for fit, held in KFold(3, shuffle=True, random_state=0).split(A_w):
            anchors = np.sort(
                np.random.RandomState(0).choice(len(fit), 300, replace=False)
            )
            model = fit_quietly(whitened_head(C, anchors), A_w[fit], y_train[fit])
            stitched = stitch_relative(model, B_w[fit])
            scores.append(stitched.score(B_w[held], y_train[held]))
        print(f"    whitening k={k}, C={C}: validation {np.mean(scores):.3f}")
        if best is None or np.mean(scores) > best[0]:
            best = (np.mean(scores), k, C)
    return best[1:]


def ridge_cv(X, Y):
    """A ridge translator ``X -> Y``, its penalty of best 5-fold score."""
    search = GridSearchCV(
        LatentTranslator(method="ridge"), {"alpha": [1.0, 10.0, 100.0, 1e3]}, cv=5
    )
    return search.fit(X, Y).best_estimator_


def matched_pairs(A_train, B_train, anchors, draw):
    """``(rows of B, rows of A)``: the anchors, then the pairs found between pools.

    B's pool is shuffled, so only the anchors pair it with A's; the pools
    are matched on their :data:`MATCH_WIDTH` leading principal components
    (each fitted on its own pool: a Procrustes step in 1280 dimensions
    takes seconds). Prints how many pairs were found and the fraction right.
    """
    order = np.random.RandomState(draw).permutation(len(B_train))
    position = np.argsort(order)  # where each training row went in B's pool
    seeds = np.column_stack([position[anchors], anchors])
    pools = [
        PCA(MATCH_WIDTH, random_state=0).fit_transform(pool)
        for pool in (B_train[order], A_train)
    ]
    matching = match_spaces(*pools, seeds=seeds, random_state=draw)
    rows_b, rows_a = order[matching.x_indices], matching.y_indices
    found = slice(len(anchors), None)
    right = np.mean(rows_b[found] == rows_a[found]) if len(rows_a[found]) else 0.0
    print(
        f"    matched pools: {len(rows_a) - len(anchors)} pairs found "
        f"({right:.3f} right), {matching!r}",
        flush=True,
    )
    return rows_b, rows_a


def stitched_scores(
    A_train,
    B_train,
    B_test,
    y_train,
    y_test,
    head,
    C,
    anchors,
    whitening,
    *,
    draw,
    methods=METHODS,
):
    """Accuracy on B of A's heads, stitched through ``anchors`` (training rows).

    Only the ``methods`` named are run; ``draw`` seeds the shuffle and the
    matching of ``"ridge + matched pools"``.
    """
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AnchorWarning, ConvergenceWarning
        for name, params in RELATIVE.items():
            if name in methods:
                relative = RelativeTransformer(anchors=anchors, **params)
                model = make_head(C, relative).fit(A_train, y_train)
                scores[name] = stitch_relative(model, B_train).score(B_test, y_test)
        if "rel. whitened" in methods:
            k, C_w = whitening
            model = whitened_head(C_w, anchors, whitening_step(k))
            stitched = stitch_relative(model.fit(A_train, y_train), B_train)
            scores["rel. whitened"] = stitched.score(B_test, y_test)
        pairs = B_train[anchors], A_train[anchors]
        variants = {name: (pairs, params) for name, params in TRANSLATORS.items()}
        if "ridge (CV)" in methods:
            variants["ridge (CV)"] = pairs, {"translator": ridge_cv(*pairs)}
        if "ridge + matched pools" in methods:
            rows_b, rows_a = matched_pairs(A_train, B_train, anchors, draw)
            found = B_train[rows_b], A_train[rows_a]
            variants["ridge + matched pools"] = found, {"translator": ridge_cv(*found)}
        for name, (fit_pairs, params) in variants.items():
            if name in methods:
                stitched = stitch_translated(head, *fit_pairs, **params)
                scores[name] = stitched.score(B_test, y_test)
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="the stitching rows to run (default: all)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_image_embeddings("fashion_mnist", encoders=ENCODERS, verbose=True)
    train, test = data.train_indices, data.test_indices
    y_train, y_test = data.target[train], data.target[test]
    print(f"{len(train)} train / {len(test)} test images", flush=True)
    rows = []
    for source, target in [ENCODERS, ENCODERS[::-1]]:
        A, B = data.embeddings[source], data.embeddings[target]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c_own = choose_c(B[train], y_train)
            c_head = choose_c(A[train], y_train)
            c_relative = whitening = None
            if set(RELATIVE) & set(args.methods):
                c_relative = choose_c(
                    A[train],
                    y_train,
                    RelativeTransformer(n_anchors=300, center=True, random_state=0),
                )
            if "rel. whitened" in args.methods:
                whitening = choose_whitening(A[train], B[train], y_train)
        print(
            f"  C: own {c_own}, head {c_head}, relative {c_relative}; whitening "
            f"(k, C) {whitening}",
            flush=True,
        )
        own = fit_quietly(make_head(c_own), B[train], y_train).score(B[test], y_test)
        head = fit_quietly(make_head(c_head), A[train], y_train)
        rows.append((source, target, "-", "own", [own], own))
        rows.append((source, target, "-", "none", [head.score(B[test], y_test)], own))
        for n_anchors in args.anchors:
            runs = []
            for draw in range(args.draws):
                anchors = np.sort(
                    np.random.RandomState(draw).choice(
                        len(train), n_anchors, replace=False
                    )
                )
                runs.append(
                    stitched_scores(
                        A[train],
                        B[train],
                        B[test],
                        y_train,
                        y_test,
                        head,
                        c_relative,
                        anchors,
                        whitening,
                        draw=draw,
                        methods=args.methods,
                    )
                )
                print(
                    f"  {source} -> {target}, {n_anchors} anchors, draw {draw}: "
                    + ", ".join(f"{k} {v:.3f}" for k, v in runs[-1].items()),
                    flush=True,
                )
            for method in runs[0]:
                values = [run[method] for run in runs]
                rows.append((source, target, n_anchors, method, values, own))

    print("\n| source -> target | anchors | method | accuracy (spread) | of own |")
    print("|---|---|---|---|---|")
    for source, target, n_anchors, method, values, own in rows:
        print(
            f"| {source} -> {target} | {n_anchors} | {method} | "
            f"{np.mean(values):.3f} ({np.ptp(values):.3f}) | "
            f"{np.mean(values) / own:.3f} |"
        )
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
