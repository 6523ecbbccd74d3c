"""Property tests: the invariances relative representations promise, and where
they stop (so that the tests cannot pass vacuously)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import ortho_group

from sklatent import RelativeTransformer

# Generated data may repeat rows; duplicate anchors only warn.
pytestmark = pytest.mark.filterwarnings("ignore::sklatent.AnchorWarning")

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def embeddings(draw, min_rows=4, max_rows=30, min_dim=2, max_dim=8):
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(min_dim, max_dim))
    elements = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
    X = draw(arrays(np.float64, (n, d), elements=elements))
    # Keep rows well away from zero so that cosine is well conditioned.
    assume((np.linalg.norm(X, axis=1) > 1e-2).all())
    return X


def _orthogonal(d, seed):
    return ortho_group.rvs(d, random_state=seed) if d > 1 else np.array([[-1.0]])


def _relative(X, anchors, **params):
    return RelativeTransformer(anchors=anchors, **params).fit(X).transform(X)


@SETTINGS
@given(embeddings(), st.integers(0, 2**31 - 1), st.floats(0.01, 100))
def test_cosine_invariant_to_orthogonal_maps_and_scaling(X, seed, scale):
    anchors = np.arange(min(4, len(X)))
    Q = _orthogonal(X.shape[1], seed)
    np.testing.assert_allclose(
        _relative(X, anchors), _relative(scale * X @ Q, anchors), atol=1e-9
    )


@SETTINGS
@given(embeddings(), st.integers(0, 2**31 - 1))
def test_centred_cosine_invariant_to_translation(X, seed):
    anchors = np.arange(min(4, len(X)))
    Xc = X - X[anchors].mean(axis=0)
    assume((np.linalg.norm(Xc, axis=1) > 1e-2).all())
    shift = np.random.RandomState(seed % 2**32).normal(scale=10, size=X.shape[1])
    Q = _orthogonal(X.shape[1], seed)
    np.testing.assert_allclose(
        _relative(X, anchors, center=True),
        _relative(X @ Q + shift, anchors, center=True),
        atol=1e-8,
    )


@SETTINGS
@given(embeddings(), st.integers(0, 2**31 - 1))
def test_euclidean_invariant_to_rigid_motions(X, seed):
    anchors = np.arange(min(5, len(X)))
    Q = _orthogonal(X.shape[1], seed)
    shift = np.random.RandomState(seed % 2**32).normal(scale=10, size=X.shape[1])
    np.testing.assert_allclose(
        _relative(X, anchors, similarity="euclidean"),
        _relative(X @ Q + shift, anchors, similarity="euclidean"),
        atol=1e-5,
    )


@SETTINGS
@given(embeddings(), st.integers(0, 2**31 - 1), st.sampled_from(["l1", "linf"]))
def test_l1_linf_invariant_to_permutations_flips_and_translations(X, seed, sim):
    rng = np.random.RandomState(seed % 2**32)
    d = X.shape[1]
    signed_permutation = np.eye(d)[rng.permutation(d)] * rng.choice([-1.0, 1.0], d)
    shift = rng.normal(scale=10, size=d)
    anchors = np.arange(min(5, len(X)))
    np.testing.assert_allclose(
        _relative(X, anchors, similarity=sim),
        _relative(X @ signed_permutation + shift, anchors, similarity=sim),
        atol=1e-9,
    )


@SETTINGS
@given(st.integers(0, 2**31 - 1))
def test_cosine_changes_under_anisotropic_linear_maps(seed):
    rng = np.random.RandomState(seed % 2**32)
    X = rng.normal(size=(20, 5))
    stretch = np.diag([10.0, 1.0, 1.0, 0.1, 1.0]) @ _orthogonal(5, seed)
    anchors = np.arange(5)
    difference = np.abs(_relative(X, anchors) - _relative(X @ stretch, anchors))
    assert difference.max() > 0.1


@SETTINGS
@given(st.integers(0, 2**31 - 1))
def test_l1_changes_under_rotations(seed):
    rng = np.random.RandomState(seed % 2**32)
    X = rng.normal(size=(20, 5))
    Q = _orthogonal(5, seed)
    anchors = np.arange(5)
    difference = np.abs(
        _relative(X, anchors, similarity="l1")
        - _relative(X @ Q, anchors, similarity="l1")
    )
    assert difference.max() > 1e-3


@SETTINGS
@given(embeddings(min_rows=6), st.integers(1, 6), st.integers(1, 40))
def test_top_k_leaves_exactly_k_non_zeros(X, top_k, batch_size):
    anchors = np.arange(6)
    R = (
        RelativeTransformer(anchors=anchors, top_k=top_k, batch_size=batch_size)
        .fit(X)
        .transform(X)
    )
    dense = _relative(X, anchors)
    assume((np.abs(dense) > 1e-12).all())
    assert ((R != 0).sum(axis=1) == top_k).all()


@SETTINGS
@given(
    embeddings(),
    st.integers(1, 50),
    st.sampled_from(["cosine", "dot", "euclidean", "l1", "linf"]),
)
def test_batch_size_never_changes_the_result(X, batch_size, similarity):
    anchors = np.arange(min(4, len(X)))
    params = dict(anchors=anchors, similarity=similarity, normalize="layer")
    np.testing.assert_allclose(
        RelativeTransformer(batch_size=batch_size, **params).fit(X).transform(X),
        RelativeTransformer(**params).fit(X).transform(X),
        rtol=1e-10,
        atol=1e-6,
    )
