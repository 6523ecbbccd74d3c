"""
==========================================
Few or no anchors: matching unpaired pools
==========================================

Latent communication needs parallel anchors, the same items embedded by both
encoders. Often there are only a handful of known pairs, or none, next to large
unpaired pools. :func:`~sklatent.matching.match_spaces` finds the pairs:

1. with no known pair at all, between two encoders of the same architecture
   trained from different seeds;
2. from one known pair per class, to stitch a classifier across the encoders
   through relative representations;
3. and it says so when two spaces have nothing to match.
"""

# %%
# Two encoders, two seeds
# -----------------------
# The digits encoder ``mlp_small`` is trained twice, with ``random_state=0``
# and ``random_state=1``: the same images, two different latent spaces. Encoder
# B's rows are shuffled, so nothing tells which row is which image.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from sklatent import RelativeTransformer
from sklatent.datasets import load_digits_embeddings
from sklatent.matching import MatchingWarning, match_spaces

a = load_digits_embeddings(encoders="mlp_small", random_state=0)
b = load_digits_embeddings(encoders="mlp_small", random_state=1)
X = a.embeddings["mlp_small"]
rng = np.random.default_rng(0)
order = rng.permutation(len(X))  # row j of Y is image order[j]
Y = b.embeddings["mlp_small"][order]

# %%
# No seeds
# --------
# The default ``method="auto"`` starts from sorted similarity profiles (VecMap)
# and refines with orthogonal maps and mutual CSLS neighbours. A pair is right
# when both rows are the same image.
m = match_spaces(X, Y, random_state=0)
print(m)
right = order[m.y_indices] == m.x_indices
top = np.arange(1, len(m) + 1)
print(f"precision of the 500 surest pairs: {right[:500].mean():.3f}")

fig, (ax_precision, ax_history) = plt.subplots(1, 2, figsize=(10, 3.5))
ax_precision.plot(top, np.cumsum(right) / top)
ax_precision.set(xlabel="surest pairs kept", ylabel="precision", ylim=(0, 1.02))
ax_history.plot(np.arange(1, len(m.history) + 1), m.history, marker="o")
ax_history.axhline(m.baseline, color="grey", linestyle="--", label="from random pairs")
ax_history.set(xlabel="refinement iteration", ylabel="criterion")
ax_history.legend()
fig.tight_layout()

# %%
# Ten seeds: stitching a classifier
# ---------------------------------
# One known pair per class, taken from the training images. A classifier is
# fitted on encoder A's relative representations; encoder B's are computed
# with parallel anchors in B's space, so the classifier applies to them
# unchanged. Ten anchors give a ten-dimensional description; the matching
# turns them into hundreds of parallel anchors.
train, test = a.train_indices, a.test_indices
where_y = np.argsort(order)  # where_y[image] is the row of Y holding it
x_rows = train  # the pools: training images, in different orders
y_rows = rng.permutation(where_y[train])
seed_images = [rng.choice(train[a.target[train] == c]) for c in range(10)]
seeds = np.array(
    [
        [np.flatnonzero(x_rows == i)[0], np.flatnonzero(order[y_rows] == i)[0]]
        for i in seed_images
    ]
)
matched = match_spaces(X[x_rows], Y[y_rows], seeds=seeds, random_state=0)
rows_x, rows_y = x_rows[matched.x_indices], y_rows[matched.y_indices]
print(matched)
print(f"precision of all matched pairs: {np.mean(order[rows_y] == rows_x):.3f}")


def stitched_accuracy(anchors_x, anchors_y):
    """Accuracy on B's test images of a classifier fitted on A's relative space."""
    relative_a = RelativeTransformer(anchors=anchors_x, center=True).fit(X[train])
    head = LogisticRegression(max_iter=2000)
    head.fit(relative_a.transform(X[train]), a.target[train])
    relative_b = RelativeTransformer(anchors=anchors_y, center=True).fit(Y)
    own = head.score(relative_a.transform(X[test]), a.target[test])
    on_b = head.score(relative_b.transform(Y[where_y[test]]), a.target[test])
    return own, on_b


for label, (anchors_x, anchors_y) in {
    "10 seeds": (X[rows_x[:10]], Y[rows_y[:10]]),
    "10 seeds + 300 matched": (X[rows_x[:310]], Y[rows_y[:310]]),
}.items():
    own, on_b = stitched_accuracy(anchors_x, anchors_y)
    print(f"{label:23s} accuracy on A {own:.3f}, stitched on B {on_b:.3f}")

# %%
# Nothing to match
# ----------------
# Against noise of the same shape, every matching is as good as chance, and
# the function warns instead of returning confident garbage.
noise = rng.standard_normal(Y.shape)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", MatchingWarning)
    unrelated = match_spaces(X, noise, random_state=0)
print(unrelated)
print(caught[0].message if caught else "no warning")
