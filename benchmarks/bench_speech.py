"""Latent communication on spoken words (issue 33): stitching and audio -> text.

On :func:`sklatent.datasets.load_speech_embeddings` (three audio encoders of
different architectures, trained on 112 voices; every score is on the 1,920
recordings of the 48 voices no encoder heard):

**Stitching.** A word classifier (a logistic regression, ``C=0.1`` as in the
digits demo) fitted on encoder A's embeddings of the training voices is reused
on encoder B through ``--anchors`` parallel anchors drawn from the training
rows: relative representations, plain and centred (each relative feature
standardised on the fitting rows, :func:`~sklatent.stitching.stitch_relative`),
centred on *whitened* embeddings (``rel. whitened``: each encoder's
embeddings rotated onto their principal axes and scaled to unit variance,
``PCA(whiten=True)`` fitted on that encoder's own training rows, no pairs and
no labels, the step before the relative transformer in A's pipeline that
``stitch_relative`` fits again on B's rows; every dimension is kept, since
4,480 rows estimate at most 64 well), and translation B -> A, orthogonal and affine
(:func:`~sklatent.stitching.stitch_translated`). Whitening leaves two spaces
related by an invertible linear map related by a rotation, to which centred
cosines are invariant. Each cell is the mean accuracy
over ``--draws`` anchor draws and its ratio to B's own head (the same kind of
head fitted on B).

**Audio -> text (ASIF).** Anchor pairs are training recordings and their
word embedded by MiniLM (all-MiniLM-L6-v2, the ``sklatent[text]`` extra). A
recording of a held-out voice is classified by the nearest of the 40 word
embeddings through sparse relative descriptions
(:class:`~sklatent.stitching.ZeroShotClassifier`), against chance (1/40) and
against a translator audio -> MiniLM fitted on the same anchors (the word
whose embedding is nearest, in cosine, to the translated recording). With
``--unseen`` half of the words never appear among the anchors and are scored
apart.

    python benchmarks/bench_speech.py                 # 100 and 300 anchors
    python benchmarks/bench_speech.py --anchors 300 --draws 5
"""

import argparse
import itertools
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklatent import LatentTranslator, RelativeTransformer
from sklatent._text import encode
from sklatent.anchors import AnchorWarning
from sklatent.datasets import load_speech_embeddings
from sklatent.stitching import ZeroShotClassifier, stitch_relative, stitch_translated

STITCHING = ("relative", "rel. centred", "rel. whitened", "orthogonal", "affine")


def head(*steps):
    return make_pipeline(*steps, LogisticRegression(C=0.1, max_iter=1000))


def stitching_scores(X_a, X_b, y, train, test, anchors):
    """Accuracy on B's test rows of heads fitted on A, for each method."""
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # The two nodes of a two-node graph component share their GCN embedding.
        warnings.simplefilter("ignore", AnchorWarning)
        for name, center, preprocessing in [
            ("relative", False, ()),
            ("rel. centred", True, ()),
            # stitch_relative fits B's own whitening on B's rows.
            ("rel. whitened", True, (PCA(whiten=True),)),
        ]:
            relative = RelativeTransformer(
                anchors=anchors, center=center, normalize="standard"
            )
            model = head(*preprocessing, relative).fit(X_a[train], y[train])
            stitched = stitch_relative(model, X_b[train])
            scores[name] = stitched.score(X_b[test], y[test])
        absolute = head().fit(X_a[train], y[train])
    for method in ("orthogonal", "affine"):
        rows = train[anchors]
        stitched = stitch_translated(absolute, X_b[rows], X_a[rows], method=method)
        scores[method] = stitched.score(X_b[test], y[test])
    return scores


def stitching_table(emb, directions, y, train, test, own, args):
    """The rows of a stitching table, and each (anchors, method)'s shares of own.

    For each direction ``(a, b)`` and each of ``args.anchors``, the mean over
    ``args.draws`` anchor draws (from the training rows) of each method.
    """
    rows, shares = [], {}
    for a, b in directions:
        for n_anchors in args.anchors:
            runs = []
            for draw in range(args.draws):
                rng = np.random.RandomState(draw)
                anchors = np.sort(rng.choice(len(train), n_anchors, replace=False))
                runs.append(stitching_scores(emb[a], emb[b], y, train, test, anchors))
            cells = []
            for method in STITCHING:
                mean = np.mean([run[method] for run in runs])
                shares.setdefault((n_anchors, method), []).append(mean / own[b])
                cells.append(f"{mean:.3f} ({mean / own[b]:.0%})")
            rows.append([f"{a} -> {b}", str(n_anchors), f"{own[b]:.3f}", *cells])
            print(f"  {a} -> {b}, {n_anchors} anchors: {cells}", flush=True)
    return rows, shares


