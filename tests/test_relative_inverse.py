"""RelativeTransformer.inverse_transform: the inverse relative projection."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import ortho_group
from sklearn.exceptions import NotFittedError

from sklatent import RelativeTransformer
from sklatent._kernels.inverse import anchor_pseudo_inverse

pytestmark = pytest.mark.filterwarnings("ignore::sklatent.AnchorWarning")


def _unit(V):
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def _hard_data(seed=0, n=400, d=16):
    """Far from the origin, anisotropic, with a dead feature (float64)."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * np.r_[np.full(d // 2, 10.0), np.full(d // 2, 0.1)]
    X += 100
    X[:, 3] = 5
    return X, ortho_group.rvs(d, random_state=seed)


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize(
    "params",
    [{}, {"normalize": "l2"}, {"normalize": "standard"}, {"top_k_power": 3.0}],
)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 2e-3)])
def test_recovers_an_angle_preserving_map(center, params, dtype, tol):
    """B's space is 3 X Q (+ 7 when centring): A's relative vectors give B's rows.

    Every anchor is a row of X, so rows equal to anchors are covered; float32
    results are held to the float64 truth.
    """
    X, Q = _hard_data()
    Y = 3 * X @ Q + (7 if center else 0)
    rel_a = RelativeTransformer(
        n_anchors=40, center=center, random_state=0, **params
    ).fit(X.astype(dtype))
    rel_b = RelativeTransformer(anchors=rel_a.anchor_indices_, center=center, **params)
    rel_b.fit(Y.astype(dtype))
    X_b = rel_b.inverse_transform(rel_a.transform(X.astype(dtype)))
    assert X_b.dtype == dtype
    offset = rel_b.center_ if center else 0
    truth = Y - (Y[rel_a.anchor_indices_].mean(axis=0) if center else 0)
    np.testing.assert_allclose(_unit(X_b - offset), _unit(truth), atol=tol)
    np.testing.assert_allclose(
        np.linalg.norm(X_b - offset, axis=1), rel_b.mean_norm_, rtol=tol
    )


@pytest.mark.parametrize("center", [False, True])
def test_mean_norm_is_the_mean_norm_of_the_fitting_rows(center):
    X, _ = _hard_data()
    reference = X - X[:50].mean(axis=0) if center else X
    expected = np.linalg.norm(reference, axis=1).mean()
    for dtype, rtol in [(np.float64, 1e-12), (np.float32, 1e-6)]:
        for batch_size in (None, 7):
            rel = RelativeTransformer(
                anchors=np.arange(50), center=center, batch_size=batch_size
            ).fit(X.astype(dtype))
            np.testing.assert_allclose(rel.mean_norm_, expected, rtol=rtol)


