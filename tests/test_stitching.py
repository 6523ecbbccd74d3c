"""Tests of sklatent.stitching: the two stitching routes and EncoderTransformer."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.feature_selection import SelectKBest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from sklatent import LatentTranslator, RelativeTransformer
from sklatent.stitching import EncoderTransformer, stitch_relative, stitch_translated


@pytest.fixture
def encoders():
    """Encoder A's embeddings, labels, and encoder B = a rotated, scaled A."""
    rng = np.random.RandomState(0)
    X_a = rng.normal(size=(300, 6))
    y = (X_a[:, 0] + X_a[:, 1] > 0).astype(int)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    X_b = 2.5 * X_a @ rotation
    return X_a, X_b, y


def _relative_model(X, y, **params):
    rel = RelativeTransformer(n_anchors=30, random_state=0, **params)
    return make_pipeline(rel, StandardScaler(), LogisticRegression()).fit(X, y)


# --------------------------------------------------------------------------
# stitch_relative
# --------------------------------------------------------------------------
@pytest.mark.parametrize("params", [{}, {"normalize": "standard"}, {"center": True}])
def test_stitch_relative_aligned_reproduces_a(encoders, params):
    X_a, X_b, y = encoders
    model_a = _relative_model(X_a, y, **params)
    model_b = stitch_relative(model_a, X_b)
    np.testing.assert_array_equal(model_b.predict(X_b), model_a.predict(X_a))
    np.testing.assert_allclose(
        model_b.predict_proba(X_b), model_a.predict_proba(X_a), atol=1e-8
    )


def test_stitch_relative_structure(encoders):
    X_a, X_b, y = encoders
    model_a = _relative_model(X_a, y, center=True)
    model_b = stitch_relative(model_a, X_b)
    assert [name for name, _ in model_b.steps] == [n for n, _ in model_a.steps]
    rel_a, rel_b = model_a[0], model_b[0]
    assert rel_b is not rel_a
    # B keeps its anchors as embeddings (a 2-D parameter), not as row indices.
    assert rel_b.anchor_indices_ is None
    np.testing.assert_array_equal(rel_b.anchors, X_b[rel_a.anchor_indices_])
    np.testing.assert_array_equal(rel_b.anchors_, X_b[rel_a.anchor_indices_])
    params_a, params_b = rel_a.get_params(), rel_b.get_params()
    params_a.pop("anchors"), params_b.pop("anchors")
    assert params_a == params_b
    pairs = zip(model_a.steps[1:], model_b.steps[1:], strict=True)
    for (_, step_a), (_, step_b) in pairs:
        assert isinstance(step_b, FrozenEstimator)
        assert step_b.estimator is step_a  # reused, not copied nor refitted
    # Pipeline.fit on B refits only the relative step: the head stays A's.
    coef = model_a[-1].coef_.copy()
    model_b.fit(X_b, 1 - y)
    np.testing.assert_array_equal(model_a[-1].coef_, coef)
    # A itself is left untouched by stitching.
    assert model_a[0] is rel_a and rel_a.anchors_.shape == (30, 6)


@pytest.mark.parametrize("params", [{}, {"normalize": "standard"}])
def test_stitch_relative_refits_keep_anchors_parallel(encoders, params):
    """Refitting a stitched pipeline on other rows of B keeps B's anchors."""
    X_a, X_b, y = encoders
    model_a = _relative_model(X_a, y, **params)
    model_b = stitch_relative(model_a, X_b)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X_b))
    scores = cross_val_score(model_b, X_b, y, cv=folds, error_score="raise")
    stitched = [model_b.score(X_b[test], y[test]) for _, test in folds]
    # The statistics of normalize="standard" are refitted on each fold's rows,
    # so the scores may move a little; the anchors, and the accuracy, stay.
    np.testing.assert_allclose(scores, stitched, atol=0 if not params else 0.02)
    assert scores.mean() > 0.9
    refitted = clone(model_b).fit(X_b[:40], y[:40])  # fewer rows than anchors' max
    np.testing.assert_array_equal(refitted[0].anchors_, model_b[0].anchors_)
    agree = np.mean(refitted.predict(X_b) == model_a.predict(X_a))
    assert agree > (0.999 if not params else 0.85)  # statistics from 40 rows


def test_stitch_relative_feature_names(encoders):
    """B's columns are named by anchor position; pandas pipelines are guarded."""
    pytest.importorskip("pandas")
    X_a, X_b, y = encoders
    model_b = stitch_relative(_relative_model(X_a, y), X_b)
    names = model_b[0].get_feature_names_out()
    assert list(names[:3]) == ["cosine_a0", "cosine_a1", "cosine_a2"]
    named = make_pipeline(
        RelativeTransformer(n_anchors=30, random_state=0), LogisticRegression()
    ).set_output(transform="pandas")
    named.fit(X_a, y)
    with pytest.raises(ValueError, match="fitted on pandas columns named after A's"):
        stitch_relative(named, X_b)
    idx = named[0].anchor_indices_
    given = make_pipeline(RelativeTransformer(anchors=X_a[idx]), LogisticRegression())
    given.set_output(transform="pandas").fit(X_a, y)
    model_b = stitch_relative(given, X_b[idx])
    np.testing.assert_array_equal(model_b.predict(X_b), given.predict(X_a))