def zero_shot_scores(X, words, y, anchor_rows, test, classes):
    """Top-1 and top-5 accuracy of ASIF and of a translator, over ``classes``."""
    pairs = X[anchor_rows], words[y[anchor_rows]]
    with warnings.catch_warnings():
        # The text side repeats each word's embedding: duplicate anchors by design.
        warnings.simplefilter("ignore", AnchorWarning)
        asif = ZeroShotClassifier(top_k=50, power=3.0).fit(
            *pairs, class_embeddings=words
        )
    asif_scores = asif.decision_function(X[test])
    translator = LatentTranslator(method="affine").fit(*pairs)
    translated = translator.transform(X[test])
    translated /= np.linalg.norm(translated, axis=1, keepdims=True)
    translator_scores = translated @ words.T  # MiniLM embeddings have unit norm
    result = {}
    for name, scores in [("ASIF", asif_scores), ("translator", translator_scores)]:
        mask = np.full(len(words), -np.inf)
        mask[classes] = 0.0
        ranked = np.argsort(-(scores + mask), axis=1)
        keep = np.isin(y[test], classes)
        truth = y[test][keep]
        result[f"{name} top-1"] = np.mean(ranked[keep, 0] == truth)
        result[f"{name} top-5"] = np.mean((ranked[keep, :5] == truth[:, None]).any(1))
    return result


def table(title, rows, columns):
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--unseen", action="store_true", help="also hold half the words out"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_speech_embeddings(verbose=True)
    y, train, test = data.target, data.train_indices, data.test_indices
    names = data.encoder_names
    emb = data.embeddings
    print(
        f"{len(y)} recordings, {len(train)} of training voices, {len(test)} of "
        f"held-out voices, {len(data.words)} words; loaded in "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )

    own = {}
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            own[name] = head().fit(emb[name][train], y[train])
        own[name] = own[name].score(emb[name][test], y[test])
    rows, totals = stitching_table(
        emb, itertools.permutations(names, 2), y, train, test, own, args
    )
    table(
        f"Stitching on held-out voices: accuracy (share of B's own), mean of "
        f"{args.draws} anchor draws",
        rows,
        ["head on A -> encoder B", "anchors", "B's own", *STITCHING],
    )
    table(
        "Mean share of the target's own accuracy over the 6 directions",
        [
            [str(n), method, f"{np.mean(totals[(n, method)]):.1%}"]
            for n in args.anchors
            for method in STITCHING
        ],
        ["anchors", "method", "share of own"],
    )

    words = encode("minilm", list(data.words))
    rows = []
    settings = [("all 40 words", np.arange(len(data.words)))]
    if args.unseen:
        settings.append(("20 words never in the anchors", np.arange(1, 40, 2)))
    for name in names:
        for n_anchors in [*args.anchors, len(train)]:
            for label, classes in settings:
                runs = []
                for draw in range(args.draws):
                    pool = train
                    if label != settings[0][0]:
                        pool = train[~np.isin(y[train], classes)]
                    rng = np.random.RandomState(draw)
                    size = min(n_anchors, len(pool))
                    anchor_rows = np.sort(rng.choice(pool, size, replace=False))
                    scores = zero_shot_scores(
                        emb[name], words, y, anchor_rows, test, classes
                    )
                    runs.append(scores)
                cells = [
                    f"{np.mean([run[key] for run in runs]):.3f}" for key in runs[0]
                ]
                anchors = "all" if n_anchors == len(train) else str(n_anchors)
                rows.append([name, anchors, label, f"{1 / len(classes):.3f}", *cells])
                print(f"  {name}, {anchors} anchors, {label}: {cells}", flush=True)
    table(
        "Audio -> text on held-out voices: the recording's word among the words "
        f"(mean of {args.draws} anchor draws)",
        rows,
        [
            "audio encoder",
            "anchor pairs",
            "words",
            "chance",
            "ASIF top-1",
            "ASIF top-5",
            "translator top-1",
            "translator top-5",
        ],
    )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
