"""Images and their captions: retrieval and zero-shot classification (issue 32, part 4).

On :func:`sklatent.datasets.load_image_embeddings` (cached, or
``sklatent[vision,text]`` to encode them): the 1,372 Noto emoji, embedded by
EfficientNet-Lite0 or Lite2, and their captions (Unicode names) embedded by
MiniLM; 300 emoji are held out, the anchor pairs are drawn from the other
1,072. Nothing is trained: the bridge between images and text is the pairing.

1. **Caption retrieval**: each held-out image ranks the 300 held-out
   captions (top-1, top-5, mean reciprocal rank; chance top-5 = 5/300).
   ASIF (:class:`~sklatent.stitching.ZeroShotClassifier`: centred cosine,
   k-means anchors, ``top_k`` chosen by 3-fold ``GridSearchCV`` on the anchor
   pairs, power 3) against translators image -> text fitted on the same
   anchors (orthogonal; ridge with its penalty chosen by 5-fold CV), each
   ranked by cosine and by CSLS (hubness-corrected). ``altered`` queries: the
   held-out emoji drawn otherwise (``rendering="altered"``: smaller, moved,
   recoloured, on a coloured background) against plain anchors.
2. **Zero-shot emoji category** (8 Unicode groups): held-out emoji into their
   group, described by its name (``Smileys & Emotion``) or by the mean of its
   subgroup names (``face smiling``, ``face affection``, ...). ASIF with
   ``top_k`` and ``power`` chosen by 5-fold cross-validation on the anchor
   emoji and *their* groups (the held-out labels are never seen), against the
   orthogonal translator and the supervised ceiling (a logistic regression on
   the 1,072 training images and their labels).
3. **Zero-shot Fashion-MNIST through emoji anchors**: the 1,000 held-out
   images of the default Fashion-MNIST subset into their class, from the
   captions "a photo of a <class>", through all 1,372 emoji pairs (ASIF with
   its defaults), against the translator, the supervised ceiling (fitted on
   the 2,000 training images) and chance (0.10).

Each cell is the mean over ``--draws`` anchor draws with the spread
(max - min).

    python benchmarks/bench_crossmodal_vision.py
    python benchmarks/bench_crossmodal_vision.py --anchors 1000 --draws 1
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklatent import LatentTranslator, _vision
from sklatent.datasets import load_encoder, load_image_embeddings
from sklatent.metrics import retrieval_ranks
from sklatent.stitching import ZeroShotClassifier

IMAGE_ENCODERS = ("efficientnet-lite0", "efficientnet-lite2")
TEXT = "minilm"
CATEGORY_GRID = [(50, 3.0), (100, 3.0), (200, 2.0), (200, 1.0)]


def unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def ranks_of(queries, candidates):
    """Ranks of the true caption by cosine and by CSLS."""
    return {
        metric: retrieval_ranks(queries, candidates, metric=metric)
        for metric in ("cosine", "csls")
    }


def summary(ranks):
    return {
        "top-1": np.mean(ranks == 1),
        "top-5": np.mean(ranks <= 5),
        "MRR": np.mean(1.0 / ranks),
    }


def asif(X_pairs, Y_pairs, n_anchors, draw):
    """ZeroShotClassifier with top_k chosen by GridSearchCV on the anchor pairs."""
    clf = ZeroShotClassifier(n_anchors=n_anchors, anchors="kmeans", random_state=draw)
    anchors = clf.fit(X_pairs, Y_pairs).anchor_indices_
    # Every fold's pairs are its anchors: the search is over top_k alone.
    search = GridSearchCV(
        ZeroShotClassifier(random_state=draw),
        {"top_k": [20, 50, 100]},
        cv=KFold(3, shuffle=True, random_state=draw),
    )
    search.fit(X_pairs[anchors], Y_pairs[anchors])
    return search.best_estimator_, anchors


def cv_ridge(X, Y):
    search = GridSearchCV(
        LatentTranslator(method="ridge"), {"alpha": [1.0, 10.0, 100.0, 1000.0]}, cv=5
    )
    return search.fit(X, Y).best_estimator_


def retrieval(data, altered, n_anchors_list, draws):
    train, test = data.train_indices, data.test_indices
    Y = data.embeddings[TEXT]
    rows = []
    for image in IMAGE_ENCODERS:
        X = data.embeddings[image]
        for n_anchors in n_anchors_list:
            runs = []
            for draw in range(draws):
                clf, anchors = asif(X[train], Y[train], n_anchors, draw)
                pairs = (X[train][anchors], Y[train][anchors])
                captions = clf.relative_y_.transform(Y[test])
                scores = {}
                for query_name, Q in [("plain", X[test]), ("altered", altered[image])]:
                    described = clf.relative_x_.transform(Q)
                    for metric, r in ranks_of(described, captions).items():
                        scores[f"ASIF, {metric}, {query_name}"] = summary(r)
                    for name, translator in [
                        ("orthogonal", LatentTranslator()),
                        ("ridge (CV)", cv_ridge(*pairs)),
                    ]:
                        Z = translator.fit(*pairs).transform(Q)
                        for metric, r in ranks_of(Z, Y[test]).items():
                            scores[f"{name}, {metric}, {query_name}"] = summary(r)
                runs.append(scores)
                print(
                    f"  {image}, {n_anchors} anchors, draw {draw}: top_k "
                    f"{clf.top_k}, ASIF csls top-5 "
                    f"{scores['ASIF, csls, plain']['top-5']:.3f}",
                    flush=True,
                )
            for method in runs[0]:
                rows.append((image, n_anchors, method, [run[method] for run in runs]))
    return rows


def subgroup_names():
    """The subgroup names of each emoji group, as words ("face smiling")."""
    groups, group = {}, None
    with open(_vision._EMOJI_TEST, encoding="utf-8") as file:
        lines = file.read().splitlines()
    for line in lines:
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            name = line.split(":", 1)[1].strip().replace("-", " ")
            groups.setdefault(group, []).append(name)
    return groups


def choose_by_anchor_labels(X, Y, y, C, draw):
    """(top_k, power) of best 5-fold accuracy on the anchor emoji's own groups."""
    folds = KFold(5, shuffle=True, random_state=draw).split(X)
    accuracy = np.zeros(len(CATEGORY_GRID))
    for fit_rows, val_rows in folds:
        for i, (top_k, power) in enumerate(CATEGORY_GRID):
            clf = ZeroShotClassifier(top_k=top_k, power=power, random_state=draw)
            clf.fit(X[fit_rows], Y[fit_rows], class_embeddings=C)
            accuracy[i] += clf.score(X[val_rows], y[val_rows])
    return CATEGORY_GRID[int(np.argmax(accuracy))]


