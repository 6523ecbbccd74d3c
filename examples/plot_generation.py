"""
=============================================
Stitched generation: decoders across encoders
=============================================

Latent communication is not only for classifiers. A *decoder* trained to
reconstruct images from encoder B's embeddings can generate from encoder A's
embeddings too, once the two spaces are bridged with a few hundred *parallel
anchors* (the same images embedded by both encoders):

- **latent translation** (Maiorca et al., 2023): map A's embeddings into B's
  space with a :class:`~sklatent.LatentTranslator` fitted on the anchors;
- **inverse relative projection** (Maiorca et al., 2024): describe A's
  embeddings by their cosines to A's anchors, then find the vectors of B's
  space with those cosines to B's anchors
  (:meth:`~sklatent.RelativeTransformer.inverse_transform`);
- **relative autoencoders** (Moschella et al., 2023): train the decoder on a
  relative latent space in the first place
  (:class:`sklatent.nn.RelativeProjection`); any encoder trained the same
  way then plugs into it, zero-shot.

Quality is the reconstruction error (mean squared error over the pixels of
the test images, scaled to [0, 1]), as a multiple of the decoder's error on
its own encoder.
"""

# %%
# Encoders, decoders and parallel anchors
# ---------------------------------------
# :func:`~sklatent.datasets.load_digits_decoders` trains (once, then caches)
# three small digit encoders and, for each, a decoder from its embedding back
# to the 8x8 image. The 200 anchors are training images; everything is
# measured on the 540 test images.
import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch

from sklatent import LatentTranslator, RelativeTransformer
from sklatent.datasets import load_digits_decoders, load_digits_relative_autoencoders
from sklatent.metrics import mean_cosine, top_k_accuracy

data = load_digits_decoders()
train, test = data.train_indices, data.test_indices
images = data.images[test]
anchors = np.random.RandomState(0).choice(len(train), 200, replace=False)


def reconstruct(decoder, Z):
    with torch.no_grad():
        return decoder(torch.as_tensor(np.asarray(Z, dtype=np.float32))).numpy()


def mse(decoder, Z):
    return float(((reconstruct(decoder, Z) - images) ** 2).mean())


def naive(Z, width):
    """Reuse without a bridge: zero-pad (or truncate) to the decoder's width."""
    out = np.zeros((len(Z), width), dtype=Z.dtype)
    out[:, : min(width, Z.shape[1])] = Z[:, :width]
    return out


# %%
# Decoder B on encoder A
# ----------------------
# For every ordered pair of encoders, B's decoder reconstructs the test
# images from A's embeddings: reused naively (the encoders' widths all
# differ, so A's embedding is zero-padded or truncated to B's width),
# translated into B's space (affine or orthogonal map fitted on the anchors),
# or inverse-projected (centred cosines to A's anchors, solved against B's
# anchors with a small ridge penalty, ``alpha=0.1``).
estimates, rows = {}, []
for a, b in itertools.permutations(data.encoder_names, 2):
    A, B = data.embeddings[a], data.embeddings[b]
    decoder = data.decoders[b]
    own = mse(decoder, B[test])
    est = {"naive": naive(A[test], B.shape[1])}
    for method in ("affine", "orthogonal"):
        translator = LatentTranslator(method=method).fit(
            A[train][anchors], B[train][anchors]
        )
        est[method] = translator.transform(A[test])
    rel_a = RelativeTransformer(anchors=anchors, center=True).fit(A[train])
    rel_b = RelativeTransformer(anchors=anchors, center=True).fit(B[train])
    est["inverse"] = rel_b.inverse_transform(rel_a.transform(A[test]), alpha=0.1)
    estimates[(a, b)] = est
    rows.append((a, b, own, {key: mse(decoder, Z) / own for key, Z in est.items()}))

print("Reconstruction MSE of decoder B from encoder A, as a multiple of B's own")
header = ("A", "B", "own", "naive", "affine", "ortho", "inv.")
print("{:<10} {:<10} {:>6} {:>6} {:>6} {:>6} {:>6}".format(*header))
for a, b, own, ratio in rows:
    cells = " ".join(f"{ratio[key]:6.2f}" for key in est)
    print(f"{a:<10} {b:<10} {own:6.4f} {cells}")
