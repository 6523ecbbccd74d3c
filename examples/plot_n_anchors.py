"""
==========================================
How many parallel anchors are enough?
==========================================

Parallel anchors (the same items embedded by two encoders) are the only
supervision latent communication needs, and they can be costly to collect.
Because ``n_anchors`` is an ordinary parameter of
:class:`~sklatent.LatentTranslator` and :class:`~sklatent.RelativeTransformer`,
scikit-learn's model selection tools answer the question directly:

1. :class:`~sklearn.model_selection.GridSearchCV` over ``n_anchors`` (and the
   class of map) of a translator, scored by retrieval on held-out pairs;
2. :func:`~sklearn.model_selection.learning_curve`, whose "training set size"
   *is* the number of anchors for a translator;
3. the downstream answer: accuracy of a classifier stitched from one encoder
   to another, as the number of anchors grows.
"""

# %%
# Data: two encoders of the digits
# --------------------------------
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, learning_curve
from sklearn.pipeline import make_pipeline

from sklatent import AnchorWarning, LatentTranslator, RelativeTransformer
from sklatent.anchors import random_anchors
from sklatent.datasets import load_digits_embeddings
from sklatent.metrics import mrr_scorer
from sklatent.stitching import stitch_relative, stitch_translated

FAST = os.environ.get("SKLATENT_EXAMPLES_FAST") == "1"  # the test suite's setting

data = load_digits_embeddings(encoders=["mlp_wide", "cnn"])
train, test, y = data.train_indices, data.test_indices, data.target
X_a, X_b = data.embeddings["mlp_wide"], data.embeddings["cnn"]  # 64 and 48 dims

# %%
# 1. Grid search over the number of anchors
# -----------------------------------------
# The pairs ``(X_b[i], X_a[i])`` of the training images are split into folds;
# each candidate translator is fitted on ``n_anchors`` pairs drawn from the
# training folds and scored on the held-out fold by the mean reciprocal rank
# of each translated row among the true ones
# (:data:`~sklatent.metrics.mrr_scorer`). With few anchors the orthogonal
# map (constrained, so it needs little data) is ahead; once there are clearly
# more anchors than dimensions the affine map, which can also absorb
# anisotropic scaling, overtakes it. Below 49 anchors (48 dimensions plus an
# intercept) the affine map warns with an :class:`~sklatent.AnchorWarning` and
# returns the minimum-norm solution; the grid explores that region on
# purpose, so the warning is silenced here.
warnings.filterwarnings("ignore", category=AnchorWarning)
grid = [8, 16, 32, 64, 128, 256, 512] if not FAST else [8, 32, 128, 512]
search = GridSearchCV(
    LatentTranslator(random_state=0),
    {"n_anchors": grid, "method": ["orthogonal", "affine"]},
    scoring=mrr_scorer,
    cv=KFold(3, shuffle=True, random_state=0),
)
search.fit(X_b[train], X_a[train])
results = search.cv_results_
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    print(f"{params['method']:>10s} {params['n_anchors']:4d} anchors: MRR {score:.3f}")
print("best:", search.best_params_)

fig, ax = plt.subplots(figsize=(6, 3.5))
for method in ["orthogonal", "affine"]:
    rows = results["param_method"] == method
    ax.errorbar(
        np.asarray(results["param_n_anchors"][rows], dtype=float),
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows],
        marker="o",
        capsize=3,
        label=method,
    )
ax.set_xscale("log", base=2)
ax.set_xlabel("number of parallel anchors")
ax.set_ylabel("held-out MRR (cnn -> mlp_wide)")
ax.set_title("GridSearchCV over n_anchors and method")
ax.legend()
fig.tight_layout()

# %%
# 2. A learning curve is an anchor curve
# --------------------------------------
# For a translator, the training set *is* the set of anchors, so
# :func:`~sklearn.model_selection.learning_curve` gives the same answer
# without a grid: the score on held-out pairs against the number of pairs
# the orthogonal map was fitted on.
sizes, train_scores, test_scores = learning_curve(
    LatentTranslator(method="orthogonal"),
    X_b[train],
    X_a[train],
    train_sizes=grid,  # absolute numbers of training pairs, i.e. of anchors
    cv=KFold(3, shuffle=True, random_state=0),
    scoring=mrr_scorer,
    shuffle=True,
    random_state=0,
)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(sizes, train_scores.mean(1), "o-", label="on the anchors themselves")
ax.plot(sizes, test_scores.mean(1), "o-", label="on held-out pairs")
ax.set_xscale("log", base=2)
ax.set_xlabel("number of parallel anchors")
ax.set_ylabel("MRR (cnn -> mlp_wide)")
ax.set_title("learning_curve of an orthogonal LatentTranslator")
ax.legend()
fig.tight_layout()

# %%
# With few anchors the map fits its anchors well and generalises poorly; the
# gap closes as anchors are added.
#
# 3. Downstream: stitched accuracy against the number of anchors
# --------------------------------------------------------------
# The question that matters: how well does a classifier fitted on encoder A
# work on encoder B? For each number of anchors, a relative pipeline and an
# absolute classifier are fitted on A, stitched to B with those anchors, and
# scored on B's test images.
counts = [8, 16, 32, 64, 128, 256] if not FAST else [8, 32, 128]
head_a = LogisticRegression(C=0.1, tol=1e-3).fit(X_a[train], y[train])
own_b = LogisticRegression(C=0.1, tol=1e-3).fit(X_b[train], y[train])
relative_scores, translated_scores = [], []
for count in counts:
    anchors = random_anchors(X_a[train], count, random_state=0)
    model_a = make_pipeline(
        RelativeTransformer(anchors=anchors, center=True, normalize="standard"),
        LogisticRegression(C=0.1, tol=1e-3),
    ).fit(X_a[train], y[train])
    model_b = stitch_relative(model_a, X_b[train])
    relative_scores.append(model_b.score(X_b[test], y[test]))
    rows = train[anchors]
    translated = stitch_translated(head_a, X_b[rows], X_a[rows])
    translated_scores.append(translated.score(X_b[test], y[test]))
    print(
        f"{count:4d} anchors: relative {relative_scores[-1]:.3f}, "
        f"translation {translated_scores[-1]:.3f}"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(counts, relative_scores, "o-", label="relative stitching")
ax.plot(counts, translated_scores, "o-", label="orthogonal translation")
ax.axhline(own_b.score(X_b[test], y[test]), color="gray", ls="--", label="B's own")
ax.set_xscale("log", base=2)
ax.set_ylim(0, 1.02)
ax.set_xlabel("number of parallel anchors")
ax.set_ylabel("test accuracy on encoder B")
ax.set_title("Classifier fitted on mlp_wide, applied to cnn")
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# A few dozen anchors already recover most of the accuracy here; the
# encoders are small (48 and 64 dimensions). A rule of thumb from the
# translation paper is a number of anchors comparable with the dimension of
# the spaces.
