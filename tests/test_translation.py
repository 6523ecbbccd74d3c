"""Tests of LatentTranslator and its kernels: references, errors, integration."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklatent import AnchorWarning, LatentTranslator, _kernels

METHODS = ["orthogonal", "linear", "affine", "ridge"]
NORMALIZATIONS = ["standard", "center", "l2", None]


def _pairs(n=120, d_x=8, d_y=8, noise=0.0, seed=0):
    """Source embeddings and an affine image of them, with optional noise."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d_x)) * rng.uniform(0.5, 3, size=d_x) + 4
    A = rng.normal(size=(d_x, d_y))
    Y = X @ A + rng.normal(size=d_y) + noise * rng.normal(size=(n, d_y))
    return X, Y


def _standardise(Z):
    return (Z - Z.mean(0)) / Z.std(0, ddof=1)


# --- references, float64 ---------------------------------------------------


def test_orthogonal_matches_scipy_on_standardised_data():
    X, Y = _pairs(noise=0.5)
    translator = LatentTranslator().fit(X, Y)
    R, _ = orthogonal_procrustes(_standardise(X), _standardise(Y))
    assert_allclose(translator.coef_, R, atol=1e-12)
    expected = _standardise(X) @ R * Y.std(0, ddof=1) + Y.mean(0)
    assert_allclose(translator.transform(X), expected, atol=1e-10)


def test_orthogonal_without_normalisation_matches_scipy():
    X, Y = _pairs(noise=0.5)
    R, _ = orthogonal_procrustes(X, Y)
    assert_allclose(LatentTranslator(normalize=None).fit(X, Y).coef_, R, atol=1e-12)


def test_orthogonal_scale_matches_closed_form():
    X, Y = _pairs(noise=0.5)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    R, singular_sum = orthogonal_procrustes(Xc, Yc)
    translator = LatentTranslator(normalize="center", scale=True).fit(X, Y)
    assert translator.scaling_ == pytest.approx(singular_sum / (Xc**2).sum())
    assert_allclose(translator.coef_, translator.scaling_ * R, atol=1e-12)


@pytest.mark.parametrize(("d_x", "d_y"), [(5, 9), (9, 5)])
def test_rectangular_orthogonal_equals_zero_padding(d_x, d_y):
    # The latentis recipe: zero-pad the smaller standardised space, solve the
    # square problem, keep the first d_y output columns.
    X, Y = _pairs(d_x=d_x, d_y=d_y, noise=0.3)
    Xs, Ys = _standardise(X), _standardise(Y)
    d = max(d_x, d_y)
    Xp, Yp = np.zeros((len(X), d)), np.zeros((len(Y), d))
    Xp[:, :d_x], Yp[:, :d_y] = Xs, Ys
    R, _ = orthogonal_procrustes(Xp, Yp)
    expected = (Xp @ R)[:, :d_y] * Y.std(0, ddof=1) + Y.mean(0)

    translator = LatentTranslator().fit(X, Y)
    assert translator.coef_.shape == (d_x, d_y)
    assert_allclose(translator.transform(X), expected, atol=1e-10)
    gram = translator.coef_ @ translator.coef_.T if d_x < d_y else None
    if gram is None:
        gram = translator.coef_.T @ translator.coef_
    assert_allclose(gram, np.eye(min(d_x, d_y)), atol=1e-12)


def test_float32_orthogonal_fit_takes_the_eigh_route_with_float64_accuracy(
    monkeypatch,
):
    routes = []
    original = _kernels.procrustes

    def spy(cross, **kwargs):
        routes.append(kwargs["rtol"])
        return original(cross, **kwargs)

    monkeypatch.setattr(_kernels, "procrustes", spy)
    X, Y = _pairs(n=500, d_x=12, d_y=12, noise=0.5)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    fast = LatentTranslator().fit(X32, Y32)
    exact = LatentTranslator().fit(X32.astype(np.float64), Y32.astype(np.float64))
    assert routes[0] is not None and routes[1] is None
    assert_allclose(fast.coef_, exact.coef_, atol=1e-10)


