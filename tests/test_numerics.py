"""The numerical policy, tested on data as real encoders give it.

Every similarity and every translator method x normalisation runs on float32
and float64 data far from the origin, strongly anisotropic, with dead
dimensions, rows equal to anchors and near-duplicate anchors, against float64
numpy references. Tolerances are stated relative to the largest reference
value: 1e-10 in float64, 2e-5 in float32 (about 100 float32 ulps of the
result's scale: the inputs themselves are rounded to 6e-8 relative).
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from sklatent import AnchorWarning, LatentTranslator, RelativeTransformer
from sklatent._kernels import statistics_device

TOLERANCE = {np.float64: 1e-10, np.float32: 2e-5}
KINDS = ("offset", "anisotropic", "dead")


def _space(kind, n=60, d=24, seed=0):
    """Float64 embeddings of one kind, and the indices of their dead features."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    dead = []
    if kind == "offset":
        X += 100.0
    elif kind == "anisotropic":
        X = X * np.logspace(-3, 3, d) + 10.0
    else:
        X += 5.0
        X[:, 0] = 0.7 + 1e-30 * rng.normal(size=n)  # constant up to ~1e-30
        X[:, 1] = 1e-33 * rng.normal(size=n)  # ~1e-33 about zero
        dead = [0, 1]
    return X, dead


def _anchors(X):
    """Rows of ``X`` (so some samples equal anchors) and a near-duplicate."""
    rows = X[[0, 5, 10, 15, 20]]
    near = X[5] + 1e-3 * np.abs(X[5]).max() * np.eye(1, X.shape[1], 3)[0]
    return np.vstack([rows, near])


def _relative_reference(X, A, similarity, center):
    if center:
        mean = A.mean(0)
        X, A = X - mean, A - mean
    if similarity == "cosine":

        def unit(Z):
            norms = np.linalg.norm(Z, axis=1, keepdims=True)
            return Z / np.where(norms > 0, norms, 1)

        return unit(X) @ unit(A).T
    if similarity == "dot":
        return X @ A.T
    difference = np.abs(X[:, None, :] - A[None, :, :])
    if similarity == "euclidean":
        return -np.sqrt((difference**2).sum(-1))
    if similarity == "l1":
        return -difference.sum(-1)
    return -difference.max(-1)