def test_stitch_relative_anchor_embeddings(encoders):
    X_a, X_b, y = encoders
    model_a = _relative_model(X_a, y)
    anchors_b = X_b[model_a[0].anchor_indices_]
    model_b = stitch_relative(model_a, anchors_b)
    assert model_b[0].anchor_indices_ is None
    np.testing.assert_array_equal(model_b[0].anchors_, anchors_b)
    np.testing.assert_array_equal(model_b.predict(X_b), model_a.predict(X_a))
    same = stitch_relative(model_a, anchors_b, rows="anchors")
    np.testing.assert_array_equal(same.predict(X_b), model_b.predict(X_b))


def test_stitch_relative_given_anchor_embeddings_in_a(encoders):
    X_a, X_b, y = encoders
    idx = np.arange(0, 300, 10)
    model_a = make_pipeline(
        RelativeTransformer(anchors=X_a[idx]), LogisticRegression()
    ).fit(X_a, y)
    model_b = stitch_relative(model_a, X_b[idx])
    np.testing.assert_array_equal(model_b.predict(X_b), model_a.predict(X_a))
    with pytest.raises(ValueError, match="given its 30 anchors as embeddings"):
        stitch_relative(model_a, X_b)


def test_stitch_relative_torch_input(encoders):
    X_a, X_b, y = encoders
    model_a = _relative_model(X_a, y)
    model_b = stitch_relative(model_a, torch.from_numpy(X_b))
    np.testing.assert_array_equal(model_b.predict(X_b), model_a.predict(X_a))


def test_stitch_relative_keeps_frozen_and_passthrough(encoders):
    X_a, X_b, y = encoders
    head = LogisticRegression().fit(
        RelativeTransformer(n_anchors=30, random_state=0).fit_transform(X_a), y
    )
    model_a = Pipeline(
        [
            ("rel", RelativeTransformer(n_anchors=30, random_state=0)),
            ("skip", "passthrough"),
            ("head", FrozenEstimator(head)),
        ]
    ).fit(X_a, y)
    model_b = stitch_relative(model_a, X_b)
    assert model_b.named_steps["skip"] == "passthrough"
    assert model_b.named_steps["head"] is model_a.named_steps["head"]
    np.testing.assert_array_equal(model_b.predict(X_b), model_a.predict(X_a))


def test_stitch_relative_clones_and_pickles(encoders):
    X_a, X_b, y = encoders
    model_b = stitch_relative(_relative_model(X_a, y), X_b)
    restored = pickle.loads(pickle.dumps(model_b))
    np.testing.assert_array_equal(restored.predict(X_b), model_b.predict(X_b))
    cloned = clone(model_b)  # the relative step is unfitted, the head frozen
    np.testing.assert_array_equal(cloned.fit(X_b, y).predict(X_b), model_b.predict(X_b))


def test_stitch_relative_errors(encoders):
    X_a, X_b, y = encoders
    model_a = _relative_model(X_a, y)
    with pytest.raises(TypeError, match="expects a fitted Pipeline"):
        stitch_relative(model_a[0], X_b)
    no_relative = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_a, y)
    with pytest.raises(TypeError, match="'standardscaler' \\(StandardScaler\\), "):
        stitch_relative(no_relative, X_b)
    with pytest.raises(TypeError, match="hold no RelativeTransformer"):
        stitch_relative(no_relative, X_b)
    unfitted = make_pipeline(RelativeTransformer(n_anchors=5), LogisticRegression())
    with pytest.raises(NotFittedError, match="step 'relativetransformer'"):
        stitch_relative(unfitted, X_b)
    half = Pipeline([("rel", model_a[0]), ("head", LogisticRegression())])
    with pytest.raises(NotFittedError, match="step 'head' \\(LogisticRegression\\)"):
        stitch_relative(half, X_b)
    with pytest.raises(ValueError, match="X_b has 29 anchor embeddings but .* 30"):
        stitch_relative(model_a, X_b[:29], rows="anchors")
    with pytest.raises(ValueError, match="X_b has 40 rows, but A's anchors include"):
        stitch_relative(model_a, X_b[:40])
    with pytest.raises(ValueError, match="rows must be"):
        stitch_relative(model_a, X_b, rows="first")