def categories(data, text_encoder, n_anchors_list, draws):
    train, test = data.train_indices, data.test_indices
    y = data.target
    Y = data.embeddings[TEXT]
    subgroups = subgroup_names()
    captions = {
        "group names": unit(text_encoder.transform(data.target_names)),
        "subgroup names": unit(
            np.stack(
                [
                    unit(text_encoder.transform(subgroups[g])).mean(axis=0)
                    for g in data.target_names
                ]
            )
        ),
    }
    rows = []
    for image in IMAGE_ENCODERS:
        X = data.embeddings[image]
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        ceiling = head.fit(X[train], y[train]).score(X[test], y[test])
        rows.append((image, "-", "supervised (all training labels)", [ceiling]))
        for caption_name, C in captions.items():
            for n_anchors in n_anchors_list:
                runs = {"ASIF": [], "orthogonal": []}
                for draw in range(draws):
                    anchors = np.random.RandomState(draw).choice(
                        len(train), n_anchors, replace=False
                    )
                    Xa, Ya, ya = X[train][anchors], Y[train][anchors], y[train][anchors]
                    top_k, power = choose_by_anchor_labels(Xa, Ya, ya, C, draw)
                    clf = ZeroShotClassifier(top_k=top_k, power=power)
                    clf.fit(Xa, Ya, class_embeddings=C)
                    runs["ASIF"].append(clf.score(X[test], y[test]))
                    Z = unit(LatentTranslator().fit(Xa, Ya).transform(X[test]))
                    runs["orthogonal"].append(np.mean(np.argmax(Z @ C.T, 1) == y[test]))
                for method, values in runs.items():
                    rows.append((image, n_anchors, f"{method}, {caption_name}", values))
    chance = np.bincount(y[test]).max() / len(test)
    return rows, chance


