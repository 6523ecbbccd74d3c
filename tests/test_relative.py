"""RelativeTransformer: parameters, input kinds, persistence, errors, edge cases."""

import io
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import NotFittedError

from sklatent import AnchorWarning, LatentTranslator, RelativeTransformer

SIMILARITIES = ["cosine", "dot", "euclidean", "l1", "linf"]


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(60, 8))


def _numpy_similarity(name, X, A):
    """Plain numpy reference for each similarity."""
    diff = X[:, None, :] - A[None, :, :]
    if name == "cosine":
        return (X / np.linalg.norm(X, axis=1, keepdims=True)) @ (
            A / np.linalg.norm(A, axis=1, keepdims=True)
        ).T
    if name == "dot":
        return X @ A.T
    if name == "euclidean":
        return -np.sqrt((diff**2).sum(-1))
    if name == "l1":
        return -np.abs(diff).sum(-1)
    return -np.abs(diff).max(-1)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_each_similarity_matches_numpy(X, similarity):
    rel = RelativeTransformer(n_anchors=7, similarity=similarity, random_state=0)
    got = rel.fit(X).transform(X)
    expected = _numpy_similarity(similarity, X, X[rel.anchor_indices_])
    # A GEMM-based euclidean carries ~1e-7 absolute error for a sample that is
    # itself an anchor (distance 0); elsewhere everything agrees to 1e-10.
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-7)
    off_anchor = np.setdiff1d(np.arange(len(X)), rel.anchor_indices_)
    np.testing.assert_allclose(got[off_anchor], expected[off_anchor], rtol=1e-10)


def test_distances_are_negated_so_larger_means_closer(X):
    for similarity in ["euclidean", "l1", "linf"]:
        rel = RelativeTransformer(n_anchors=5, similarity=similarity, random_state=0)
        R = rel.fit(X).transform(X)
        assert (R <= 1e-7).all()
        anchor_rows = R[rel.anchor_indices_]
        # Each anchor is its own most similar anchor.
        np.testing.assert_array_equal(anchor_rows.argmax(axis=1), np.arange(5))


def test_callable_similarity_and_feature_names(X):
    def negative_sq(X, A):
        return -(torch.cdist(X, A) ** 2)

    rel = RelativeTransformer(n_anchors=4, similarity=negative_sq, random_state=0)
    R = rel.fit(X).transform(X)
    A = X[rel.anchor_indices_]
    expected = -((X[:, None] - A[None]) ** 2).sum(-1)
    np.testing.assert_allclose(R, expected, rtol=1e-10, atol=1e-12)
    names = rel.get_feature_names_out()
    assert list(names) == [f"negative_sq_a{i}" for i in rel.anchor_indices_]


@pytest.mark.parametrize(
    "returned, match",
    [
        (lambda X, A: (X @ A.T)[:, :1], r"a Tensor of shape \(60, 1\) for 60 rows"),
        (lambda X, A: (X @ A.T).numpy(), r"an? ndarray of shape \(60, 4\).*Tensor"),
        (lambda X, A: [0.0], r"returned a list for 60 rows and 4 anchors"),
    ],
)
def test_callable_similarity_of_the_wrong_kind_is_an_error(X, returned, match):
    rel = RelativeTransformer(n_anchors=4, similarity=returned, random_state=0).fit(X)
    with pytest.raises(ValueError, match=match):
        rel.transform(X)


def test_product_of_invariances_concat(X):
    sims = ["cosine", "euclidean", "l1", "linf"]
    rel = RelativeTransformer(n_anchors=5, similarity=sims, random_state=0).fit(X)
    R = rel.transform(X)
    assert R.shape == (60, 20)
    for b, name in enumerate(sims):
        single = RelativeTransformer(anchors=rel.anchor_indices_, similarity=name).fit(
            X
        )
        np.testing.assert_allclose(R[:, 5 * b : 5 * (b + 1)], single.transform(X))
    assert rel.get_feature_names_out()[5] == f"euclidean_a{rel.anchor_indices_[0]}"