def _linear_image(X_a, dtype=np.float64, offset=0.0):
    """Encoder C: an invertible linear map of A that does not keep angles."""
    M = np.random.RandomState(1).normal(size=(X_a.shape[1], X_a.shape[1]))
    return (X_a @ M + offset).astype(dtype)


def _whitened_model(X, y):
    # The "full" solver: the covariance one that "auto" picks for these
    # shapes loses float32 data far from the origin to cancellation.
    white = PCA(whiten=True, svd_solver="full")
    rel = RelativeTransformer(n_anchors=30, center=True, random_state=0)
    return make_pipeline(white, rel, LogisticRegression()).fit(X, y)


@pytest.mark.parametrize(
    "dtype, offset", [(np.float64, 0.0), (np.float32, 0.0), (np.float32, 1e3)]
)
def test_stitch_relative_whitened_reproduces_a(encoders, dtype, offset):
    """Per-encoder whitening makes a linear image of A a rotation of it."""
    X_a, _, y = encoders
    X_c = _linear_image(X_a, dtype, offset)
    plain = _relative_model(X_a, y, center=True)
    agree = np.mean(stitch_relative(plain, X_c).predict(X_c) == plain.predict(X_a))
    assert agree < 0.95  # cosines are not invariant to the map
    model_a = _whitened_model(X_a, y)
    model_c = stitch_relative(model_a, X_c)
    np.testing.assert_array_equal(model_c.predict(X_c), model_a.predict(X_a))
    atol = 1e-8 if dtype == np.float64 else 1e-4 if not offset else 1e-2
    np.testing.assert_allclose(
        model_c.predict_proba(X_c), model_a.predict_proba(X_a), atol=atol
    )


def test_stitch_relative_preprocessing_structure(encoders):
    """B's steps before the relative one are its own, fitted on X_b, frozen."""
    X_a, _, y = encoders
    X_c = _linear_image(X_a, offset=5.0)
    model_a = _whitened_model(X_a, y)
    pca_a = model_a[0]
    mean_a = pca_a.mean_.copy()
    model_c = stitch_relative(model_a, X_c)
    assert [name for name, _ in model_c.steps] == [n for n, _ in model_a.steps]
    assert isinstance(model_c[0], FrozenEstimator)
    pca_c = model_c[0].estimator
    assert pca_c is not pca_a and pca_c.get_params() == pca_a.get_params()
    np.testing.assert_allclose(pca_c.mean_, X_c.mean(axis=0))
    np.testing.assert_array_equal(pca_a.mean_, mean_a)  # A is left untouched
    idx = model_a[1].anchor_indices_
    np.testing.assert_allclose(model_c[1].anchors_, pca_c.transform(X_c[idx]))
    # Refitting the stitched pipeline on other rows keeps B's whitening, so
    # its anchors stay in the space they were whitened into.
    refitted = clone(model_c).fit(X_c[:40], y[:40])
    np.testing.assert_array_equal(refitted[0].estimator.mean_, pca_c.mean_)
    np.testing.assert_array_equal(refitted[1].anchors_, model_c[1].anchors_)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X_c))
    scores = cross_val_score(model_c, X_c, y, cv=folds, error_score="raise")
    stitched = [model_c.score(X_c[test], y[test]) for _, test in folds]
    np.testing.assert_allclose(scores, stitched)


def test_stitch_relative_preprocessing_from_anchors(encoders):
    """With B's anchors alone, B's preprocessing is fitted on them."""
    X_a, _, y = encoders
    X_c = _linear_image(X_a)
    model_a = make_pipeline(
        StandardScaler(),
        "passthrough",
        RelativeTransformer(n_anchors=30, random_state=0),
        LogisticRegression(),
    ).fit(X_a, y)
    idx = model_a[2].anchor_indices_
    model_c = stitch_relative(model_a, X_c[idx], rows="anchors")
    assert model_c[1] == "passthrough"
    scaler = model_c[0].estimator
    np.testing.assert_allclose(scaler.mean_, X_c[idx].mean(axis=0))
    np.testing.assert_allclose(model_c[2].anchors_, scaler.transform(X_c[idx]))
    torch_model = stitch_relative(model_a, torch.from_numpy(X_c[idx]))
    np.testing.assert_allclose(torch_model[2].anchors_, model_c[2].anchors_)


def test_stitch_relative_preprocessing_pandas_output(encoders):
    """A step before the relative one may output a DataFrame."""
    pytest.importorskip("pandas")
    X_a, X_b, y = encoders
    scaler = StandardScaler().set_output(transform="pandas")
    rel = RelativeTransformer(n_anchors=30, random_state=0)
    model_a = make_pipeline(scaler, rel, LogisticRegression()).fit(X_a, y)
    model_b = stitch_relative(model_a, X_b)
    scaler_b = model_b[0].estimator
    expected = scaler_b.transform(X_b[model_a[1].anchor_indices_]).to_numpy()
    np.testing.assert_allclose(model_b[1].anchors_, expected)
    assert model_b.score(X_b, y) > 0.8