def fashion(emoji, text_encoder):
    data = load_image_embeddings("fashion_mnist", encoders=IMAGE_ENCODERS)
    train, test = data.train_indices, data.test_indices
    y = data.target
    C = unit(
        text_encoder.transform([f"a photo of a {n.lower()}" for n in data.target_names])
    )
    rows = []
    for image in IMAGE_ENCODERS:
        X, Q = emoji.embeddings[image], data.embeddings[image]
        Y = emoji.embeddings[TEXT]
        clf = ZeroShotClassifier(random_state=0).fit(X, Y, class_embeddings=C)
        Z = unit(LatentTranslator().fit(X, Y).transform(Q[test]))
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        rows += [
            (image, "ASIF (top_k=50, power 3)", clf.score(Q[test], y[test])),
            (image, "orthogonal", np.mean(np.argmax(Z @ C.T, 1) == y[test])),
            (image, "supervised", head.fit(Q[train], y[train]).score(Q[test], y[test])),
            (image, "chance", 0.1),
        ]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    warnings.simplefilter("ignore")  # AnchorWarning, ConvergenceWarning
    encoders = [*IMAGE_ENCODERS, TEXT]
    data = load_image_embeddings("emoji", encoders=encoders, verbose=True)
    altered_data = load_image_embeddings(
        "emoji", encoders=IMAGE_ENCODERS, rendering="altered", verbose=True
    )
    np.testing.assert_array_equal(altered_data.ids, data.ids)
    altered = {
        name: altered_data.embeddings[name][data.test_indices]
        for name in IMAGE_ENCODERS
    }
    text_encoder = load_encoder(TEXT)

    rows = retrieval(data, altered, args.anchors, args.draws)
    n_test = len(data.test_indices)
    print(f"\nCaption retrieval among {n_test} held-out captions")
    print(
        f"(chance: top-1 {1 / n_test:.3f}, top-5 {5 / n_test:.3f}, MRR "
        f"{np.mean(1 / np.arange(1, n_test + 1)):.3f})\n"
    )
    print(
        "| image encoder | anchors | method, ranking, queries | top-1 | top-5 | MRR |"
    )
    print("|---|---|---|---|---|---|")
    for image, n_anchors, method, runs in rows:
        cells = [
            f"{np.mean([r[m] for r in runs]):.3f} ({np.ptp([r[m] for r in runs]):.3f})"
            for m in ("top-1", "top-5", "MRR")
        ]
        print(f"| {image} | {n_anchors} | {method} | " + " | ".join(cells) + " |")

    rows, chance = categories(data, text_encoder, args.anchors, args.draws)
    print(f"\nZero-shot emoji category (8 groups; majority class {chance:.3f})\n")
    print("| image encoder | anchors | method, class captions | accuracy (spread) |")
    print("|---|---|---|---|")
    for image, n_anchors, method, values in rows:
        print(
            f"| {image} | {n_anchors} | {method} | {np.mean(values):.3f} "
            f"({np.ptp(values):.3f}) |"
        )

    print("\nZero-shot Fashion-MNIST through the 1,372 emoji pairs\n")
    print("| image encoder | method | accuracy |")
    print("|---|---|---|")
    for image, method, value in fashion(data, text_encoder):
        print(f"| {image} | {method} | {value:.3f} |")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