@pytest.mark.parametrize("aggregation", ["sum", "mean"])
def test_sum_and_mean_standardise_each_block(X, aggregation):
    rel = RelativeTransformer(
        n_anchors=6,
        similarity=["cosine", "l1"],
        aggregation=aggregation,
        random_state=0,
    ).fit(X)
    R = rel.transform(X)
    A = X[rel.anchor_indices_]
    blocks = [_numpy_similarity(s, X, A) for s in ["cosine", "l1"]]
    standardised = [(b - b.mean()) / b.std() for b in blocks]
    expected = sum(standardised) / (2 if aggregation == "mean" else 1)
    np.testing.assert_allclose(R, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(rel.block_mean_, [b.mean() for b in blocks])
    assert rel.get_feature_names_out()[0] == f"{aggregation}_a{rel.anchor_indices_[0]}"


def test_center_subtracts_anchor_mean(X):
    rel = RelativeTransformer(n_anchors=6, center=True, random_state=0).fit(X)
    A = X[rel.anchor_indices_]
    mu = A.mean(axis=0)
    np.testing.assert_allclose(rel.center_, mu)
    expected = _numpy_similarity("cosine", X - mu, A - mu)
    np.testing.assert_allclose(rel.transform(X), expected, rtol=1e-10)


def test_normalize_l2_layer_and_standard(X):
    fitted = {
        n: RelativeTransformer(n_anchors=6, normalize=n, random_state=0).fit(X)
        for n in ["l2", "layer", "standard"]
    }
    raw = RelativeTransformer(n_anchors=6, random_state=0).fit(X).transform(X)
    l2 = fitted["l2"].transform(X)
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), 1.0)
    layer = fitted["layer"].transform(X)
    np.testing.assert_allclose(layer.mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(layer.std(1), 1)
    # "standard" learns column statistics on the fitting rows ...
    standard = fitted["standard"]
    np.testing.assert_allclose(standard.mean_, raw.mean(0))
    np.testing.assert_allclose(standard.scale_, raw.std(0))
    np.testing.assert_allclose(standard.transform(X).mean(0), 0, atol=1e-12)
    # ... and applies them, unchanged, to new rows.
    X_new = X[:5] + 0.1
    raw_new = RelativeTransformer(anchors=X[standard.anchor_indices_]).fit(X)
    expected = (raw_new.transform(X_new) - raw.mean(0)) / raw.std(0)
    np.testing.assert_allclose(standard.transform(X_new), expected, rtol=1e-10)


def test_top_k_keeps_exactly_k_largest(X):
    rel = RelativeTransformer(n_anchors=10, top_k=3, random_state=0).fit(X)
    R = rel.transform(X)
    dense = RelativeTransformer(anchors=rel.anchor_indices_).fit(X).transform(X)
    assert ((R != 0).sum(axis=1) == 3).all()
    kept = np.sort(dense, axis=1)[:, -3:]
    np.testing.assert_allclose(np.sort(R[R != 0].reshape(-1, 3), axis=1), kept)


def test_top_k_power_keeps_sign(X):
    rel = RelativeTransformer(n_anchors=10, top_k=4, top_k_power=3, random_state=0)
    R = rel.fit(X).transform(X)
    plain = RelativeTransformer(anchors=rel.anchor_indices_, top_k=4).fit(X)
    np.testing.assert_allclose(R, plain.transform(X) ** 3, rtol=1e-10)


def test_n_anchors_fraction_rounds_up(X):
    rel = RelativeTransformer(n_anchors=0.1, random_state=0).fit(X)
    assert rel.anchors_.shape == (6, 8)
    assert rel.get_feature_names_out().shape == (6,)


@pytest.mark.parametrize("strategy", ["random", "kmeans", "farthest"])
def test_strategies_are_seeded_and_distinct(X, strategy):
    a = RelativeTransformer(n_anchors=8, anchors=strategy, random_state=3).fit(X)
    b = RelativeTransformer(n_anchors=8, anchors=strategy, random_state=3).fit(X)
    np.testing.assert_array_equal(a.anchor_indices_, b.anchor_indices_)
    assert len(np.unique(a.anchor_indices_)) == 8
    np.testing.assert_array_equal(a.anchors_, X[a.anchor_indices_])


def test_stratified_uses_labels(X):
    y = np.repeat([0, 1, 2], [40, 15, 5])
    rel = RelativeTransformer(n_anchors=12, anchors="stratified", random_state=0)
    rel.fit(X, y)
    assert np.bincount(y[rel.anchor_indices_]).tolist() == [8, 3, 1]
    with pytest.raises(ValueError, match="anchors='stratified' needs class labels"):
        RelativeTransformer(n_anchors=5, anchors="stratified").fit(X)


def test_anchor_embeddings_given_directly(X):
    A = X[:4] * 2.0
    rel = RelativeTransformer(anchors=A).fit(X)
    assert rel.anchor_indices_ is None
    np.testing.assert_allclose(rel.anchors_, A)
    assert list(rel.get_feature_names_out()) == [f"cosine_a{i}" for i in range(4)]
    np.testing.assert_allclose(rel.transform(X), _numpy_similarity("cosine", X, A))


def test_parallel_anchors_stitch_a_classifier_across_encoders():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=3.0, size=(4, 12))
    y = rng.randint(4, size=400)
    X_a = centers[y] + rng.normal(size=(400, 12))
    rotation, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    X_b = 5.0 * X_a @ rotation
    train, test = slice(0, 300), slice(300, None)

    rel_a = RelativeTransformer(n_anchors=40, random_state=0).fit(X_a[train])
    clf = LogisticRegression(max_iter=1000).fit(rel_a.transform(X_a[train]), y[train])
    rel_b = RelativeTransformer(anchors=rel_a.anchor_indices_).fit(X_b[train])
    stitched = make_pipeline(rel_b, FrozenEstimator(clf))

    acc_a = clf.score(rel_a.transform(X_a[test]), y[test])
    assert acc_a > 0.9
    assert stitched.score(X_b[test], y[test]) == pytest.approx(acc_a)
    # Absolute reuse fails: the classifier on A's raw space does not transfer.
    absolute = LogisticRegression(max_iter=1000).fit(X_a[train], y[train])
    assert absolute.score(X_b[test], y[test]) < acc_a - 0.3