def test_fewer_anchors_than_dimensions_give_the_minimum_norm_direction():
    """With k < d the direction is x's projection on the span of the anchors."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 12))
    rel = RelativeTransformer(anchors=np.arange(5)).fit(X)
    X_back = rel.inverse_transform(rel.transform(X))
    basis, _ = np.linalg.qr(X[:5].T)
    projected = X @ basis @ basis.T
    np.testing.assert_allclose(_unit(X_back), _unit(projected), atol=1e-10)


def test_zero_relative_vector_maps_to_the_centre():
    X, _ = _hard_data()
    for center in (False, True):
        rel = RelativeTransformer(n_anchors=30, center=center, random_state=0).fit(X)
        back = rel.inverse_transform(np.zeros((2, 30)))
        expected = rel.center_ if center else 0
        np.testing.assert_allclose(back, np.broadcast_to(expected, (2, 16)))


def test_tensors_out_and_batches():
    X, _ = _hard_data()
    rel = RelativeTransformer(n_anchors=30, center=True, random_state=0).fit(X)
    R = rel.transform(X)
    expected = rel.inverse_transform(R)
    small = RelativeTransformer(
        n_anchors=30, center=True, random_state=0, batch_size=13
    ).fit(X)
    np.testing.assert_allclose(small.inverse_transform(R), expected, rtol=1e-12)
    tensor = rel.inverse_transform(torch.from_numpy(R).float())
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=1e-3, atol=1e-3)
    out = np.empty_like(X)
    assert rel.inverse_transform(R, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_pseudo_inverse_runs_in_the_anchors_precision():
    """A dead feature rotated in float32 is noise, not a direction to amplify."""
    X, Q = _hard_data()
    A = torch.from_numpy((X[:40] @ Q).astype(np.float32))
    pinv = anchor_pseudo_inverse(A, center=A.mean(0))
    assert pinv.dtype == torch.float32
    assert torch.linalg.matrix_rank(pinv.double(), rtol=1e-5) == 15


@pytest.mark.parametrize(
    "params, lost",
    [
        ({"similarity": "euclidean"}, "similarity='euclidean'"),
        ({"similarity": ["cosine", "l1"]}, r"similarity=\['cosine', 'l1'\]"),
        ({"top_k": 3}, "top_k=3"),
        ({"normalize": "layer"}, "normalize='layer'"),
    ],
)
def test_lossy_settings_cannot_be_inverted(params, lost):
    X, _ = _hard_data()
    rel = RelativeTransformer(n_anchors=10, random_state=0, **params).fit(X)
    message = f"inverts cosine relative vectors only, but this transformer has {lost}"
    with pytest.raises(ValueError, match=message):
        rel.inverse_transform(rel.transform(X))


def test_width_must_match_the_anchors():
    X, _ = _hard_data()
    rel = RelativeTransformer(n_anchors=10, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 9 columns, but this transformer's"):
        rel.inverse_transform(np.zeros((3, 9)))
    with pytest.raises(NotFittedError):
        RelativeTransformer().inverse_transform(np.zeros((3, 9)))


@st.composite
def _spaces(draw):
    d = draw(st.integers(2, 6))
    n = draw(st.integers(d + 1, 20))
    elements = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
    X = draw(arrays(np.float64, (n, d), elements=elements))
    assume((np.linalg.norm(X, axis=1) > 1e-1).all())
    # The anchors (all rows) must span the space, well conditioned.
    assume(np.linalg.cond(_unit(X)) < 1e4)
    return X


@settings(max_examples=25, deadline=None)
@given(_spaces(), st.integers(0, 2**31 - 1), st.floats(0.01, 100))
def test_inverse_recovers_orthogonal_maps(X, seed, scale):
    """k >= d anchors: the inverse gives X Q's directions at length mean_norm_."""
    d = X.shape[1]
    Q = ortho_group.rvs(d, random_state=seed)
    anchors = np.arange(len(X))
    R = RelativeTransformer(anchors=anchors).fit(X).transform(X)
    rel_b = RelativeTransformer(anchors=anchors).fit(scale * X @ Q)
    X_b = rel_b.inverse_transform(R)
    np.testing.assert_allclose(_unit(X_b), _unit(X @ Q), atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(X_b, axis=1), rel_b.mean_norm_)
    expected = scale * np.linalg.norm(X, axis=1).mean()
    np.testing.assert_allclose(rel_b.mean_norm_, expected, rtol=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0])
def test_ridge_matches_the_normal_equations(alpha):
    """alpha: ridge penalty relative to the anchors. top squared singular value."""
    X, _ = _hard_data()
    rel = RelativeTransformer(n_anchors=30, center=True, random_state=0).fit(X)
    R = np.random.RandomState(3).normal(size=(20, 30))
    unit = _unit(rel.anchors_ - rel.center_)
    penalty = alpha * np.linalg.norm(unit, ord=2) ** 2
    if alpha:
        gram = unit.T @ unit + penalty * np.eye(16)
        Z = np.linalg.solve(gram, unit.T @ R.T).T
    else:
        Z = R @ np.linalg.pinv(unit).T
    expected = _unit(Z) * rel.mean_norm_ + rel.center_
    np.testing.assert_allclose(rel.inverse_transform(R, alpha=alpha), expected)


def test_ridge_damps_noise_from_another_space():
    """Noisy relative vectors, ill-conditioned anchors: alpha brings rows closer."""
    X, _ = _hard_data(n=600)
    rel = RelativeTransformer(n_anchors=60, center=True, random_state=0).fit(X)
    R = rel.transform(X)
    noisy = R + 0.05 * np.random.RandomState(0).normal(size=R.shape)
    truth = _unit(X - rel.center_)

    def cosine(alpha):
        back = rel.inverse_transform(noisy, alpha=alpha) - rel.center_
        return np.mean(np.sum(_unit(back) * truth, axis=1))

    assert cosine(0.01) > cosine(0.0) + 0.1


@pytest.mark.parametrize("alpha", [-0.1, "0.1", None, float("inf"), float("nan")])
def test_alpha_must_be_a_finite_non_negative_number(alpha):
    X, _ = _hard_data()
    rel = RelativeTransformer(n_anchors=10, random_state=0).fit(X)
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        rel.inverse_transform(rel.transform(X), alpha=alpha)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    X, _ = _hard_data()
    rel = RelativeTransformer(n_anchors=30, center=True, random_state=0).fit(X)
    R = rel.transform(X)
    expected = rel.inverse_transform(R, alpha=0.01)
    on_gpu = rel.set_params(device="cuda").inverse_transform(
        torch.from_numpy(R).cuda(), alpha=0.01
    )
    assert on_gpu.device.type == "cuda"
    np.testing.assert_allclose(on_gpu.cpu().numpy(), expected, rtol=1e-9, atol=1e-9)
