"""Dask arrays in and out, on a real ``dask.distributed`` cluster.

Two worker processes (one thread each) are started once for the module; every
computation below runs on them unless a test says otherwise. Results are
compared with the in-memory code paths on float32 data far from the origin,
anisotropic, with a dead dimension, whose anchors are rows of the data.
"""

import ast
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402

import sklatent  # noqa: E402
from sklatent import (  # noqa: E402
    AnchorWarning,
    LatentTranslator,
    RelativeTransformer,
    _dask,
)
from sklatent.metrics import linear_cka, mean_cosine  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def _spaces(n=600, d_x=12, d_y=9, seed=0):
    """Row-aligned float32 spaces: offset 1e3, scales 0.1..5, a dead feature."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d_x)) * np.linspace(0.1, 5.0, d_x) + 1e3
    X[:, 3] = 1e3
    Y = (X - 1e3) @ rng.normal(size=(d_x, d_y)) + rng.normal(size=(n, d_y)) - 500
    return X.astype(np.float32), Y.astype(np.float32)


def _chunked(Z, rows=97, columns=None):
    """A dask array whose row chunks are uneven and whose columns may be split."""
    return da.from_array(Z, chunks=(rows, columns or Z.shape[1]))


PRODUCT = {
    "similarity": ["cosine", "euclidean", "l1"],
    "aggregation": "mean",
    "normalize": "standard",
    "center": True,
}


@pytest.mark.parametrize(
    "params", [{}, {"normalize": "standard"}, PRODUCT], ids=["cosine", "std", "product"]
)
def test_relative_fit_and_transform_match_numpy(client, params):
    X, _ = _spaces()
    dX = _chunked(X, columns=5)
    ref = RelativeTransformer(n_anchors=30, random_state=0, **params).fit(X)
    rel = RelativeTransformer(n_anchors=30, random_state=0, **params).fit(dX)
    assert_array_equal(rel.anchor_indices_, ref.anchor_indices_)
    assert_array_equal(rel.anchors_, ref.anchors_)
    assert_allclose(rel.mean_norm_, ref.mean_norm_, rtol=1e-9)
    for name in ("mean_", "scale_", "block_mean_", "block_scale_"):
        if getattr(ref, name) is not None:
            assert_allclose(getattr(rel, name), getattr(ref, name), rtol=1e-9)
    out = rel.transform(dX)
    assert isinstance(out, da.Array)
    assert out.chunks == (dX.chunks[0], (ref._n_features_out,))
    assert out.dtype == np.float32 and out._meta.dtype == np.float32
    assert_allclose(out.compute(), ref.transform(X), rtol=1e-5, atol=1e-5)


def test_relative_stratified_draws_from_labels(client):
    X, _ = _spaces()
    y = np.arange(X.shape[0]) % 3
    ref = RelativeTransformer(n_anchors=12, anchors="stratified", random_state=1)
    rel = RelativeTransformer(n_anchors=12, anchors="stratified", random_state=1)
    ref.fit(X, y)
    rel.fit(_chunked(X), da.from_array(y, chunks=100))
    assert_array_equal(rel.anchor_indices_, ref.anchor_indices_)
    assert_array_equal(rel.anchors_, ref.anchors_)


@pytest.mark.parametrize("anchors", ["kmeans", "farthest"])
def test_relative_strategies_reading_every_row_raise(anchors):
    X, _ = _spaces(n=50)
    with pytest.raises(ValueError, match=f"anchors='{anchors}' reads every row"):
        RelativeTransformer(n_anchors=5, anchors=anchors).fit(_chunked(X))


@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine", "ridge"])
def test_translator_fit_is_a_reduction_matching_numpy(client, method):
    X, Y = _spaces()
    dX, dY = _chunked(X, columns=5), _chunked(Y, rows=150)
    ref = LatentTranslator(method=method).fit(X.astype(np.float64), Y)
    fitted = LatentTranslator(method=method).fit(dX, dY)
    assert fitted.n_samples_seen_ == X.shape[0]
    for name in ("coef_", "intercept_", "x_mean_", "x_scale_", "y_mean_", "y_scale_"):
        assert_allclose(getattr(fitted, name), getattr(ref, name), atol=1e-9)
    out = fitted.transform(dX)
    assert out.chunks == (dX.chunks[0], (Y.shape[1],)) and out.dtype == np.float32
    assert_allclose(out.compute(), ref.transform(X), rtol=1e-4, atol=1e-3)
    assert fitted.score(dX, dY) == pytest.approx(ref.score(X, Y), rel=1e-6)


def test_translator_partial_fit_mixes_dask_and_numpy(client):
    X, Y = _spaces()
    ref = LatentTranslator(method="affine").fit(X, Y)
    streamed = LatentTranslator(method="affine")
    streamed.partial_fit(_chunked(X[:350]), _chunked(Y[:350]))
    streamed.partial_fit(X[350:], _chunked(Y[350:]))
    assert streamed.n_samples_seen_ == X.shape[0]
    assert_allclose(streamed.coef_, ref.coef_, atol=1e-9)


def test_translator_subset_computes_only_the_chosen_pairs(client):
    X, Y = _spaces()
    ref = LatentTranslator(n_anchors=40, random_state=0).fit(X, Y)
    fitted = LatentTranslator(n_anchors=40, random_state=0).fit(_chunked(X), Y)
    assert_array_equal(fitted.anchor_indices_, ref.anchor_indices_)
    assert fitted.n_samples_seen_ == 40
    assert_allclose(fitted.coef_, ref.coef_, atol=1e-9)
    with pytest.raises(ValueError, match="anchors='kmeans' reads every row"):
        LatentTranslator(n_anchors=40, anchors="kmeans").fit(_chunked(X), Y)


def test_warning_points_at_the_callers_line():
    X, Y = _spaces(n=5)
    with (
        dask.config.set(scheduler="synchronous"),
        pytest.warns(AnchorWarning, match="determine only") as record,
    ):
        LatentTranslator(method="linear").fit(_chunked(X, rows=2), Y)
    assert record[0].filename == __file__


def _exploding(shape):
    raise RuntimeError("a block was computed")


def test_transform_is_lazy(client):
    X, Y = _spaces(n=100)
    rel = RelativeTransformer(n_anchors=8, random_state=0).fit(X)
    translator = LatentTranslator().fit(X, Y)
    blocks = [
        da.from_delayed(dask.delayed(_exploding)((50, 12)), (50, 12), np.float32)
        for _ in range(2)
    ]
    lazy = da.concatenate(blocks)
    results = [rel.transform(lazy), translator.transform(lazy)]
    assert [r.shape for r in results] == [(100, 8), (100, 9)]
    with pytest.raises(RuntimeError, match="a block was computed"):
        results[0].compute()


def test_lazy_result_does_not_follow_a_refit(client):
    X, _ = _spaces(n=100)
    rel = RelativeTransformer(n_anchors=8, random_state=0).fit(X)
    expected = rel.transform(X)
    lazy = rel.transform(_chunked(X))
    rel.set_params(random_state=1).fit(X)
    assert_allclose(lazy.compute(), expected, rtol=1e-5)


def test_fitted_model_ships_to_workers(client):
    X, Y = _spaces(n=200)
    translator = LatentTranslator(method="ridge").fit(X, Y)
    assert_allclose(
        pickle.loads(pickle.dumps(translator)).transform(X), translator.transform(X)
    )
    model = client.scatter(translator, broadcast=True)
    future = client.submit(LatentTranslator.transform, model, X)
    assert_allclose(future.result(), translator.transform(X))


def test_metrics_reduce_dask_arrays(client):
    X, Y = _spaces()
    Z = X + np.random.RandomState(1).normal(size=X.shape).astype(np.float32)
    for debiased in (False, True):
        expected = linear_cka(X.astype(np.float64), Y, debiased=debiased)
        got = linear_cka(_chunked(X, columns=5), Y, debiased=debiased)
        assert got == pytest.approx(expected, rel=1e-9)
    expected = mean_cosine(X, Z)
    assert mean_cosine(_chunked(X), _chunked(Z, rows=130)) == pytest.approx(expected)


def test_dask_errors():
    X, Y = _spaces(n=60)
    rel = RelativeTransformer(n_anchors=4, random_state=0).fit(X)
    dX = _chunked(X)
    with pytest.raises(ValueError, match="out= is not supported for dask input"):
        rel.transform(dX, out=np.empty((60, 4), np.float32))
    with pytest.raises(ValueError, match="set_output.*does not apply to dask"):
        pytest.importorskip("pandas")
        rel.set_output(transform="pandas").transform(dX)
    rel.set_output(transform="default")
    with pytest.raises(ValueError, match="X has 5 features, but RelativeTransformer"):
        rel.transform(dX[:, :5])
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        rel.transform(dX[dX[:, 0] > 1e3])
    with pytest.raises(ValueError, match="must be a 2-D dask array"):
        rel.transform(dX[None])
    with pytest.raises(ValueError, match="X has 60 rows and y has 59"):
        LatentTranslator().fit(dX, Y[:59])
    with pytest.raises(ValueError, match="same number of rows"):
        mean_cosine(dX, X[:59])
    with pytest.raises(ValueError, match="linear_cka needs at least 4 rows"):
        linear_cka(dX[:3], X[:3], debiased=True)
    with pytest.raises(ValueError, match="compares vectors of one space"):
        mean_cosine(dX, Y)


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r'pip install "sklatent\[dask\]"'):
        _dask.import_optional("dask.array", extra="dask")


def test_import_sklatent_does_not_import_dask():
    code = (
        "import sys, sklatent, sklatent.metrics, sklatent.stitching; "
        "assert not [m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed', 'skops')], 'optional dependency imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dask_ml_parallel_post_fit(client):
    # dask-ml's Incremental cannot pass a 2-D dask y (it builds a 1-D block
    # key for y), so it is not tested: LatentTranslator.fit on dask arrays
    # is the parallel replacement (docs/scaling.rst).
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, _ = _spaces()
    rel = RelativeTransformer(n_anchors=10, random_state=0).fit(X)
    post = wrappers.ParallelPostFit(rel).transform(_chunked(X))
    assert_allclose(np.asarray(post), rel.transform(X), rtol=1e-5)


def test_dask_layer_knows_dask_not_the_estimators():
    # The row-block seam of sklatent._base is the one place that routes dask
    # input: _dask.py imports no estimator module and reaches into no object's
    # private attributes, and the estimators do not test for dask arrays.
    package = Path(sklatent.__file__).parent
    tree = ast.parse((package / "_dask.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = {alias.name for alias in node.names} | {node.module}
            assert not names & {"_base", "_relative", "_translation"}, names
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            assert isinstance(node.value, ast.Name), ast.unparse(node)
            assert node.value.id in {"_backend", "_validation", "self"}, ast.unparse(
                node
            )
    for module in ("_relative.py", "_translation.py"):
        assert "is_dask_array" not in (package / module).read_text(), module