def test_linear_and_affine_match_numpy_lstsq():
    X, Y = _pairs(noise=0.5)
    W, *_ = np.linalg.lstsq(X, Y, rcond=None)
    linear = LatentTranslator(method="linear", normalize=None).fit(X, Y)
    assert_allclose(linear.coef_, W, atol=1e-9)
    assert_allclose(linear.intercept_, 0)

    Wb, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], Y, rcond=None)
    affine = LatentTranslator(method="affine", normalize=None).fit(X, Y)
    assert_allclose(affine.coef_, Wb[:-1], atol=1e-9)
    assert_allclose(affine.intercept_, Wb[-1], atol=1e-9)
    assert_allclose(affine.transform(X), np.c_[X, np.ones(len(X))] @ Wb, atol=1e-9)


@pytest.mark.parametrize("normalize", ["standard", None])
def test_ridge_matches_sklearn_ridge_on_normalised_pairs(normalize):
    X, Y = _pairs(noise=0.5)
    Xn, Yn = (_standardise(X), _standardise(Y)) if normalize else (X, Y)
    reference = Ridge(alpha=3.0).fit(Xn, Yn)
    translator = LatentTranslator(method="ridge", alpha=3.0, normalize=normalize)
    translator.fit(X, Y)
    assert_allclose(translator.coef_, reference.coef_.T, atol=1e-9)
    assert_allclose(translator.intercept_, reference.intercept_, atol=1e-9)


@pytest.mark.parametrize("method", ["affine", "linear"])
def test_float32_least_squares_is_float64_accurate_on_both_factor_paths(
    method, monkeypatch
):
    """Well-conditioned float32 pairs take the Gram path, ill-conditioned ones
    Householder QR: both give the float64 solution on the same values."""
    accepted = []
    original = _kernels.gram_factor

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        accepted.append(result is not None)
        return result

    monkeypatch.setattr(_kernels, "gram_factor", spy)
    rng = np.random.RandomState(4)
    Z = rng.normal(size=(3000, 6)) * [1e-3, 1, 10, 1, 1, 1e3] + 100
    collinear = Z[:, 1] + 1e-4 * rng.normal(size=3000)  # condition ~1e5
    for X, gram_path in ((Z, True), (np.column_stack([Z, collinear]), False)):
        X = X.astype(np.float32)
        Y = (X @ rng.normal(size=(X.shape[1], 3)) + rng.normal(size=(3000, 3))).astype(
            np.float32
        )
        translator = LatentTranslator(method=method, normalize=None).fit(X, Y)
        assert accepted.pop() is gram_path
        X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
        if method == "affine":
            X64, Y64 = X64 - X64.mean(0), Y64 - Y64.mean(0)
        expected = np.linalg.lstsq(X64, Y64, rcond=None)[0]
        assert_allclose(translator.coef_, expected, rtol=1e-7, atol=1e-9)
    LatentTranslator(method=method).fit(Z, Z[:, :2])
    assert accepted == []  # float64 pairs always take Householder QR


# --- behaviour -------------------------------------------------------------


def test_score_is_mean_cosine_similarity():
    X, Y = _pairs(noise=2.0)
    translator = LatentTranslator().fit(X, Y)
    Y_pred = translator.transform(X)
    cosine = (Y_pred * Y).sum(1) / np.linalg.norm(Y_pred, axis=1)
    cosine /= np.linalg.norm(Y, axis=1)
    assert translator.score(X, Y) == pytest.approx(cosine.mean())


def test_dead_dimensions_stay_constant():
    rng = np.random.RandomState(0)
    X, Y = _pairs(n=80, d_x=6, d_y=5, noise=0.1)
    # Dead dimensions as real encoders have them: constant up to ~1e-30.
    X[:, 2] = 0.7 + 1e-30 * rng.normal(size=len(X))
    Y[:, 3] = -2.0 + 1e-30 * rng.normal(size=len(Y))
    for method in METHODS:
        translator = LatentTranslator(method=method).fit(X, Y)
        assert_array_equal(translator.coef_[2], 0)
        assert_array_equal(translator.coef_[:, 3], 0)
        X_new = rng.normal(size=(30, 6)) * 5
        Y_pred = translator.transform(X_new)
        assert_array_equal(Y_pred[:, 3], translator.y_mean_[3])
        # A dead source feature carries no signal, whatever value it takes.
        X_shifted = X_new.copy()
        X_shifted[:, 2] += 1e3
        assert_allclose(translator.transform(X_shifted), Y_pred, atol=1e-12)
        # The live part is the map fitted without the dead features.
        live = LatentTranslator(method=method).fit(
            np.delete(X, 2, axis=1), np.delete(Y, 3, axis=1)
        )
        assert_allclose(
            np.delete(Y_pred, 3, axis=1),
            live.transform(np.delete(X_new, 2, axis=1)),
            atol=1e-9,
        )