def _assert_close(result, reference, dtype):
    scale = np.abs(reference).max()
    error = np.abs(np.asarray(result, dtype=np.float64) - reference).max()
    assert error <= TOLERANCE[dtype] * scale, (error, scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean", "l1", "linf"])
def test_relative_matches_float64_reference(similarity, center, kind, dtype):
    X, _ = _space(kind)
    X = X.astype(dtype)
    A = _anchors(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnchorWarning)
        rel = RelativeTransformer(anchors=A, similarity=similarity, center=center)
        result = rel.fit(X).transform(X)
    assert result.dtype == dtype
    reference = _relative_reference(
        X.astype(np.float64), A.astype(np.float64), similarity, center
    )
    _assert_close(result, reference, dtype)
    if similarity in ("euclidean", "l1", "linf"):
        # A row equal to an anchor is at distance exactly zero from it.
        assert (result[[0, 5, 10, 15, 20], range(5)] == 0).all()


def _normalise(Z, normalize, dead):
    """The reference normalisation: ``(Z_normalised, undo, live mask)``."""
    live = np.ones(Z.shape[1], dtype=bool)
    live[dead] = False
    if normalize == "l2":
        norms = np.linalg.norm(Z, axis=1, keepdims=True)
        scale = norms.mean()
        return Z / norms, lambda P: P * scale, _uncentred_live(Z / norms, dead)
    if normalize is None:
        return Z, lambda P: P, _uncentred_live(Z, dead)
    mean = Z.mean(0)
    std = Z.std(0, ddof=1) if normalize == "standard" else np.ones(Z.shape[1])
    std = np.where(live, std, 1.0)
    return (Z - mean) / std, lambda P: P * std + mean, live


def _uncentred_live(Z, dead):
    # Uncentred, a constant non-zero feature is a bias, hence live; only the
    # features ~1e-33 about zero are dead.
    live = np.ones(Z.shape[1], dtype=bool)
    live[[f for f in dead if np.abs(Z[:, f]).max() < 1e-20]] = False
    return live


def _translator_reference(X, Y, method, normalize, dead_x, dead_y, alpha=1.0):
    Xn, _, live_x = _normalise(X, normalize, dead_x)
    Yn, undo, live_y = _normalise(Y, normalize, dead_y)
    Xl, Yl = Xn[:, live_x], Yn[:, live_y]
    W = np.zeros((X.shape[1], Y.shape[1]))
    b = np.zeros(Y.shape[1])
    if method == "orthogonal":
        U, _, Vt = np.linalg.svd(Xl.T @ Yl, full_matrices=False)
        W[np.ix_(live_x, live_y)] = U @ Vt
    elif method == "linear":
        W[np.ix_(live_x, live_y)] = np.linalg.lstsq(Xl, Yl, rcond=None)[0]
    elif method == "affine":
        solution = np.linalg.lstsq(np.c_[Xl, np.ones(len(Xl))], Yl, rcond=None)[0]
        W[np.ix_(live_x, live_y)], b[live_y] = solution[:-1], solution[-1]
    else:
        ridge = Ridge(alpha=alpha).fit(Xl, Yl)
        W[np.ix_(live_x, live_y)], b[live_y] = ridge.coef_.T, ridge.intercept_

    def translate(X_new):
        Xn_new, _, _ = _normalise_like(X, X_new, normalize, dead_x)
        predicted = undo(Xn_new @ W + b)
        if normalize in ("standard", "center"):
            predicted[:, ~live_y] = Y.mean(0)[~live_y]
        return predicted

    return translate


def _normalise_like(X_fit, X_new, normalize, dead):
    """Normalise ``X_new`` with the statistics of ``X_fit``."""
    if normalize == "l2":
        return X_new / np.linalg.norm(X_new, axis=1, keepdims=True), None, None
    if normalize is None:
        return X_new, None, None
    live = np.ones(X_fit.shape[1], dtype=bool)
    live[dead] = False
    mean = X_fit.mean(0)
    std = X_fit.std(0, ddof=1) if normalize == "standard" else np.ones(len(mean))
    return (X_new - mean) / np.where(live, std, 1.0), None, None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("normalize", ["standard", "center", "l2", None])
@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine", "ridge"])
def test_translator_matches_float64_reference(method, normalize, kind, dtype):
    X, dead_x = _space(kind, n=80, d=12, seed=1)
    rng = np.random.RandomState(2)
    Y = X @ rng.normal(size=(12, 10)) + rng.normal(size=(80, 10)) + 50.0
    dead_y = []
    if kind == "dead":
        Y[:, 2] = -2.0 + 1e-30 * rng.normal(size=80)
        dead_y = [2]
    X32, Y32 = X.astype(dtype), Y.astype(dtype)
    translator = LatentTranslator(method=method, normalize=normalize).fit(X32, Y32)
    translate = _translator_reference(
        X32.astype(np.float64),
        Y32.astype(np.float64),
        method,
        normalize,
        dead_x,
        dead_y,
    )
    result = translator.transform(X32)
    assert result.dtype == dtype
    _assert_close(result, translate(X32.astype(np.float64)), dtype)


# --- the defects of issue 10, each reproduced --------------------------------


def test_euclidean_anchor_distance_to_itself_is_zero_in_float32():
    X = np.random.RandomState(0).normal(size=(1000, 256)).astype(np.float32) + 100
    rel = RelativeTransformer(similarity="euclidean", n_anchors=8, random_state=0)
    R = rel.fit(X).transform(X)
    assert (R[rel.anchor_indices_, range(8)] == 0).all()  # was -0.707
    assert np.median(-R) == pytest.approx(22.6, rel=0.01)


def test_small_real_features_are_not_dead_in_float32():
    # A feature with std 1e-4 next to one with std 1e3 was treated as dead in
    # float32: a translator between X and a permutation and rescaling of X
    # scored 0.77 instead of 1.0.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 6)) * [1e3, 1e-4, 1.0, 10.0, 0.1, 5.0]
    Y = X[:, [3, 1, 5, 0, 2, 4]] * [0.1, 1e4, 0.2, 1e-3, 1.0, 10.0]
    for dtype in (np.float32, np.float64):
        Xd, Yd = X.astype(dtype), Y.astype(dtype)
        assert LatentTranslator().fit(Xd, Yd).score(Xd, Yd) > 0.99999


def test_transform_gradients_are_finite_where_rows_equal_anchors():
    # Integer-valued rows: the distance of a row to its own anchor cancels to
    # exactly zero, where the square root's derivative is infinite.
    X = torch.randint(-3, 4, (20, 6), generator=torch.Generator().manual_seed(0))
    X = X.to(torch.float64) + 30
    rel = RelativeTransformer(n_anchors=5, similarity="euclidean", random_state=0)
    rel.fit(X.numpy())
    X.requires_grad_(True)
    rel.transform(X).sum().backward()
    assert torch.isfinite(X.grad).all()


def _ill_conditioned_pairs(n=1500, d=48, seed=0):
    """Embeddings as sentence encoders give them: one dimension of std ~1e-33,
    a spectrum over 7 decades, a large common offset."""
    rng = np.random.RandomState(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    X = (rng.normal(size=(n, d)) * np.logspace(0, -7, d)) @ basis + 0.3
    X[:, 7] = 1e-33 * rng.normal(size=n)
    Y = X @ rng.normal(size=(d, 8)) + 0.01 * rng.normal(size=(n, 8))
    return X, Y


@pytest.mark.parametrize("streamed", [False, True])
def test_affine_least_squares_reaches_lstsq_objective(streamed):
    # The normal equations squared the condition number: 1.3% above lstsq's
    # training error on such data.
    X, Y = _ill_conditioned_pairs()
    translator = LatentTranslator(method="affine", normalize=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnchorWarning)
        if streamed:
            for rows in np.array_split(np.arange(len(X)), 7):
                translator.partial_fit(X[rows], Y[rows])
        else:
            translator.fit(X, Y)
    design = np.c_[X, np.ones(len(X))]
    best = ((design @ np.linalg.lstsq(design, Y, rcond=None)[0] - Y) ** 2).sum()
    objective = ((translator.transform(X) - Y) ** 2).sum()
    assert abs(objective - best) <= 1e-9 * best


def test_l2_inverse_transform_returns_directions_at_the_mean_norm():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 5)) * rng.uniform(0.5, 4, size=(100, 1))
    Y = X @ np.linalg.qr(rng.normal(size=(5, 7)))[0].T[:5]
    translator = LatentTranslator(normalize="l2").fit(X, Y)
    back = translator.inverse_transform(translator.transform(X))
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(back, X / norms * norms.mean(), atol=1e-10)


