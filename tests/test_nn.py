"""sklatent.nn.RelativeProjection: the relative projection as a torch module."""

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from sklatent import RelativeTransformer
from sklatent._kernels import SIMILARITIES
from sklatent.nn import RelativeProjection

pytestmark = pytest.mark.filterwarnings("ignore::sklatent.AnchorWarning")


def _hard_data(seed=0, n=120, d=10):
    """float64 rows far from the origin, anisotropic, a dead feature, a zero row."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * np.geomspace(10, 0.1, d) + 50
    X[:, 2] = 3.0
    X[-1] = 0
    return X


def _grad_inputs(seed=0):
    """Anchors, and rows equal to anchors, to their mean, and to zero."""
    A = torch.from_numpy(_hard_data(seed, n=12))[:-1]
    x = torch.cat([A[:3], A.mean(0, keepdim=True), torch.zeros(1, A.shape[1])])
    return x.clone().requires_grad_(), A.clone().requires_grad_()


CONFIGS = [
    {},
    {"center": True},
    {"similarity": "euclidean", "normalize": "l2"},
    {"similarity": "l1", "center": True, "normalize": "layer"},
    {"similarity": ["cosine", "linf"], "top_k": 5, "top_k_power": 3.0},
    {"similarity": ["cosine", "euclidean"], "aggregation": "mean", "center": True},
    {"similarity": ["dot", "l1"], "aggregation": "sum", "normalize": "standard"},
    {"normalize": "standard", "center": True, "top_k": 4},
]


@pytest.mark.parametrize("params", CONFIGS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_from_transformer_equals_transform(params, dtype, rtol):
    X = _hard_data().astype(dtype)
    rel = RelativeTransformer(n_anchors=15, random_state=0, **params).fit(X)
    project = RelativeProjection.from_transformer(rel)
    assert project.anchors.dtype == torch.from_numpy(X).dtype
    with torch.no_grad():
        result = project(torch.from_numpy(X)).numpy()
    expected = rel.transform(X)
    assert result.dtype == expected.dtype
    scale = np.abs(expected).max()
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * scale)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from(sorted(SIMILARITIES)),
    st.booleans(),
    st.sampled_from([None, "l2", "layer"]),
    st.sampled_from([None, 1, 3]),
)
def test_forward_equals_transformer_on_given_anchors(
    seed, similarity, center, normalize, top_k
):
    """forward(x, anchors) is RelativeTransformer(anchors=anchors).transform."""
    rng = np.random.RandomState(seed % 2**32)
    X = rng.normal(size=(20, 6)) * rng.uniform(0.1, 10, size=6) + rng.normal(size=6)
    anchors = X[rng.choice(20, size=5, replace=False)]
    params = {"similarity": similarity, "center": center, "normalize": normalize}
    params["top_k"] = top_k
    expected = RelativeTransformer(anchors=anchors, **params).fit(X).transform(X)
    result = RelativeProjection(**params)(
        torch.from_numpy(X), torch.from_numpy(anchors)
    )
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("similarity", sorted(SIMILARITIES))
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("normalize", [None, "l2", "layer"])
@pytest.mark.parametrize("top_k", [None, 3])
def test_gradients_are_finite_everywhere(similarity, center, normalize, top_k):
    x, A = _grad_inputs()
    project = RelativeProjection(
        similarity, center=center, normalize=normalize, top_k=top_k
    )
    R = project(x, A)
    weights = torch.from_numpy(np.random.RandomState(0).normal(size=tuple(R.shape)))
    gx, gA = torch.autograd.grad((R * weights).sum(), [x, A])
    assert torch.isfinite(gx).all() and torch.isfinite(gA).all()
    assert gA.abs().sum() > 0  # the anchors are trained too


def test_gradients_with_fitted_statistics():
    X = _hard_data()
    rel = RelativeTransformer(
        n_anchors=10,
        similarity=["cosine", "euclidean"],
        aggregation="sum",
        normalize="standard",
        random_state=0,
    ).fit(X)
    project = RelativeProjection.from_transformer(rel)
    x = torch.from_numpy(X[:8]).requires_grad_()
    (gx,) = torch.autograd.grad(project(x).square().sum(), [x])
    assert torch.isfinite(gx).all() and gx.abs().sum() > 0


def test_a_network_trains_through_the_layer():
    """An encoder learns to map inputs to the relative vectors of a target."""
    torch.manual_seed(0)
    X = torch.randn(64, 8, dtype=torch.float64)
    Y = X @ torch.randn(8, 4, dtype=torch.float64)
    target = RelativeProjection(center=True)(Y, Y[:6])
    encoder = torch.nn.Linear(8, 4).double()
    project = RelativeProjection(center=True)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=0.05)
    losses = []
    for _ in range(200):
        optimizer.zero_grad()
        Z = encoder(X)
        loss = (project(Z, Z[:6]) - target).square().mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


def test_state_dict_round_trip_and_dtype():
    X = _hard_data()
    params = {"n_anchors": 10, "normalize": "standard", "center": True}
    rel = RelativeTransformer(random_state=0, **params).fit(X)
    other = RelativeTransformer(random_state=1, **params).fit(X[::-1].copy())
    source = RelativeProjection.from_transformer(rel)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    loaded = RelativeProjection.from_transformer(other)
    loaded.load_state_dict(torch.load(buffer))
    x = torch.from_numpy(X)
    torch.testing.assert_close(loaded(x), source(x), rtol=0, atol=0)
    assert set(source.state_dict()) == {"anchors", "mean", "scale"}
    single = source.float()
    assert all(b.dtype == torch.float32 for b in single.buffers())
    np.testing.assert_allclose(
        single(x.float()).numpy(), rel.transform(X), rtol=1e-4, atol=1e-4
    )
    assert "anchors=(10, 10)" in repr(source) and "normalize='standard'" in repr(source)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"similarity": "angle"}, r"Unknown similarity 'angle'; use one of"),
        ({"similarity": []}, r"similarity is an empty list"),
        ({"aggregation": "max"}, "aggregation='max'; use 'concat', 'sum' or 'mean'"),
        ({"normalize": "l1"}, "normalize='l1'; use None, 'l2', 'standard' or 'layer'"),
        (
            {"normalize": "standard"},
            "normalize='standard' standardises each relative feature with statistics",
        ),
        (
            {"similarity": ["cosine", "l1"], "aggregation": "sum"},
            "aggregation='sum' standardises each similarity block",
        ),
    ],
)
def test_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RelativeProjection(**kwargs)


def test_forward_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"No anchors: pass forward\(x, anchors\)"):
        RelativeProjection()(x)
    with pytest.raises(ValueError, match="must be 2-D with the same number of"):
        RelativeProjection()(x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="top_k=6 keeps more entries than the 5"):
        RelativeProjection(top_k=6)(x, torch.ones(5, 4))
    with pytest.raises(NotFittedError):
        RelativeProjection.from_transformer(RelativeTransformer())


def test_importing_sklatent_does_not_import_nn():
    code = "import sys, sklatent; print('sklatent.nn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_module_moves_to_cuda():
    X = _hard_data()
    rel = RelativeTransformer(n_anchors=10, normalize="standard", random_state=0)
    project = RelativeProjection.from_transformer(rel.fit(X)).cuda()
    result = project(torch.from_numpy(X).cuda())
    assert result.device.type == "cuda"
    np.testing.assert_allclose(result.cpu().numpy(), rel.transform(X), atol=1e-9)


def test_options_are_declared_once_for_the_module_and_the_estimator():
    from sklatent import RelativeTransformer
    from sklatent._options import RELATIVE_OPTIONS

    for name, rule in RELATIVE_OPTIONS.items():
        assert RelativeTransformer._parameter_constraints[name] is rule
    with pytest.raises(ValueError, match=r"top_k_power=inf; use None or a finite"):
        RelativeProjection(top_k_power=float("inf"))
    with pytest.raises(ValueError, match=r"center='yes'; use True or False"):
        RelativeProjection(center="yes")
