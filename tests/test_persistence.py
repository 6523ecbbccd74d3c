"""Secure persistence: every estimator round-trips through skops with our trust list."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import sklatent
from sklatent import LatentTranslator, RelativeTransformer
from sklatent.stitching import EncoderTransformer

sio = pytest.importorskip("skops.io")


def _data(n=120, d=10, seed=0):
    """float32, far from the origin, anisotropic, with a dead dimension."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * np.linspace(0.1, 4.0, d) + 300.0
    X[:, 2] = 300.0
    return X.astype(np.float32)


RELATIVE = [
    {"similarity": name} for name in ("cosine", "dot", "euclidean", "l1", "linf")
] + [
    {
        "similarity": ["cosine", "euclidean", "l1"],
        "aggregation": "mean",
        "normalize": "standard",
        "center": True,
        "top_k": 5,
    },
    {"similarity": ["cosine", "linf"], "normalize": "l2"},
]


def _round_trip(estimator):
    blob = sio.dumps(estimator)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(blob)
    return sio.loads(blob, trusted=sklatent.ESTIMATORS)


@pytest.mark.parametrize("params", RELATIVE, ids=lambda p: str(p["similarity"]))
def test_relative_transformer_round_trips(params):
    X = _data()
    fitted = RelativeTransformer(n_anchors=12, random_state=0, **params).fit(X)
    loaded = _round_trip(fitted)
    assert type(loaded) is RelativeTransformer
    assert_array_equal(loaded.anchor_indices_, fitted.anchor_indices_)
    assert_array_equal(loaded.transform(X), fitted.transform(X))


@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine", "ridge"])
def test_translator_round_trips_and_keeps_streaming(method):
    X = _data()
    Y = (X - 300.0) @ np.random.RandomState(1).normal(size=(10, 7)).astype(np.float32)
    fitted = LatentTranslator(method=method).partial_fit(X[:60], Y[:60])
    loaded = _round_trip(fitted)
    assert_array_equal(loaded.transform(X), fitted.transform(X))
    # The sufficient statistics survive too: streaming continues exactly.
    loaded.partial_fit(X[60:], Y[60:])
    fitted.partial_fit(X[60:], Y[60:])
    assert_array_equal(loaded.coef_, fitted.coef_)


def test_pipeline_with_sklearn_head_needs_only_our_types():
    X = _data()
    y = (X[:, 0] > 300.0).astype(int)
    model = make_pipeline(
        RelativeTransformer(n_anchors=12, center=True, random_state=0),
        LogisticRegression(),
    ).fit(X, y)
    blob = sio.dumps(model)
    assert sio.get_untrusted_types(data=blob) == [
        "sklatent._relative.RelativeTransformer"
    ]
    loaded = sio.loads(blob, trusted=sklatent.ESTIMATORS)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_trust_list_names_the_defining_modules():
    # skops reports a class by the module that defines it, so these paths are
    # part of the public contract (moving a class breaks saved trust lists).
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in sklatent.ESTIMATORS}
    assert names == {
        "sklatent._relative.RelativeTransformer",
        "sklatent._translation.LatentTranslator",
        "sklatent._encoder.EncoderTransformer",
        "sklatent.migration.MigrationBridge",
        "sklatent.migration.RegionalTranslator",
        "sklatent._zeroshot.ZeroShotClassifier",
    }
    X = _data()
    blob = sio.dumps(RelativeTransformer(n_anchors=4, random_state=0).fit(X))
    assert sio.loads(blob, trusted=sorted(names)).n_features_in_ == X.shape[1]


def test_encoder_transformer_with_a_function_round_trips():
    X = _data()
    encoder = EncoderTransformer(np.tanh).fit(X)
    blob = sio.dumps(encoder)
    assert sio.get_untrusted_types(data=blob) == [
        "sklatent._encoder.EncoderTransformer"
    ]
    loaded = sio.loads(blob, trusted=[EncoderTransformer])
    assert_array_equal(loaded.transform(X), encoder.transform(X))


def test_encoder_transformer_with_a_torch_module_cannot_be_saved_by_skops():
    # skops cannot construct torch tensors (a module's weights); save the
    # module with torch.save(module.state_dict()) and rebuild the step.
    encoder = EncoderTransformer(torch.nn.Linear(10, 3)).fit(_data())
    with pytest.raises(RuntimeError, match="TensorBase"):
        sio.dumps(encoder)


DATA = Path(__file__).parent / "data"
"""Files saved by the current release (``tests/data/make_release_fixtures.py``)."""


def _release_model(name, kind):
    path = DATA / f"{name}.{kind}"
    if kind == "pkl":
        return pickle.loads(path.read_bytes())
    return sio.load(path, trusted=sklatent.ESTIMATORS)


@pytest.mark.parametrize("kind", ["pkl", "skops"])
@pytest.mark.parametrize(
    "name", ["relative", "translator_orthogonal", "translator_affine"]
)
def test_files_of_the_release_load_and_give_its_outputs(name, kind):
    release = np.load(DATA / "release_outputs.npz")
    model = _release_model(name, kind)
    assert_allclose(model.transform(release["X"]), release[name], rtol=1e-6, atol=1e-5)
    if name.startswith("translator"):
        # The statistics stored by the release keep streaming.
        X, Y = release["X"], release["Y"]
        model.partial_fit(X[20:], Y[20:])
        assert_allclose(
            model.transform(X), release[f"{name}_continued"], rtol=1e-6, atol=1e-5
        )