@pytest.mark.parametrize(
    ("similarity", "dtype", "value"),
    [
        ("dot", np.float32, 1e20),
        ("euclidean", np.float32, 1e20),
        ("dot", np.float64, 1e200),
    ],
)
def test_overflowing_inputs_raise_before_any_work(similarity, dtype, value):
    X = np.random.RandomState(0).normal(size=(30, 8)).astype(dtype)
    rel = RelativeTransformer(n_anchors=4, similarity=similarity, random_state=0)
    rel.fit(X)
    out = np.full((30, 4), 7.0, dtype=dtype)
    with pytest.raises(ValueError, match=f"the '{similarity}' similarity overflows"):
        rel.transform(X * dtype(value), out=out)
    assert (out == 7).all()  # nothing written
    with pytest.raises(ValueError, match="Rescale the data"):
        RelativeTransformer(n_anchors=4, similarity=similarity).fit(X * dtype(value))


@pytest.mark.parametrize("value", [1e20, 1e-25])
def test_cosine_of_huge_and_tiny_float32_rows_is_finite_and_scale_free(value):
    X = np.random.RandomState(0).normal(size=(30, 8)).astype(np.float32)
    rel = RelativeTransformer(n_anchors=4, random_state=0).fit(X)
    expected = rel.transform(X)
    np.testing.assert_allclose(
        rel.transform(X * np.float32(value)), expected, atol=1e-6
    )


def _constant_tenth(X, A):
    return torch.full((X.shape[0], A.shape[0]), 0.1, dtype=X.dtype)


def test_layer_normalisation_follows_the_constant_rule():
    # A row of equal values has a variance of ~1e-34 after rounding its mean;
    # dividing by its root turned the row into +-1 noise.
    X = np.random.RandomState(0).normal(size=(10, 4))
    rel = RelativeTransformer(
        n_anchors=7, similarity=_constant_tenth, normalize="layer"
    )
    np.testing.assert_array_equal(rel.fit(X).transform(X), 0.0)


def test_pooled_block_variance_is_exact_far_from_the_origin():
    # E[x^2] - E[x]^2 cancelled for blocks whose mean is large next to their
    # spread (dot products of embeddings far from the origin).
    rng = np.random.RandomState(0)
    X = 1e4 + 1e-3 * rng.normal(size=(200, 10))
    rel = RelativeTransformer(
        n_anchors=6, similarity=["dot", "cosine"], aggregation="sum", random_state=0
    ).fit(X)
    dots = X @ rel.anchors_.T
    np.testing.assert_allclose(rel.block_mean_[0], dots.mean(), rtol=1e-12)
    np.testing.assert_allclose(rel.block_scale_[0], dots.std(), rtol=1e-6)


def test_statistics_are_accumulated_where_float64_exists():
    assert statistics_device(torch.device("mps")) == torch.device("cpu")
    assert statistics_device(torch.device("cpu")) == torch.device("cpu")