@pytest.mark.parametrize(
    "step, error",
    [
        (LinearDiscriminantAnalysis(n_components=1), TypeError),
        (SelectKBest(k=3), ValueError),
    ],
)
def test_stitch_relative_preprocessing_needs_labels(encoders, step, error):
    X_a, X_b, y = encoders
    rel = RelativeTransformer(n_anchors=30, random_state=0)
    model_a = make_pipeline(step, rel, LogisticRegression()).fit(X_a, y)
    name = model_a.steps[0][0]
    with pytest.raises(error, match=f"B's copy of step '{name}' .* without labels"):
        stitch_relative(model_a, X_b)


def test_stitch_relative_ambiguous_rows():
    rng = np.random.RandomState(0)
    X_a = rng.normal(size=(12, 3))
    y = np.arange(12) % 2
    permutation = rng.permutation(12)
    model_a = make_pipeline(
        RelativeTransformer(anchors=permutation), LogisticRegression()
    ).fit(X_a, y)
    with pytest.raises(ValueError, match="rows='anchors' or rows='aligned'"):
        stitch_relative(model_a, X_a)
    aligned = stitch_relative(model_a, X_a, rows="aligned")
    np.testing.assert_array_equal(aligned.predict(X_a), model_a.predict(X_a))
    given = stitch_relative(model_a, X_a[permutation], rows="anchors")
    np.testing.assert_array_equal(given.predict(X_a), model_a.predict(X_a))
    # Sorted indices covering the first rows read the same either way.
    sorted_model = make_pipeline(
        RelativeTransformer(n_anchors=12, random_state=0), LogisticRegression()
    ).fit(X_a, y)
    auto = stitch_relative(sorted_model, X_a)
    np.testing.assert_array_equal(auto.predict(X_a), sorted_model.predict(X_a))


# --------------------------------------------------------------------------
# stitch_translated
# --------------------------------------------------------------------------
def test_stitch_translated_reproduces_a(encoders):
    X_a, X_b, y = encoders
    X_b = X_b + 4.0
    head = LogisticRegression().fit(X_a, y)
    idx = np.arange(0, 300, 5)
    model_b = stitch_translated(
        head, X_b[idx], X_a[idx], normalize="center", scale=True
    )
    assert [name for name, _ in model_b.steps] == ["translator", "head"]
    translator = model_b.named_steps["translator"]
    assert isinstance(translator, FrozenEstimator)
    assert isinstance(translator.estimator, LatentTranslator)
    assert translator.estimator.normalize == "center"
    assert model_b.named_steps["head"].estimator is head
    np.testing.assert_array_equal(model_b.predict(X_b), head.predict(X_a))
    # Nothing is refitted, whatever fit receives.
    coef = translator.estimator.coef_.copy()
    model_b.fit(X_b[:50], y[:50])
    np.testing.assert_array_equal(translator.estimator.coef_, coef)


def test_stitch_translated_custom_translator(encoders):
    X_a, X_b, y = encoders
    head = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_a, y)
    translator = LatentTranslator(method="affine")
    model_b = stitch_translated(head, X_b[:100], X_a[:100], translator=translator)
    assert not hasattr(translator, "coef_")  # a clone was fitted
    assert model_b.score(X_b, y) == pytest.approx(head.score(X_a, y))


def test_stitch_translated_different_dimensions():
    rng = np.random.RandomState(1)
    X_a = rng.normal(size=(200, 4))
    y = (X_a[:, 0] > 0).astype(int)
    embed, _ = np.linalg.qr(rng.normal(size=(7, 4)))  # isometric 4 -> 7
    X_b = X_a @ embed.T
    head = LogisticRegression().fit(X_a, y)
    model_b = stitch_translated(head, X_b[:50], X_a[:50], normalize=None)
    np.testing.assert_array_equal(model_b.predict(X_b), head.predict(X_a))


def test_stitch_translated_errors(encoders):
    X_a, X_b, y = encoders
    head = LogisticRegression().fit(X_a, y)
    with pytest.raises(ValueError, match="X_b has 50 anchors but X_a has 40"):
        stitch_translated(head, X_b[:50], X_a[:40])
    with pytest.raises(ValueError, match="X_a has 5 features but the head .* 6"):
        stitch_translated(head, X_b[:50], X_a[:50, :5])
    with pytest.raises(NotFittedError, match="The head is not fitted"):
        stitch_translated(LogisticRegression(), X_b[:50], X_a[:50])
    with pytest.raises(ValueError, match="either a translator or translator par"):
        stitch_translated(
            head, X_b[:50], X_a[:50], translator=LatentTranslator(), method="affine"
        )


