"""
==========================================
Zero-shot stitching across encoders
==========================================

A classifier fitted on one encoder's embeddings is useless on another
encoder's: the two latent spaces use unrelated coordinates, often of different
sizes. With a few hundred *parallel anchors* (the same images embedded by
both encoders) the classifier can be reused on the new encoder without
retraining it, in two ways:

- **relative representations** (Moschella et al., 2023): describe every
  embedding by its similarities to the anchors, in both spaces;
- **latent translation** (Maiorca et al., 2023): map the new encoder's
  embeddings into the old encoder's space with an orthogonal map fitted on
  the anchors.

Both are a scikit-learn :class:`~sklearn.pipeline.Pipeline` whose fitted head
is frozen (:class:`~sklearn.frozen.FrozenEstimator`), built by
:func:`~sklatent.stitching.stitch_relative` and
:func:`~sklatent.stitching.stitch_translated`.
"""

# %%
# Two encoders of the same images
# -------------------------------
# :func:`~sklatent.datasets.load_digits_embeddings` trains small torch
# encoders on scikit-learn's digits (cached after the first call). Row ``i``
# of every embedding is the same image: any rows can serve as parallel
# anchors. Encoder A is a small MLP (32 dimensions), encoder B a CNN (48).
import os

import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from sklatent import RelativeTransformer
from sklatent.datasets import load_digits_embeddings
from sklatent.stitching import stitch_relative, stitch_translated

FAST = os.environ.get("SKLATENT_EXAMPLES_FAST") == "1"  # the test suite's setting

data = load_digits_embeddings(encoders=["mlp_small", "cnn"])
train, test, y = data.train_indices, data.test_indices, data.target
X_a, X_b = data.embeddings["mlp_small"], data.embeddings["cnn"]
print(f"encoder A: {X_a.shape[1]} dimensions, encoder B: {X_b.shape[1]}")

# %%
# A classifier on encoder A's relative representation
# ---------------------------------------------------
# The pipeline maps each embedding to its cosine similarities with 256
# anchors drawn from the training images (centred on the anchors' mean, and
# standardised per anchor), then classifies. It is fitted on encoder A only.
model_a = make_pipeline(
    RelativeTransformer(
        n_anchors=128 if FAST else 256,
        center=True,
        normalize="standard",
        random_state=0,
    ),
    LogisticRegression(C=0.1, tol=1e-3),
)
model_a.fit(X_a[train], y[train])
print(f"A's classifier on A: {model_a.score(X_a[test], y[test]):.3f}")

# %%
# Naive reuse is impossible here: B's embeddings do not even have A's number
# of features. Zero-padding them to 48 dimensions "works", at chance level.
head_a = LogisticRegression(C=0.1, tol=1e-3).fit(X_a[train], y[train])
naive = head_a.score(X_b[test][:, : X_a.shape[1]], y[test])
print(f"A's absolute classifier on B, truncated: {naive:.3f}")

# %%
# Stitching through the relative space
# ------------------------------------
# B gets its own relative transformer with the *same anchor images*:
# :func:`~sklatent.stitching.stitch_relative` reads A's ``anchor_indices_``,
# takes the same rows of B's (row-aligned) training embeddings as B's anchors,
# and puts A's classifier behind it, frozen. Nothing is refitted on B but the
# relative transformer's per-anchor statistics, and no label of B is used.
model_b = stitch_relative(model_a, X_b[train])
relative = model_b.score(X_b[test], y[test])
print([type(step).__name__ for step in model_b])
print(f"A's classifier on B, relative stitching: {relative:.3f}")

# %%
# B's transformer keeps those anchors as embeddings, not as row indices, so
# the stitched pipeline can be refitted on any rows of B, as a
# cross-validation does, and its anchors stay parallel to A's. The folds
# score like the stitched model (B's labels serve only to score the folds):
folds = cross_val_score(model_b, X_b[train], y[train], cv=3)
print(f"stitched pipeline, 3-fold cross-validation on B: {folds.mean():.3f}")

# %%
# Stitching by translation
# ------------------------
# A translator fitted on the anchors maps B's embeddings into A's space, so
# A's *absolute* classifier works unchanged. Here the anchors are the same
# images as above.
anchors = train[model_a[0].anchor_indices_]
translated_model = stitch_translated(head_a, X_b[anchors], X_a[anchors])
translated = translated_model.score(X_b[test], y[test])
print(f"A's classifier on B, orthogonal translation: {translated:.3f}")

# %%
# A classifier fitted on B itself is the upper bound:
own_b = LogisticRegression(C=0.1, tol=1e-3).fit(X_b[train], y[train])
upper = own_b.score(X_b[test], y[test])

fig, ax = plt.subplots(figsize=(6, 3.5))
labels = ["naive reuse", "relative\nstitching", "translation\n(orthogonal)", "B's own"]
scores = [naive, relative, translated, upper]
bars = ax.bar(labels, scores, color=["tab:gray", "tab:blue", "tab:orange", "tab:green"])
ax.bar_label(bars, fmt="%.3f")
ax.set_ylim(0, 1.1)
ax.set_ylabel("test accuracy on encoder B")
ax.set_title("A classifier fitted on encoder A, applied to encoder B")
fig.tight_layout()

# %%
# From raw images: swapping the encoder step
# ------------------------------------------
# :class:`~sklatent.stitching.EncoderTransformer` wraps a torch module (or
# any callable) as the first step of a pipeline, so a pipeline can run from
# raw images to predictions. Two tiny encoders trained with different seeds
# stand in for "the model we had" and "the model we have now".
import torch
from torch import nn

from sklatent.stitching import EncoderTransformer


def train_encoder(seed, epochs):
    """A 64-64-16 MLP trained with a linear head on the training images."""
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 16))
    model = nn.Sequential(encoder, nn.Linear(16, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    images = torch.as_tensor(data.images[train], dtype=torch.float32)
    labels = torch.as_tensor(y[train])
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return encoder


old_encoder = train_encoder(seed=1, epochs=40 if FAST else 80)
new_encoder = train_encoder(seed=2, epochs=40 if FAST else 80)
images = data.images

old_model = make_pipeline(
    EncoderTransformer(old_encoder),
    RelativeTransformer(n_anchors=128, center=True, random_state=0),
    LogisticRegression(C=0.1, tol=1e-3),
).fit(images[train], y[train])
print(f"old encoder pipeline: {old_model.score(images[test], y[test]):.3f}")

# %%
# Swap the encoder: embed the training images with the new encoder, stitch
# the old pipeline's relative part and head onto them (``old_model[1:]`` is
# a pipeline starting with the relative transformer), and put the new encoder
# in front.
new_encoding = EncoderTransformer(new_encoder)
stitched = stitch_relative(old_model[1:], new_encoding.transform(images[train]))
new_model = make_pipeline(new_encoding, stitched)
print(f"new encoder, stitched: {new_model.score(images[test], y[test]):.3f}")

# %%
# The old encoder's pipeline applied to the new encoder's output without
# stitching would fail; with stitching, the head fitted with the old encoder
# keeps working on the new one, from raw images.