def test_torch_input_gives_torch_output_same_dtype(X):
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    tensor = torch.from_numpy(X.astype(np.float32))
    out = rel.transform(tensor)
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32 and out.device == tensor.device
    np.testing.assert_allclose(out.numpy(), rel.transform(X), rtol=1e-5, atol=1e-6)
    fitted_on_tensor = RelativeTransformer(n_anchors=5, random_state=0).fit(tensor)
    assert isinstance(fitted_on_tensor.anchors_, np.ndarray)
    assert fitted_on_tensor.anchors_.dtype == np.float32


@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1"])
def test_transform_is_differentiable_for_a_tensor_that_requires_grad(X, similarity):
    rel = RelativeTransformer(
        n_anchors=5, similarity=similarity, batch_size=3, random_state=0
    ).fit(X)
    tensor = torch.from_numpy(X[:7] + 0.1).requires_grad_()
    out = rel.transform(tensor)
    assert out.requires_grad
    np.testing.assert_allclose(out.detach().numpy(), rel.transform(X[:7] + 0.1))
    assert torch.autograd.gradcheck(rel.transform, (tensor,))


def test_integer_tensor_becomes_float64(X):
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    out = rel.transform(torch.arange(16).reshape(2, 8))
    assert out.dtype == torch.float64


def test_float32_numpy_stays_float32(X):
    X32 = X.astype(np.float32)
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X32)
    assert rel.transform(X32).dtype == np.float32
    assert rel.transform(X).dtype == np.float64


def test_lists_pandas_and_memmaps(X, tmp_path):
    pd = pytest.importorskip("pandas")
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    expected = rel.transform(X)
    np.testing.assert_allclose(rel.transform(X.tolist()), expected)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    readonly = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    np.testing.assert_allclose(rel.transform(readonly), expected)

    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    rel_pd = RelativeTransformer(n_anchors=5, random_state=0).set_output(
        transform="pandas"
    )
    out = rel_pd.fit(frame).transform(frame)
    assert list(out.columns) == list(rel_pd.get_feature_names_out())
    assert out.columns[0].startswith("cosine_a")
    np.testing.assert_allclose(out.to_numpy(), expected)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_batch_size_does_not_change_results(X, similarity):
    full = RelativeTransformer(n_anchors=9, similarity=similarity, random_state=0)
    expected = full.fit(X).transform(X)
    for batch_size in [1, 7, 60, 1000]:
        rel = RelativeTransformer(
            n_anchors=9, similarity=similarity, batch_size=batch_size, random_state=0
        )
        # GEMM blocking may change the rounding of a zero euclidean distance.
        atol = 1e-7 if similarity == "euclidean" else 0
        np.testing.assert_allclose(
            rel.fit(X).transform(X), expected, rtol=1e-12, atol=atol
        )


