"""Latent communication on the See-Also graph (issue 33): stitching and the
label-free check.

On :func:`sklatent.datasets.load_graph_embeddings` (a GCN and a GraphSAGE
network embedding the nodes of the See-Also graph of numpy, scipy and
scikit-learn; labels are subpackages; every score is on the held-out nodes):

**Stitching.** A node classifier fitted on one network's embeddings of the
training nodes is reused on the other's through ``--anchors`` parallel
anchors (training nodes): relative, plain and centred, and translation,
orthogonal and affine, as in ``bench_speech.py``; each cell is the mean
accuracy over ``--draws`` anchor draws and its share of the target network's
own head.

**The label-free check** (Moschella et al., 2023): networks of both kinds
are trained with ``--seeds`` other seeds, and snapshot after several epochs.
For each snapshot, the similarity of its relative space to the reference
network's (the loader's GCN): the mean cosine between the relative
representations of the held-out nodes by the two networks, with 300 anchors
(training nodes); and its accuracy (a logistic regression fitted on the
snapshot's embeddings of the training nodes). Reported: the Pearson and
Spearman correlations of similarity and accuracy over all snapshots, which
need no label on the held-out nodes.

    python benchmarks/bench_graph.py
"""

import argparse
import time
import warnings

import numpy as np
from bench_speech import STITCHING, head, stitching_table, table
from scipy.stats import pearsonr, spearmanr
from sklearn.exceptions import ConvergenceWarning

from sklatent import RelativeTransformer, _graph
from sklatent._zoo import _seed
from sklatent.anchors import AnchorWarning
from sklatent.datasets import load_graph_embeddings

EPOCHS = (1, 2, 3, 5, 10, 20, 50, 100, 200)


def relative_similarity(X, X_reference, anchors, rows, center):
    """Mean cosine between the relative vectors of ``rows`` in the two spaces."""
    spaces = []
    for Z in (X, X_reference):
        with warnings.catch_warnings():
            # The two nodes of a two-node component share their GCN embedding.
            warnings.simplefilter("ignore", AnchorWarning)
            relative = RelativeTransformer(anchors=anchors, center=center).fit(Z)
        R = relative.transform(Z[rows])
        spaces.append(R / np.linalg.norm(R, axis=1, keepdims=True))
    return float(np.mean(np.sum(spaces[0] * spaces[1], axis=1)))


def probe_accuracy(X, y, train, test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return head().fit(X[train], y[train]).score(X[test], y[test])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load_graph_embeddings(verbose=True)
    y, train, test = data.target, data.train_indices, data.test_indices
    emb = data.embeddings
    print(
        f"{len(y)} nodes, {len(data.edges)} edges, {len(data.target_names)} "
        f"labels, {len(train)} training / {len(test)} held-out nodes",
        flush=True,
    )
    own = {name: probe_accuracy(emb[name], y, train, test) for name in emb}
    features = probe_accuracy(data.features, y, train, test)
    print(f"own accuracy {own}; a head on the MiniLM features alone {features:.3f}")
    directions = [("gcn", "sage"), ("sage", "gcn")]
    rows, _ = stitching_table(emb, directions, y, train, test, own, args)
    table(
        f"Stitching on held-out nodes: accuracy (share of the target's own), "
        f"mean of {args.draws} anchor draws",
        rows,
        ["head on A -> network B", "anchors", "B's own", *STITCHING],
    )

    anchors = train[np.sort(np.random.RandomState(0).choice(len(train), 300, False))]
    points = []
    for name in _graph.NETWORKS:
        for seed in range(1, args.seeds + 1):
            _, _, snapshots = _graph.train_network(
                name,
                data.features,
                data.edges,
                y,
                train,
                seed=_seed(seed, 100 + _graph.NETWORKS[name][0]),
                snapshots=EPOCHS,
            )
            for epoch, X in snapshots.items():
                accuracy = probe_accuracy(X, y, train, test)
                similarity = [
                    relative_similarity(X, emb["gcn"], anchors, test, center)
                    for center in (False, True)
                ]
                points.append((name, seed, epoch, accuracy, *similarity))
            print(
                f"  {name} seed {seed}: "
                + ", ".join(
                    f"epoch {p[2]} acc {p[3]:.3f} sim {p[4]:.3f}"
                    for p in points[-len(snapshots) :]
                ),
                flush=True,
            )
    accuracy = np.array([p[3] for p in points])
    rows = []
    for column, label in [(4, "plain cosine"), (5, "centred cosine")]:
        similarity = np.array([p[column] for p in points])
        rows.append(
            [
                label,
                str(len(points)),
                f"{pearsonr(similarity, accuracy)[0]:.3f}",
                f"{spearmanr(similarity, accuracy)[0]:.3f}",
            ]
        )
    table(
        "Label-free check: similarity of each snapshot's relative space to the "
        "reference GCN's vs its accuracy, held-out nodes",
        rows,
        ["relative space", "snapshots", "Pearson r", "Spearman rho"],
    )
    table(
        "The snapshots",
        [
            [
                name,
                str(seed),
                str(epoch),
                f"{acc:.3f}",
                f"{plain:.3f}",
                f"{centred:.3f}",
            ]
            for name, seed, epoch, acc, plain, centred in points
        ],
        ["network", "seed", "epoch", "accuracy", "similarity", "centred"],
    )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
