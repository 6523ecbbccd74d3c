"""
============================================
Migrating stored embeddings to a new encoder
============================================

A vector store holds embeddings computed with an *old* encoder. A *new*
encoder arrives; new queries are embedded with it. Re-embedding every stored
item is expensive (here the "items" are digit images, in practice millions of
documents). Instead, embed a small set of anchor items with the new encoder
too, fit a :class:`~sklatent.LatentTranslator` from the old space to the new
one on those pairs, and translate the stored vectors, in bounded memory.

How good is the migrated store? For each held-out item, the new encoder's
embedding is a query, and the translated stored vectors are the candidates:
top-1 accuracy is the fraction of queries whose own item ranks first, and MRR
the mean reciprocal rank of the own item (:mod:`sklatent.metrics`).
"""

# %%
# The old and the new encoder
# ---------------------------
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.utils import gen_batches

from sklatent import AnchorWarning, LatentTranslator, RelativeTransformer
from sklatent.anchors import random_anchors
from sklatent.datasets import load_digits_embeddings
from sklatent.metrics import mrr, top_k_accuracy

FAST = os.environ.get("SKLATENT_EXAMPLES_FAST") == "1"  # the test suite's setting

data = load_digits_embeddings(encoders=["mlp_small", "cnn"])
old, new = data.embeddings["mlp_small"], data.embeddings["cnn"]
print(f"old encoder: {old.shape[1]} dimensions, new encoder: {new.shape[1]}")

# Anchors are drawn from the training images; retrieval is measured on the
# held-out images, none of which is an anchor.
pool, held_out = data.train_indices, data.test_indices

# %%
# Translating a store in bounded memory
# -------------------------------------
# The stored vectors sit in a file; ``mmap_mode="r"`` maps it without reading
# it, and the translated store is written chunk by chunk into another
# memory-mapped file, so memory holds one chunk at a time whatever the size of
# the store. ``batch_size`` bounds the translator's own working memory.
anchors = pool[random_anchors(old[pool], 256, random_state=0)]
translator = LatentTranslator(batch_size=256)  # orthogonal; other maps below
translator.fit(old[anchors], new[anchors])  # (old, new) pairs of the anchors

folder = Path(tempfile.mkdtemp())
np.save(folder / "store_old.npy", old)
store = np.load(folder / "store_old.npy", mmap_mode="r")
migrated = np.lib.format.open_memmap(
    folder / "store_new.npy", mode="w+", dtype=np.float32, shape=(len(store), 48)
)
for rows in gen_batches(len(store), 500):
    migrated[rows] = translator.transform(store[rows])
migrated.flush()

queries = new[held_out]
print(f"top-1 {top_k_accuracy(queries, migrated[held_out], k=1):.3f}")
print(f"MRR   {mrr(queries, migrated[held_out]):.3f}")

# %%
# Quality against the number of anchors
# -------------------------------------
# The same measure for several maps and numbers of anchors. As a reference
# without any translation, both encoders are also compared in a shared
# relative space (centred cosine to the same anchors), and the chance level
# of top-1 is one over the number of candidates.
counts = [16, 32, 64, 128, 256, 512, 1024] if not FAST else [16, 64, 256, 1024]
methods = {
    "orthogonal": LatentTranslator(method="orthogonal"),
    "affine": LatentTranslator(method="affine"),
    "ridge": LatentTranslator(method="ridge", alpha=0.1),
}
curves = {name: {"top-1": [], "MRR": []} for name in [*methods, "relative space"]}
warnings.filterwarnings("once", category=AnchorWarning)  # expected, see below
for count in counts:
    rows = pool[random_anchors(old[pool], count, random_state=0)]
    candidates = {}
    for name, method in methods.items():
        fitted = method.fit(old[rows], new[rows])
        candidates[name] = (queries, fitted.transform(old[held_out]))
    rel_old = RelativeTransformer(anchors=old[rows], center=True).fit(old[rows])
    rel_new = RelativeTransformer(anchors=new[rows], center=True).fit(new[rows])
    candidates["relative space"] = (
        rel_new.transform(queries),
        rel_old.transform(old[held_out]),
    )
    for name, (Q, C) in candidates.items():
        curves[name]["top-1"].append(top_k_accuracy(Q, C, k=1))
        curves[name]["MRR"].append(mrr(Q, C))
    print(
        f"{count:5d} anchors: "
        + ", ".join(f"{name} {curves[name]['top-1'][-1]:.3f}" for name in curves)
    )

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
for ax, metric in zip(axes, ["top-1", "MRR"], strict=True):
    for name, curve in curves.items():
        style = "s--" if name == "relative space" else "o-"
        ax.plot(counts, curve[metric], style, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of parallel anchors")
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.02)
axes[0].axhline(1 / len(held_out), color="gray", ls=":", label="chance")
axes[0].legend(fontsize=8)
fig.suptitle(f"Retrieving {len(held_out)} held-out items: old store -> new encoder")
fig.tight_layout()

# %%
# Between these two encoders an orthogonal map (after standardisation) is too
# rigid: its quality plateaus early. Least squares (affine) goes further but
# is unstable near as many anchors as dimensions: below 33 anchors it warns
# with :class:`~sklatent.AnchorWarning` and returns the minimum-norm solution,
# as in the first rows. A small ridge penalty gives the best of both at every
# count; ``GridSearchCV`` over ``method`` and ``alpha`` (see
# :ref:`sphx_glr_auto_examples_plot_n_anchors.py`) picks it from data. The
# shared relative space, which needs no translation at all, is a weaker
# retrieval space than a fitted map here.
#
# The map can also run the other way, translating new queries into the old
# space so that an existing index keeps working (Drift-Adapter, Vejendla,
# 2025): fit ``LatentTranslator().fit(new[anchors], old[anchors])`` instead.