def test_standard_statistics_do_not_depend_on_batch_size(X):
    kwargs = dict(
        n_anchors=6,
        similarity=["cosine", "l1"],
        aggregation="sum",
        normalize="standard",
        random_state=0,
    )
    a = RelativeTransformer(batch_size=7, **kwargs).fit(X)
    b = RelativeTransformer(**kwargs).fit(X)
    np.testing.assert_allclose(a.block_scale_, b.block_scale_, rtol=1e-12)
    np.testing.assert_allclose(a.mean_, b.mean_, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(a.scale_, b.scale_, rtol=1e-10)


@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_l1_linf_never_build_the_difference_tensor(similarity):
    # 1,000 x 1,000 x 1,000 float32 differences would take 4 GB; the whole
    # child process must stay far below that. VmHWM is the child's own peak
    # (ru_maxrss would include the pytest worker's memory at the fork).
    code = (
        "import torch; from sklatent._kernels import SIMILARITIES; "
        "X = torch.randn(1000, 1000); "
        f"SIMILARITIES[{similarity!r}](X, X); "
        "print(next(line.split()[1] for line in open('/proc/self/status') "
        "if line.startswith('VmHWM:')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(result.stdout) * 1024 < 1.5e9


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip_without_torch_objects(X, dump):
    rel = RelativeTransformer(
        n_anchors=6,
        similarity=["cosine", "l1"],
        aggregation="mean",
        center=True,
        normalize="standard",
        random_state=0,
    ).fit(X)
    if dump == "pickle":
        payload = pickle.dumps(rel)
        loaded = pickle.loads(payload)
    else:
        buffer = io.BytesIO()
        joblib.dump(rel, buffer)
        payload = buffer.getvalue()
        loaded = joblib.load(io.BytesIO(payload))
    assert b"torch" not in payload
    np.testing.assert_array_equal(loaded.transform(X), rel.transform(X))


def test_set_params_device_after_loading(X):
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    loaded = pickle.loads(pickle.dumps(rel))
    loaded.set_params(device="auto")
    np.testing.assert_allclose(loaded.transform(X), rel.transform(X), rtol=1e-6)


def test_grid_search_over_n_anchors():
    rng = np.random.RandomState(0)
    y = rng.randint(3, size=150)
    X = rng.normal(scale=3.0, size=(3, 6))[y] + rng.normal(size=(150, 6))
    search = GridSearchCV(
        make_pipeline(RelativeTransformer(random_state=0), LogisticRegression()),
        {"relativetransformer__n_anchors": [2, 10, 30]},
        cv=3,
        error_score="raise",
    ).fit(X, y)
    assert search.best_score_ > 0.8
    assert search.best_params_["relativetransformer__n_anchors"] in (10, 30)


# Bad input and degenerate cases -------------------------------------------


def test_nan_and_inf_rejected(X):
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        rel.transform(bad)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        RelativeTransformer(n_anchors=5).fit(bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        rel.transform(torch.tensor([[np.nan] * 8]))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        rel.transform(torch.full((1, 8), np.inf))
    anchors = X[:3].copy()
    anchors[1, 2] = np.nan
    with pytest.raises(ValueError, match="Input anchors contains NaN"):
        RelativeTransformer(anchors=anchors).fit(X)


def test_wrong_shapes_rejected(X):
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        RelativeTransformer(n_anchors=2).fit(X[0])
    with pytest.raises(ValueError, match="Expected 2D array, got 1D tensor"):
        RelativeTransformer(n_anchors=2).fit(torch.zeros(5))
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but RelativeTransformer"):
        rel.transform(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features, but RelativeTransformer"):
        rel.transform(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="anchors has 3 features but X has 8"):
        RelativeTransformer(anchors=X[:4, :3]).fit(X)


def test_too_many_anchors(X):
    with pytest.raises(ValueError, match="n_anchors=61 must be <= n_samples=60"):
        RelativeTransformer(n_anchors=61).fit(X)


@pytest.mark.parametrize(
    ("anchors", "match"),
    [
        (np.array([0, 60]), r"anchor indices must lie in \[0, 59\]"),
        (np.array([-1, 2]), r"anchor indices must lie in \[0, 59\]"),
        (np.array([0.0, 1.0]), "1-D anchors must be integer row indices"),
        (np.array([], dtype=int), "non-empty 1-D array"),
    ],
)
def test_bad_index_anchors(X, anchors, match):
    with pytest.raises(ValueError, match=match):
        RelativeTransformer(anchors=anchors).fit(X)


def test_invalid_parameters_are_named(X):
    with pytest.raises(
        ValueError, match="'n_anchors' parameter of RelativeTransformer"
    ):
        RelativeTransformer(n_anchors=0).fit(X)
    with pytest.raises(ValueError, match="Unknown similarity 'cosin'"):
        RelativeTransformer(similarity=["cosine", "cosin"], n_anchors=3).fit(X)
    with pytest.raises(ValueError, match="lists a similarity twice"):
        RelativeTransformer(similarity=["l1", "l1"], n_anchors=3).fit(X)
    with pytest.raises(ValueError, match="similarity is an empty list"):
        RelativeTransformer(similarity=[], n_anchors=3).fit(X)


def test_unfitted_transform_raises(X):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RelativeTransformer().transform(X)


def test_cuda_without_cuda_is_an_error_and_auto_falls_back(X):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available.*device='auto'"):
        RelativeTransformer(n_anchors=3, device="cuda").fit(X)
    with pytest.raises(ValueError, match="not a valid torch device"):
        RelativeTransformer(n_anchors=3, device="gpu0").fit(X)
    auto = RelativeTransformer(n_anchors=3, device="auto", random_state=0).fit(X)
    cpu = RelativeTransformer(n_anchors=3, random_state=0).fit(X)
    np.testing.assert_array_equal(auto.transform(X), cpu.transform(X))


def test_zero_rows_give_zero_cosine_not_nan(X):
    X = X.copy()
    X[3] = 0.0
    rel = RelativeTransformer(anchors=np.array([0, 1, 2])).fit(X)
    R = rel.transform(X)
    assert np.isfinite(R).all()
    np.testing.assert_array_equal(R[3], 0.0)
    with pytest.warns(AnchorWarning, match="all-zero"):
        rel = RelativeTransformer(anchors=np.array([0, 3])).fit(X)
    np.testing.assert_array_equal(rel.transform(X)[:, 1], 0.0)


def test_duplicate_anchors_warn(X):
    X = np.vstack([X, X[:1]])
    with pytest.warns(AnchorWarning, match="1 of 2 anchors duplicate"):
        RelativeTransformer(anchors=np.array([0, 60])).fit(X)


def test_rank_deficient_anchors_still_work(X):
    A = np.outer(np.arange(1, 6), X[0])  # five anchors on one line
    rel = RelativeTransformer(anchors=A).fit(X)
    R = rel.transform(X)
    assert np.isfinite(R).all()
    np.testing.assert_allclose(R, R[:, :1].repeat(5, axis=1))


def test_single_sample(X):
    rel = RelativeTransformer(n_anchors=1).fit(X[:1])
    np.testing.assert_allclose(rel.transform(X[:1]), [[1.0]])
    rel = RelativeTransformer(n_anchors=4, normalize="standard", random_state=0)
    out = rel.fit(X).transform(X[:1])
    assert out.shape == (1, 4)


def test_constant_column_has_unit_scale(X):
    rel = RelativeTransformer(
        anchors=np.array([0, 1]), similarity="dot", normalize="standard"
    )
    X = X.copy()
    X[:, :] = 0
    X[:, 0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnchorWarning)
        rel.fit(X)
    np.testing.assert_array_equal(rel.scale_, [1.0, 1.0])
    np.testing.assert_array_equal(rel.transform(X), 0.0)


def test_top_k_beyond_the_output_width_is_rejected(X):
    with pytest.raises(ValueError, match="top_k=7 keeps more entries than the 6"):
        RelativeTransformer(n_anchors=6, top_k=7, random_state=0).fit(X)
    # A product of similarities concatenated has k columns per similarity.
    rel = RelativeTransformer(n_anchors=6, similarity=["cosine", "l1"], top_k=7)
    assert rel.fit(X).transform(X).shape[1] == 12


def test_boolean_n_anchors_is_rejected(X):
    # True passed the parameter check as the int 1.
    with pytest.raises(ValueError, match="n_anchors must be an int.*got True"):
        RelativeTransformer(n_anchors=True).fit(X)
    with pytest.raises(ValueError, match="n_anchors must be an int.*got True"):
        LatentTranslator(n_anchors=True).fit(X, X)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int32, np.float64),
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float32),
        (torch.float32, torch.float32),
        (torch.float64, torch.float64),
        (torch.int64, torch.float64),
    ],
)
def test_one_dtype_rule_for_arrays_and_tensors(dtype, expected):
    # numpy float16 came out float64 while torch float16 came out float32.
    data = np.random.RandomState(0).normal(size=(20, 4)) * 3
    if isinstance(dtype, torch.dtype):
        data = torch.from_numpy(data).to(dtype)
    else:
        data = data.astype(dtype)
    rel = RelativeTransformer(n_anchors=3, random_state=0).fit(data)
    assert rel.transform(data).dtype == expected
    translator = LatentTranslator().fit(data, data)
    assert translator.transform(data).dtype == expected