def test_one_dimensional_y_is_one_column():
    X, Y = _pairs(d_y=1)
    translator = LatentTranslator(method="affine").fit(X, Y[:, 0])
    assert translator.transform(X).shape == (len(X), 1)
    assert_allclose(translator.transform(X), Y, atol=1e-9)
    assert translator.score(X, Y[:, 0]) == pytest.approx(1.0)
    assert_array_equal(translator.get_feature_names_out(), ["latenttranslator0"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_kind_are_kept(dtype):
    X, Y = _pairs()
    translator = LatentTranslator().fit(X.astype(dtype), Y)
    out = translator.transform(X.astype(dtype))
    assert isinstance(out, np.ndarray)
    assert out.dtype == dtype
    tensor_out = translator.transform(torch.from_numpy(X.astype(dtype)))
    assert isinstance(tensor_out, torch.Tensor)
    assert tensor_out.dtype == torch.from_numpy(X.astype(dtype)).dtype
    assert_allclose(tensor_out.numpy(), out, rtol=1e-5)
    back = translator.inverse_transform(torch.from_numpy(out))
    assert isinstance(back, torch.Tensor)
    assert_allclose(back.numpy(), X, atol=1e-3 if dtype == np.float32 else 1e-9)


def test_transform_is_differentiable_for_a_tensor_that_requires_grad():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    translator = LatentTranslator(method="affine", batch_size=4).fit(X, Y)
    tensor = torch.from_numpy(X[:9]).requires_grad_()
    out = translator.transform(tensor)
    assert out.requires_grad
    assert_allclose(out.detach().numpy(), translator.transform(X[:9]))
    assert torch.autograd.gradcheck(translator.transform, (tensor,))


def test_tensor_fit_equals_numpy_fit():
    X, Y = _pairs(noise=0.5)
    from_numpy = LatentTranslator(method="affine").fit(X, Y)
    from_torch = LatentTranslator(method="affine").fit(
        torch.from_numpy(X), torch.from_numpy(Y)
    )
    assert_allclose(from_torch.coef_, from_numpy.coef_, atol=1e-12)
    assert isinstance(from_torch.coef_, np.ndarray)


def test_batch_size_does_not_change_results():
    X, Y = _pairs(n=101, noise=0.5)
    whole = LatentTranslator(method="ridge").fit(X, Y)
    batched = LatentTranslator(method="ridge", batch_size=7).fit(X, Y)
    assert_allclose(batched.coef_, whole.coef_, atol=1e-10)
    assert_allclose(batched.transform(X), whole.transform(X), atol=1e-10)
    assert batched.score(X, Y) == pytest.approx(whole.score(X, Y))


def test_set_output_pandas_and_feature_names():
    X, Y = _pairs(d_y=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    translator = LatentTranslator().set_output(transform="pandas").fit(frame, Y)
    out = translator.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"latenttranslator{i}" for i in range(3)]
    assert_allclose(
        out.to_numpy(), translator.set_output(transform="default").transform(frame)
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("normalize", NORMALIZATIONS)
def test_partial_fit_equals_fit(method, normalize):
    X, Y = _pairs(n=90, d_y=5, noise=0.5)
    whole = LatentTranslator(method=method, normalize=normalize).fit(X, Y)
    streamed = LatentTranslator(method=method, normalize=normalize)
    for rows in (slice(0, 30), slice(30, 31), slice(31, 90)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnchorWarning)
            streamed.partial_fit(X[rows], Y[rows])
    assert streamed.n_samples_seen_ == whole.n_samples_seen_ == 90
    for name in ("coef_", "intercept_", "x_mean_", "x_scale_", "y_mean_", "y_scale_"):
        assert_allclose(getattr(streamed, name), getattr(whole, name), atol=1e-9)
    assert_allclose(streamed.transform(X), whole.transform(X), atol=1e-8)


@pytest.mark.parametrize("method", ["linear", "affine", "ridge"])
def test_float32_partial_fit_mixes_factor_paths_and_equals_fit(method):
    """Chunks of many pairs take the Gram route, a one-pair chunk Householder
    QR (its Gram matrix is singular); merged, they give fit's map."""
    X, Y = _pairs(n=400, d_y=5, noise=0.5)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    whole = LatentTranslator(method=method).fit(X, Y)
    streamed = LatentTranslator(method=method)
    for rows in (slice(0, 200), slice(200, 201), slice(201, 400)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnchorWarning)
            streamed.partial_fit(X[rows], Y[rows])
    assert_allclose(streamed.coef_, whole.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(streamed.intercept_, whole.intercept_, atol=1e-9)


def test_partial_fit_continues_statistics_stored_without_a_gram_matrix():
    # Translators fitted before the Gram matrix joined the statistics.
    X, Y = _pairs(n=200, noise=0.5)
    old = LatentTranslator(method="affine").partial_fit(X[:100], Y[:100])
    del old._statistics["gram"]
    old.partial_fit(X[100:], Y[100:])
    whole = LatentTranslator(method="affine").fit(X, Y)
    assert_allclose(old.coef_, whole.coef_, atol=1e-10)


def test_fit_after_partial_fit_starts_over():
    X, Y = _pairs(noise=0.5)
    translator = LatentTranslator().partial_fit(X[:50], Y[:50]).fit(X[50:], Y[50:])
    assert translator.n_samples_seen_ == len(X) - 50
    assert_allclose(
        translator.coef_, LatentTranslator().fit(X[50:], Y[50:]).coef_, atol=1e-12
    )


def test_n_anchors_fits_on_a_subset():
    X, Y = _pairs(n=100, noise=0.5)
    translator = LatentTranslator(n_anchors=0.3, random_state=0).fit(X, Y)
    rows = translator.anchor_indices_
    assert rows.shape == (30,)
    assert translator.n_samples_seen_ == 30
    subset = LatentTranslator().fit(X[rows], Y[rows])
    assert_allclose(translator.coef_, subset.coef_, atol=1e-12)
    assert LatentTranslator().fit(X, Y).anchor_indices_ is None
    for strategy in ("kmeans", "farthest"):
        fitted = LatentTranslator(n_anchors=20, anchors=strategy, random_state=0)
        assert len(np.unique(fitted.fit(X, Y).anchor_indices_)) == 20


def test_device_auto_and_retargeting():
    X, Y = _pairs()
    translator = LatentTranslator().fit(X, Y)
    expected = translator.transform(X)
    assert_allclose(translator.set_params(device="auto").transform(X), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.cuda
def test_cuda_tensor_in_cuda_tensor_out():
    X, Y = _pairs(noise=0.5)
    cpu = LatentTranslator(method="affine").fit(X, Y)
    gpu = LatentTranslator(method="affine", device="auto").fit(
        torch.from_numpy(X).cuda(), torch.from_numpy(Y).cuda()
    )
    assert_allclose(gpu.coef_, cpu.coef_, atol=1e-9)
    out = gpu.transform(torch.from_numpy(X).float().cuda())
    assert out.device.type == "cuda"
    assert out.dtype == torch.float32
    assert_allclose(out.cpu().numpy(), cpu.transform(X), rtol=1e-4, atol=1e-4)


# --- bad input, each message -----------------------------------------------


def test_row_count_mismatch_names_both_counts():
    X, Y = _pairs(n=20)
    with pytest.raises(ValueError, match="X has 20 rows and y has 10"):
        LatentTranslator().fit(X, Y[:10])
    translator = LatentTranslator().fit(X, Y)
    with pytest.raises(ValueError, match="X has 20 rows and y has 10"):
        translator.score(X, Y[:10])


def test_y_is_required():
    X, _ = _pairs()
    with pytest.raises(ValueError, match="requires y to be passed"):
        LatentTranslator().fit(X, None)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite_input_is_rejected(bad, where):
    X, Y = _pairs()
    (X if where == "X" else Y)[3, 1] = bad
    kind = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=f"Input {where} contains {kind}"):
        LatentTranslator().fit(X, Y)
    with pytest.raises(ValueError, match=f"Input {where} contains {kind}"):
        LatentTranslator().fit(torch.from_numpy(X), torch.from_numpy(Y))


def test_too_few_pairs_for_n_anchors():
    X, Y = _pairs(n=20)
    with pytest.raises(ValueError, match="n_anchors=50 must be <= n_samples=20"):
        LatentTranslator(n_anchors=50).fit(X, Y)


def test_too_few_pairs_for_least_squares_warns():
    X, Y = _pairs(n=5, d_x=8)
    with pytest.warns(
        AnchorWarning, match="determine only 4 of the 8 directions that method='affine'"
    ) as record:
        translator = LatentTranslator(method="affine").fit(X, Y)
    assert record[0].filename == __file__  # points at the caller
    assert "minimum-norm least-squares solution" in str(record[0].message)
    assert_allclose(translator.transform(X), Y, atol=1e-8)  # interpolates
    with pytest.warns(AnchorWarning, match="only 5 of the 8 directions.*'linear'"):
        LatentTranslator(method="linear", normalize=None).fit(X, Y)
    with pytest.warns(AnchorWarning, match="every input translates to the same"):
        ridge = LatentTranslator(method="ridge", normalize=None).fit(X[:1], Y[:1])
    assert_allclose(ridge.transform(X), np.repeat(Y[:1], 5, axis=0), atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LatentTranslator(method="ridge").fit(X, Y)  # 5 pairs are enough for ridge
        LatentTranslator().fit(*_pairs(n=20, d_x=8))


@pytest.mark.parametrize(
    "case",
    ["one pair", "fewer pairs than dimensions", "constant X", "constant Y"],
)
def test_degenerate_orthogonal_translator_warns(case):
    # These mapped everything to one vector (or left directions arbitrary)
    # without a word, while the least-squares methods warned.
    X, Y = _pairs(n=20, d_x=8, d_y=6)
    if case == "one pair":
        X, Y = X[:1], Y[:1]
    elif case == "fewer pairs than dimensions":
        X, Y = X[:4], Y[:4]
    elif case == "constant X":
        X = np.ones_like(X)
    else:
        Y = np.full_like(Y, 3.0)
    message = (
        "determine only 3 of the 6 directions"
        if case == "fewer pairs than dimensions"
        else "every input translates to the same vector"
    )
    with pytest.warns(AnchorWarning, match=message) as record:
        LatentTranslator().fit(X, Y)
    assert record[0].filename == __file__


def test_transform_with_wrong_width():
    X, Y = _pairs(d_y=4)
    translator = LatentTranslator().fit(X, Y)
    with pytest.raises(ValueError, match="X has 3 features, but LatentTranslator"):
        translator.transform(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 target features"):
        translator.inverse_transform(Y[:, :3])
    with pytest.raises(ValueError, match="y has 3 target features"):
        translator.score(X, Y[:, :3])
    with pytest.raises(ValueError, match="y has 3 target features"):
        translator.partial_fit(X, Y[:, :3])


@pytest.mark.parametrize("method", ["linear", "affine", "ridge"])
def test_inverse_transform_needs_orthogonal(method):
    X, Y = _pairs()
    translator = LatentTranslator(method=method).fit(X, Y)
    with pytest.raises(ValueError, match=f"not available for method='{method}'"):
        translator.inverse_transform(Y)


def test_unfitted():
    X, Y = _pairs()
    for call in (
        lambda t: t.transform(X),
        lambda t: t.inverse_transform(Y),
        lambda t: t.score(X, Y),
        lambda t: t.get_feature_names_out(),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call(LatentTranslator())


def test_partial_fit_cannot_switch_to_least_squares():
    X, Y = _pairs()
    translator = LatentTranslator().partial_fit(X, Y)
    with pytest.raises(ValueError, match="needs the QR factor of X"):
        translator.set_params(method="affine").partial_fit(X, Y)


def test_bad_parameters_and_target_shapes():
    X, Y = _pairs()
    with pytest.raises(InvalidParameterError, match="'anchors' parameter"):
        LatentTranslator(n_anchors=10, anchors="stratified").fit(X, Y)
    with pytest.raises(InvalidParameterError, match="'method' parameter"):
        LatentTranslator(method="rotation").fit(X, Y)
    with pytest.raises(ValueError, match="y must be a 1-D or 2-D tensor"):
        LatentTranslator().fit(torch.from_numpy(X), torch.zeros(len(X), 2, 2))


# --- persistence and integration ------------------------------------------


@pytest.mark.parametrize("method", ["orthogonal", "ridge"])
def test_pickle_and_joblib_round_trips(method, tmp_path):
    X, Y = _pairs(noise=0.5)
    translator = LatentTranslator(method=method).partial_fit(X[:60], Y[:60])
    payload = pickle.dumps(translator)
    assert b"torch" not in payload
    restored = pickle.loads(payload)
    assert_array_equal(restored.transform(X), translator.transform(X))
    joblib.dump(translator, tmp_path / "translator.joblib")
    loaded = joblib.load(tmp_path / "translator.joblib")
    assert_array_equal(loaded.transform(X), translator.transform(X))
    # The stored statistics carry on streaming exactly.
    restored.partial_fit(X[60:], Y[60:])
    assert_allclose(
        restored.coef_, LatentTranslator(method=method).fit(X, Y).coef_, atol=1e-9
    )


def test_grid_search_over_n_anchors():
    X, Y = _pairs(n=300, d_x=16, d_y=12, noise=2.0)
    search = GridSearchCV(
        LatentTranslator(method="affine", random_state=0),
        {"n_anchors": [20, 60, 200]},
        cv=3,
        error_score="raise",
    )
    search.fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert np.all(np.diff(scores) > 0)  # more anchors, better translation
    assert search.best_params_ == {"n_anchors": 200}


def test_pipeline_reuses_a_frozen_head_fitted_on_the_target_space():
    rng = np.random.RandomState(0)
    n, d_a, d_b = 600, 16, 24
    labels = rng.randint(3, size=n)
    centres = rng.normal(scale=3, size=(3, d_a))
    emb_a = centres[labels] + rng.normal(size=(n, d_a)) + 10  # target encoder
    embed = ortho_group.rvs(d_b, random_state=0)[:d_a]  # 16 -> 24, isometric
    emb_b = 2.5 * emb_a @ embed - 3 + 0.05 * rng.normal(size=(n, d_b))  # source
    train, anchors, test = slice(0, 300), slice(300, 400), slice(400, n)

    head = LogisticRegression().fit(emb_a[train], labels[train])
    pipeline = Pipeline(
        [("translate", LatentTranslator()), ("head", FrozenEstimator(head))]
    )
    pipeline.fit(emb_b[anchors], emb_a[anchors])  # the head stays frozen
    native = head.score(emb_a[test], labels[test])
    stitched = pipeline.score(emb_b[test], labels[test])
    assert native > 0.9
    assert stitched >= native - 0.03


def test_anchor_row_indices_choose_the_pairs():
    # RelativeTransformer accepted row indices as anchors and LatentTranslator
    # rejected them; both take them now.
    X, Y = _pairs(n=60)
    rows = np.array([3, 10, 11, 20, 25, 31, 40, 44, 50, 59])
    translator = LatentTranslator(anchors=rows).fit(X, Y)
    np.testing.assert_array_equal(translator.anchor_indices_, rows)
    assert_allclose(translator.coef_, LatentTranslator().fit(X[rows], Y[rows]).coef_)
    with pytest.raises(ValueError, match=r"anchor indices must lie in \[0, 59\]"):
        LatentTranslator(anchors=[0, 60]).fit(X, Y)
    with pytest.raises(ValueError, match="1-D anchors must be integer row indices"):
        LatentTranslator(anchors=[0.5, 1.5]).fit(X, Y)


def test_a_refit_replaces_the_folded_map_used_by_transform():
    """transform folds the map once per fit; a refit or partial_fit replaces it."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    Y = X @ rng.standard_normal((5, 3)) + 1.0
    translator = LatentTranslator(method="affine").fit(X, Y)
    first = translator.transform(X)
    np.testing.assert_allclose(translator.transform(X), first)
    translator.fit(X, 2 * Y)
    np.testing.assert_allclose(translator.transform(X), 2 * first, rtol=1e-10)
    streamed = LatentTranslator(method="affine").partial_fit(X[:100], Y[:100])
    streamed.transform(X)
    streamed.partial_fit(X[100:], 5 * Y[100:])
    reference = LatentTranslator(method="affine").fit(
        X, np.vstack([Y[:100], 5 * Y[100:]])
    )
    np.testing.assert_allclose(streamed.transform(X), reference.transform(X), rtol=1e-9)
    assert not np.allclose(streamed.transform(X), first)