# --------------------------------------------------------------------------
# stitch_translated through the head's scaler
# --------------------------------------------------------------------------
def _scaled_pair(n=600, seed=0):
    """A with one feature 100 times smaller than the others; B = A standardised,
    rotated, at A's overall size, plus a little noise. The label reads that
    small feature."""
    rng = np.random.RandomState(seed)
    Z = rng.normal(size=(n, 6))
    y = (Z[:, 0] + Z[:, 5] > 0).astype(int)
    scales = np.array([3.0, 2.0, 1.0, 1.0, 1.0, 0.01])
    X_a = Z * scales + 5.0
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    size = np.sqrt(np.mean(scales**2))
    X_b = size * Z @ rotation + 0.05 * rng.normal(size=(n, 6))
    rows = rng.choice(n, size=60, replace=False)
    return X_a, X_b, y, rows


def _scaled_head(X_a, y, scaler=None):
    scaler = StandardScaler() if scaler is None else scaler
    return make_pipeline(scaler, LogisticRegression()).fit(X_a, y)


def test_head_aware_beats_raw_metric_on_a_small_feature():
    """A rotation fitted in A's raw metric ignores A's small feature, which the
    scaler then amplifies; fitted in the scaler's metric it does not."""
    X_a, X_b, y, rows = _scaled_pair()
    head = _scaled_head(X_a, y)
    own = head.score(X_a, y)
    aware = stitch_translated(head, X_b[rows], X_a[rows], normalize="center")
    raw = stitch_translated(
        head, X_b[rows], X_a[rows], normalize="center", head_aware=False
    )
    assert own > 0.95
    assert aware.score(X_b, y) > own - 0.03
    assert raw.score(X_b, y) < aware.score(X_b, y) - 0.1
    # Raw: the small feature arrives at the logistic regression tens of times
    # too large; head-aware: at its own scale.
    scale = head[0].transform(X_a)[:, 5].std()
    seen_raw = head[0].transform(raw[0].transform(X_b))[:, 5].std()
    seen_aware = aware[:-1].transform(X_b)  # translator, then rescale
    seen_aware = aware.named_steps["head"].estimator[0].transform(seen_aware)
    seen_aware = seen_aware[:, 5].std()
    assert seen_raw > 10 * scale
    assert seen_aware == pytest.approx(scale, rel=0.1)


def test_head_aware_keeps_the_size_of_a():
    """Standardising small embeddings enlarges them; the map must not have to
    follow (an orthogonal map cannot): with features of one scale, fitting in
    the scaler's metric is fitting in A's, and stitching reproduces A."""
    rng = np.random.RandomState(0)
    X_a = 0.05 * rng.normal(size=(400, 20)) + 0.3  # a narrow cone, like embeddings
    y = (X_a[:, 0] - X_a[:, 1] > 0).astype(int)
    rotation, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    X_b = X_a @ rotation
    head = _scaled_head(X_a, y)
    rows = rng.choice(400, size=80, replace=False)
    model_b = stitch_translated(head, X_b[rows], X_a[rows], normalize="center")
    agree = np.mean(model_b.predict(X_b) == head.predict(X_a))
    assert agree > 0.97
    # Without the factor, the rotation maps B into a space 20 times larger
    # than B, so the head sees shrunken inputs and loses confidence.
    bare = LatentTranslator(normalize="center").fit(
        X_b[rows], head[0].transform(X_a[rows])
    )
    shrunk = head[-1].predict_proba(bare.transform(X_b)).max(axis=1)
    sure = model_b.predict_proba(X_b).max(axis=1)
    assert np.median(shrunk) < 0.6 < np.median(sure) - 0.2


def test_head_aware_structure():
    X_a, X_b, y, rows = _scaled_pair()
    head = _scaled_head(X_a, y)
    model_b = stitch_translated(head, X_b[rows], X_a[rows], normalize="center")
    assert [name for name, _ in model_b.steps] == ["translator", "head"]
    rest = model_b.named_steps["head"].estimator
    assert isinstance(rest, Pipeline)
    assert [name for name, _ in rest.steps] == ["head_metric", "logisticregression"]
    assert rest.steps[1][1] is head[-1]  # the same fitted object, not a copy
    # The translator outputs the scaler's space, times the factor that keeps
    # A's spread; rescaled, close to the scaled targets on the anchors (B is
    # a noisy rotation of them).
    translated = model_b[0].transform(X_b[rows])
    spread = np.linalg.norm(X_a[rows] - X_a[rows].mean(axis=0))
    assert np.linalg.norm(translated - translated.mean(axis=0)) == pytest.approx(
        spread, rel=0.05
    )
    scaled = head[0].transform(X_a[rows])
    assert np.abs(rest[0].transform(translated) - scaled).max() < 0.5
    # Without head-awareness, the head is whole and the output in A's space.
    plain = stitch_translated(
        head, X_b[rows], X_a[rows], normalize="center", head_aware=False
    )
    assert plain.named_steps["head"].estimator is head


