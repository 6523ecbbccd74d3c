"""The figure of retrieved captions in docs/modalities.rst (issue 32, part 5).

On :func:`sklatent.datasets.load_image_embeddings` ("emoji", cached, or
``sklatent[vision,text]`` to encode them): 300 of the 1,372 Noto emoji are
held out; :class:`~sklatent.stitching.ZeroShotClassifier` (ASIF, centred
cosines, ``top_k=20``, power 3) is fitted on ``--anchors`` image-caption pairs
drawn at random from the other 1,072, images embedded by EfficientNet-Lite2,
captions by MiniLM. Each held-out image ranks the 300 held-out captions by
ASIF's similarity (cosine of the two descriptions). The figure shows the
first ``--shown`` held-out emoji (the split's own random order, not chosen
by how well they do) with their top 5 captions, the true one in bold green,
and its rank when it is not among them. Nothing is trained.

    OMP_NUM_THREADS=1 python benchmarks/figure_retrieved_captions.py
"""

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sklatent.datasets import load_image_embeddings
from sklatent.stitching import ZeroShotClassifier

IMAGE, TEXT = "efficientnet-lite2", "minilm"
OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "images"
N_TOP = 5


def retrieve(data, n_anchors, seed):
    """Ranked held-out captions ``(n_test, n_test)`` for each held-out image."""
    train, test = data.train_indices, data.test_indices
    X, Y = data.embeddings[IMAGE], data.embeddings[TEXT]
    clf = ZeroShotClassifier(n_anchors=n_anchors, top_k=20, random_state=seed)
    clf.fit(X[train], Y[train], class_embeddings=Y[test])
    return np.argsort(-clf.decision_function(X[test]), axis=1, kind="stable")


def draw(data, order, n_shown, n_anchors, path):
    test = data.test_indices
    n_cols = 2
    n_rows = -(-n_shown // n_cols)
    fig = Figure(figsize=(4.4 * n_cols, 1.25 * n_rows), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subfigures(n_rows, n_cols)
    for k, cell in enumerate(np.ravel(grid)[:n_shown]):
        image_ax, text_ax = cell.subplots(1, 2, width_ratios=[1, 3.2])
        image_ax.imshow(data.images[test[k]])
        image_ax.set_axis_off()
        text_ax.set_axis_off()
        rank = int(np.flatnonzero(order[k] == k)[0]) + 1
        for line, j in enumerate(order[k, :N_TOP]):
            right = j == k
            text_ax.text(
                0,
                1 - line * 0.2,
                f"{line + 1}. {data.captions[test[j]]}",
                va="top",
                fontsize=8.5,
                color="#1a7f37" if right else "black",
                weight="bold" if right else "normal",
                transform=text_ax.transAxes,
            )
        if rank > N_TOP:
            text_ax.text(
                0,
                1 - N_TOP * 0.2,
                f"true: {data.captions[test[k]]} (rank {rank})",
                va="top",
                fontsize=8.5,
                color="#1a7f37",
                style="italic",
                transform=text_ax.transAxes,
            )
    fig.suptitle(
        f"Held-out emoji and the captions ASIF retrieves among {len(test)} "
        f"held-out captions\n({n_anchors} image-caption anchor pairs, "
        "EfficientNet-Lite2 and MiniLM, nothing trained; the true caption in "
        "green)",
        fontsize=9.5,
    )
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, default=1000)
    parser.add_argument("--shown", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", type=Path, default=OUTPUT / "retrieved_captions.png"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_image_embeddings("emoji", encoders=[IMAGE, TEXT], verbose=True)
    order = retrieve(data, args.anchors, args.seed)
    ranks = 1 + np.argmax(order == np.arange(len(order))[:, None], axis=1)
    shown = ranks[: args.shown]
    print(
        f"all {len(ranks)} held out: top-1 {np.mean(ranks == 1):.3f}, top-5 "
        f"{np.mean(ranks <= 5):.3f}; the {args.shown} shown: ranks "
        f"{shown.tolist()}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    draw(data, order, args.shown, args.anchors, args.output)
    print(f"saved {args.output} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