means = {key: np.mean([ratio[key] for *_, ratio in rows]) for key in est}
worst = {key: np.max([ratio[key] for *_, ratio in rows]) for key in est}
print(
    f"mean over pairs: translated {means['affine']:.2f} x own "
    f"(worst {worst['affine']:.2f}), naive {means['naive']:.2f} x own "
    f"(best {min(ratio['naive'] for *_, ratio in rows):.2f}), "
    f"inverse projection {means['inverse']:.2f} x own"
)

# %%
# How close are the bridged embeddings?
# --------------------------------------
# The mean cosine of each bridged embedding to B's true embedding of the same
# image, and the top-1 retrieval: how often the true image is the nearest (by
# cosine) among the 540 test images. The inverse relative projection only
# sees angles to the anchors, and assumes the spaces differ by an
# angle-preserving map; these encoders are not related that well, and its
# least squares amplifies the differences between their relative vectors, so
# it falls short of the translators, which fit a map to the anchors' absolute
# coordinates.
print(
    f"\n{'A':<10} {'B':<10} {'cos affine':>10} {'cos inv.':>8} "
    f"{'top1 affine':>11} {'top1 ortho':>10} {'top1 inv.':>9}"
)
for (a, b), est in estimates.items():
    B = data.embeddings[b][test]
    cos = {key: mean_cosine(est[key], B) for key in ("affine", "inverse")}
    top = {
        key: top_k_accuracy(est[key], B) for key in ("affine", "orthogonal", "inverse")
    }
    print(
        f"{a:<10} {b:<10} {cos['affine']:10.3f} {cos['inverse']:8.3f} "
        f"{top['affine']:11.3f} {top['orthogonal']:10.3f} {top['inverse']:9.3f}"
    )

# %%
# Relative autoencoders
# ---------------------
# :func:`~sklatent.datasets.load_digits_relative_autoencoders` trains two
# autoencoders that differ only by their seed. Each encodes an image, takes its
# centred cosines to 200 anchor images that the same encoder embeds in the same
# forward pass (:class:`sklatent.nn.RelativeProjection`), and decodes that
# relative vector. Seed 1's decoder reconstructs from seed 0's encoder without
# any fitting: the anchors are the bridge.
auto = load_digits_relative_autoencoders()
relative_0, relative_1 = auto.relative[0][test], auto.relative[1][test]
own_1 = mse(auto.decoders[1], relative_1)
stitched = mse(auto.decoders[1], relative_0)
print(
    f"\nrelative autoencoders: own MSE {own_1:.4f}, seed 0's encoder into "
    f"seed 1's decoder {stitched:.4f}, stitched {stitched / own_1:.2f} x own"
)

# %%
# The digits
# ----------
# Originals, B's decoder on its own encoder, then on encoder A through each
# bridge, and the relative autoencoders. Naive reuse gives grey blurs; the
# bridges keep the digit and most of its shape (the inverse projection
# sometimes turns it into another digit: a 6 into a 0 here).
a, b = "mlp_small", "cnn"
shown = np.arange(10)
panels = [
    ("original", images),
    (f"{b} decoder, own", reconstruct(data.decoders[b], data.embeddings[b][test])),
    (f"{a} naive", reconstruct(data.decoders[b], estimates[(a, b)]["naive"])),
    (f"{a} translated", reconstruct(data.decoders[b], estimates[(a, b)]["affine"])),
    (f"{a} inverse proj.", reconstruct(data.decoders[b], estimates[(a, b)]["inverse"])),
    ("rel. AE, own", reconstruct(auto.decoders[1], relative_1)),
    ("rel. AE, stitched", reconstruct(auto.decoders[1], relative_0)),
]
fig, axes = plt.subplots(
    len(panels), len(shown), figsize=(len(shown) * 0.9, len(panels) * 1.0)
)
for row, (title, pictures) in zip(axes, panels, strict=True):
    for ax, i in zip(row, shown, strict=True):
        ax.imshow(pictures[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
fig.suptitle(f"Decoder of {b} generating from {a}'s embeddings (test images)")
fig.tight_layout()
plt.show()