@pytest.mark.parametrize(
    "normalize, method",
    [
        ("standard", "orthogonal"),
        ("standard", "affine"),
        ("standard", "linear"),
        ("standard", "ridge"),
        ("center", "linear"),
        ("center", "affine"),
        ("center", "ridge"),
        (None, "affine"),
        (None, "ridge"),
    ],
)
@pytest.mark.parametrize(
    "scaler",
    [StandardScaler(), RobustScaler(), MaxAbsScaler(), MinMaxScaler((-2, 3))],
    ids=lambda scaler: type(scaler).__name__,
)
def test_head_aware_agrees_when_the_map_commutes(normalize, method, scaler):
    """Where the translator's fit commutes with a per-feature affine map, both
    routes predict the same (see the Notes of stitch_translated)."""
    X_a, X_b, y, rows = _scaled_pair()
    head = _scaled_head(X_a, y, clone(scaler))
    params = {"normalize": normalize, "method": method}
    aware = stitch_translated(head, X_b[rows], X_a[rows], **params)
    plain = stitch_translated(head, X_b[rows], X_a[rows], head_aware=False, **params)
    assert aware.named_steps["head"].estimator is not head  # the scaler route
    np.testing.assert_allclose(
        aware.predict_proba(X_b), plain.predict_proba(X_b), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize(
    "normalize, method",
    [("center", "orthogonal"), (None, "orthogonal"), ("l2", "orthogonal")]
    + [(None, "linear"), ("l2", "affine")],
)
def test_head_aware_identity_scaler_agrees(normalize, method):
    """A scaler that changes nothing gives the same map either way."""
    X_a, X_b, y, rows = _scaled_pair()
    head = _scaled_head(X_a, y, StandardScaler(with_mean=False, with_std=False))
    params = {"normalize": normalize, "method": method}
    aware = stitch_translated(head, X_b[rows], X_a[rows], **params)
    plain = stitch_translated(head, X_b[rows], X_a[rows], head_aware=False, **params)
    assert aware.named_steps["head"].estimator is not head
    np.testing.assert_allclose(
        aware[0].transform(X_b), plain[0].transform(X_b), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        aware.predict_proba(X_b), plain.predict_proba(X_b), rtol=1e-9, atol=1e-12
    )


def test_head_aware_which_heads():
    """Only a leading per-feature affine scaler followed by a step is used."""
    X_a, X_b, y, rows = _scaled_pair()
    kept = {
        "no pipeline": LogisticRegression().fit(X_a, y),
        "PCA first": make_pipeline(PCA(4), LogisticRegression()).fit(X_a, y),
        "clipping": _scaled_head(X_a, y, MinMaxScaler(clip=True)),
        "scaler alone": make_pipeline(StandardScaler()).fit(X_a),
        "scaler second": make_pipeline(
            PCA(6), StandardScaler(), LogisticRegression()
        ).fit(X_a, y),
    }
    for name, head in kept.items():
        model_b = stitch_translated(head, X_b[rows], X_a[rows])
        assert model_b.named_steps["head"].estimator is head, name
    scaler = StandardScaler().fit(X_a)
    wrapped = {
        "passthrough first": Pipeline(
            [("skip", "passthrough"), ("scale", scaler), ("lr", LogisticRegression())]
        ),
        "frozen scaler": Pipeline(
            [("scale", FrozenEstimator(scaler)), ("lr", LogisticRegression())]
        ),
    }
    for name, head in wrapped.items():
        head.fit(X_a, y)
        model_b = stitch_translated(head, X_b[rows], X_a[rows], normalize="center")
        rest = model_b.named_steps["head"].estimator
        assert [step for _, step in rest.steps[1:]] == [head[-1]], name
        assert model_b.score(X_b, y) > head.score(X_a, y) - 0.03, name


def test_head_aware_tensors():
    X_a, X_b, y, rows = _scaled_pair()
    head = _scaled_head(X_a, y)
    numpy_model = stitch_translated(head, X_b[rows], X_a[rows], normalize="center")
    tensor_model = stitch_translated(
        head,
        torch.from_numpy(X_b[rows]),
        torch.from_numpy(X_a[rows]),
        normalize="center",
    )
    np.testing.assert_allclose(
        tensor_model[0].transform(torch.from_numpy(X_b)).numpy(),
        numpy_model[0].transform(X_b),
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_array_equal(tensor_model.predict(X_b), numpy_model.predict(X_b))


# --------------------------------------------------------------------------
# EncoderTransformer
# --------------------------------------------------------------------------
@parametrize_with_checks(
    [
        EncoderTransformer(nn.Tanh()),
        EncoderTransformer(np.tanh, batch_size=3),
        EncoderTransformer(nn.Sequential(nn.Tanh(), nn.Dropout(0.5)), dtype=None),
    ]
)
def test_encoder_sklearn_compatible(estimator, check):
    check(estimator)


class _Mixed(nn.Module):
    """A module whose submodules are in different train/eval modes."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.dropout = nn.Dropout(0.9)
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(self.dropout(self.linear(x)))


def test_encoder_eval_mode_and_restore():
    torch.manual_seed(0)
    module = _Mixed()
    module.train()
    module.norm.eval()
    X = np.random.RandomState(0).normal(size=(20, 4))
    out = EncoderTransformer(module, batch_size=7).fit_transform(X)
    expected = module.eval()(torch.as_tensor(X, dtype=torch.float32)).detach()
    # Batches of 7 and of 20 rows may round differently in float32.
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)
    module.train()
    module.norm.eval()
    EncoderTransformer(module).transform(X)
    assert module.training and module.linear.training and module.dropout.training
    assert not module.norm.training


def test_encoder_restores_mode_on_error():
    module = nn.Linear(3, 2)
    module.train()
    with pytest.raises(RuntimeError):
        EncoderTransformer(module).transform(np.ones((4, 5)))  # wrong width
    assert module.training


def test_encoder_inference_mode_and_batches():
    seen = []

    def encode(batch):
        seen.append((len(batch), torch.is_inference_mode_enabled()))
        return batch[:, :2] * 2

    X = np.arange(30.0).reshape(10, 3)
    out = EncoderTransformer(encode, batch_size=4).fit_transform(X)
    np.testing.assert_array_equal(out, X[:, :2] * 2)
    assert seen == [(4, True), (4, True), (2, True)]


def test_encoder_verbose_shows_progress_per_batch(capsys):
    X = np.arange(30.0).reshape(10, 3)
    EncoderTransformer(np.tanh, batch_size=4, verbose=True).fit_transform(X)
    err = capsys.readouterr().err
    assert err == ("\rencoded 4/10 inputs\rencoded 8/10 inputs\rencoded 10/10 inputs\n")
    EncoderTransformer(np.tanh).fit_transform(X)
    assert capsys.readouterr().err == ""


def test_encoder_batch_size_does_not_change_results():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    X = np.random.RandomState(0).normal(size=(50, 5))
    full = EncoderTransformer(module, batch_size=50).fit_transform(X)
    for batch_size in (1, 7, 64):
        np.testing.assert_allclose(
            EncoderTransformer(module, batch_size=batch_size).transform(X),
            full,
            rtol=1e-5,
            atol=1e-6,  # float32 matrix products round differently per batch
        )


def test_encoder_tensor_in_tensor_out():
    module = nn.Linear(3, 2)
    X = torch.randn(6, 3)
    out = EncoderTransformer(module).fit_transform(X)
    assert isinstance(out, torch.Tensor) and out.shape == (6, 2)
    assert not out.requires_grad and not out.is_inference()
    torch.testing.assert_close(out, module(X).detach())


def test_encoder_images_and_flattened_outputs():
    conv = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
    images = np.random.RandomState(0).uniform(size=(5, 1, 8, 8))
    encoder = EncoderTransformer(conv).fit(images)
    assert not hasattr(encoder, "n_features_in_")
    assert encoder.transform(images).shape == (5, 2 * 8 * 8)
    scalar = EncoderTransformer(lambda batch: batch.sum(axis=1))
    assert scalar.fit_transform(np.ones((4, 3))).shape == (4, 1)


def test_encoder_dtype():
    ids = np.array([[1, 2, 3], [4, 5, 6]])
    embedding = nn.EmbeddingBag(10, 4, mode="mean")
    out = EncoderTransformer(embedding, dtype="int64").fit_transform(ids)
    assert out.shape == (2, 4)
    assert out.dtype == np.float32


def test_encoder_raw_inputs():
    words = ["a", "bb", "ccc", "dddd", "eeeee"]

    def encode(batch):
        assert isinstance(batch, list)
        return np.array([[len(word), 1.0] for word in batch])

    encoder = EncoderTransformer(encode, batch_size=2, validate=False)
    out = encoder.fit_transform(words)
    np.testing.assert_array_equal(out[:, 0], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="Found 0 inputs"):
        encoder.transform([])


def test_encoder_errors():
    encoder = EncoderTransformer(nn.Tanh()).fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="X has 5 features, but EncoderTransformer"):
        encoder.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="3 dimensions, but EncoderTransformer"):
        encoder.transform(np.ones((3, 4, 1)))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D tensor"):
        encoder.transform(torch.ones(3))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        encoder.transform(torch.full((3, 4), float("nan")))
    bad = EncoderTransformer(lambda batch: batch[:1])
    with pytest.raises(ValueError, match="shape \\(1, 4\\) for a batch of 3 inputs"):
        bad.fit_transform(np.ones((3, 4)))
    with pytest.raises(ValueError, match="'encoder' parameter"):
        EncoderTransformer("not callable").fit(np.ones((3, 4)))


def test_encoder_tensor_validation():
    """Tensors follow the estimators' rules; integer ids stay integers."""
    encoder = EncoderTransformer(nn.Tanh()).fit(torch.ones(3, 4))
    assert encoder.n_features_in_ == 4
    with pytest.raises(ValueError, match="3 dimensions, but EncoderTransformer"):
        encoder.transform(torch.ones(3, 4, 1))
    with pytest.raises(ValueError, match="X has 5 features, but EncoderTransformer"):
        encoder.transform(torch.ones(3, 5))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        encoder.transform(torch.full((3, 4), float("inf")))
    with pytest.raises(ValueError, match="Complex data not supported"):
        encoder.transform(torch.ones(3, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        EncoderTransformer(nn.Tanh()).fit(torch.ones(0, 2, 2))
    images = EncoderTransformer(nn.Flatten()).fit(torch.ones(2, 3, 3))
    assert not hasattr(images, "n_features_in_")
    with pytest.raises(ValueError, match="Input X contains NaN"):
        images.transform(torch.full((2, 3, 3), float("nan")))
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    seen = []

    def encode(batch):
        seen.append(batch.dtype)
        return batch

    EncoderTransformer(encode, dtype=None).fit_transform(ids)
    assert seen == [torch.int64]


def test_encoder_module_path_and_old_pickles():
    """The encoder lives in its own module; the stitching path stays valid."""
    from sklatent import _encoder, stitching

    assert stitching.EncoderTransformer is _encoder.EncoderTransformer
    assert "EncoderTransformer" in stitching.__all__
    X = np.arange(6.0).reshape(2, 3)
    encoder = EncoderTransformer(np.tanh).fit(X)
    # A pickle made when the class lived in sklatent.stitching names that path.
    data = pickle.dumps(encoder, protocol=0)
    old = data.replace(b"sklatent._encoder\n", b"sklatent.stitching\n")
    assert b"sklatent.stitching\nEncoderTransformer" in old
    restored = pickle.loads(old)
    assert type(restored) is EncoderTransformer
    np.testing.assert_allclose(restored.transform(X), np.tanh(X), rtol=1e-6)


def test_encoder_clone_and_pickle():
    torch.manual_seed(0)
    module = nn.Linear(4, 2)
    encoder = EncoderTransformer(module, batch_size=8)
    cloned = clone(encoder)
    assert cloned.encoder is not module  # deep-copied
    torch.testing.assert_close(cloned.encoder.weight, module.weight)
    frozen = FrozenEstimator(encoder)
    assert clone(frozen) is frozen  # the way to share a module without copies
    X = np.random.RandomState(0).normal(size=(5, 4))
    restored = pickle.loads(pickle.dumps(encoder.fit(X)))
    np.testing.assert_allclose(restored.transform(X), encoder.transform(X))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_encoder_moves_module_and_back():
    module = nn.Linear(4, 2)
    X = np.random.RandomState(0).normal(size=(5, 4))
    out = EncoderTransformer(module, device="cuda").fit_transform(X)
    assert isinstance(out, np.ndarray)
    assert next(module.parameters()).device.type == "cpu"
    expected = module(torch.as_tensor(X, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    X_gpu = torch.as_tensor(X, dtype=torch.float32, device="cuda")
    out_gpu = EncoderTransformer(module, device="auto").transform(X_gpu)
    assert out_gpu.device.type == "cuda"


def test_raw_pipeline_swap_encoder():
    """raw -> encoder -> relative -> head, then swap the encoder by stitching."""
    rng = np.random.RandomState(0)
    raw = rng.normal(size=(200, 5))
    y = (raw[:, 0] - raw[:, 2] > 0).astype(int)
    torch.manual_seed(0)
    old = nn.Linear(5, 8)
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    new = nn.Sequential(old, nn.Linear(8, 8, bias=False))
    with torch.no_grad():
        new[1].weight.copy_(torch.as_tensor(3 * rotation.T, dtype=torch.float32))
    old_model = make_pipeline(
        EncoderTransformer(old),
        RelativeTransformer(n_anchors=20, center=True, random_state=0),
        LogisticRegression(),
    ).fit(raw, y)
    new_encoder = EncoderTransformer(new)
    stitched = stitch_relative(old_model[1:], new_encoder.transform(raw))
    new_model = make_pipeline(new_encoder, stitched)
    agree = np.mean(new_model.predict(raw) == old_model.predict(raw))
    assert agree > 0.98
