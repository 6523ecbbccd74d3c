"""Property tests of LatentTranslator: which maps each method recovers exactly."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.stats import ortho_group

from sklatent import AnchorWarning, LatentTranslator

SETTINGS = settings(deadline=None, max_examples=25)
seeds = st.integers(0, 2**31 - 1)
dims = st.integers(1, 8)


def _source(seed, n, d):
    """Source embeddings with unequal feature scales and a mean offset."""
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.normal(
        scale=3, size=d
    )


def _orthonormal_rows(seed, d_x, d_y):
    """A (d_x, d_y) map with orthonormal rows (d_x <= d_y): an isometry."""
    Q = ortho_group.rvs(d_y, random_state=seed) if d_y > 1 else np.ones((1, 1))
    return Q[:d_x]


@SETTINGS
@given(seed=seeds, d_x=dims, extra=st.integers(0, 4), scaled=st.booleans())
def test_orthogonal_center_recovers_isometry_plus_translation(seed, d_x, extra, scaled):
    # Also rectangular: the source embedded isometrically in a wider target.
    rng = np.random.RandomState(seed)
    d_y = d_x + extra
    X = _source(seed, 3 * d_y + 5, d_x)
    Q = _orthonormal_rows(seed, d_x, d_y)
    s = rng.uniform(0.1, 10) if scaled else 1.0
    b = rng.normal(scale=5, size=d_y)
    translator = LatentTranslator(normalize="center", scale=scaled)
    translator.fit(X, s * X @ Q + b)
    assert_allclose(translator.coef_, s * Q, atol=1e-8 * s)
    assert translator.scaling_ == pytest.approx(s)
    X_new = _source(seed + 1, 10, d_x)
    assert_allclose(translator.transform(X_new), s * X_new @ Q + b, atol=1e-7 * s)


@SETTINGS
@given(seed=seeds, d_x=dims, d_y=dims, extra=st.integers(0, 5))
@pytest.mark.parametrize("normalize", ["standard", "center", None])
def test_affine_recovers_any_full_rank_affine_map(normalize, seed, d_x, d_y, extra):
    rng = np.random.RandomState(seed)
    X = _source(seed, d_x + 1 + extra, d_x)  # the fewest pairs that determine it
    A = rng.normal(size=(d_x, d_y))
    b = rng.normal(scale=3, size=d_y)
    translator = LatentTranslator(method="affine", normalize=normalize)
    translator.fit(X, X @ A + b)
    X_new = _source(seed + 1, 10, d_x)
    assert_allclose(translator.transform(X_new), X_new @ A + b, atol=1e-6, rtol=1e-6)


@SETTINGS
@given(seed=seeds, d_x=dims, d_y=dims, extra=st.integers(0, 5))
def test_linear_recovers_any_linear_map(seed, d_x, d_y, extra):
    rng = np.random.RandomState(seed)
    X = _source(seed, d_x + extra, d_x)
    A = rng.normal(size=(d_x, d_y))
    translator = LatentTranslator(method="linear", normalize=None).fit(X, X @ A)
    assert_allclose(translator.coef_, A, atol=1e-6, rtol=1e-6)


@SETTINGS
@given(seed=seeds, d=st.integers(1, 8), reflect=st.booleans(), noise=st.booleans())
def test_no_reflection_gives_a_rotation(seed, d, reflect, noise):
    rng = np.random.RandomState(seed)
    X = _source(seed, 4 * d + 4, d)
    Q = ortho_group.rvs(d, random_state=seed) if d > 1 else np.ones((1, 1))
    if reflect == (np.linalg.det(Q) > 0):
        Q[:, 0] = -Q[:, 0]
    Y = X @ Q + noise * rng.normal(size=X.shape)
    translator = LatentTranslator(normalize="center", allow_reflection=False)
    coef = translator.fit(X, Y).coef_
    assert np.linalg.det(coef) == pytest.approx(1.0)
    assert_allclose(coef @ coef.T, np.eye(d), atol=1e-10)
    if not reflect and not noise:
        assert_allclose(coef, Q, atol=1e-8)


@SETTINGS
@given(
    seed=seeds,
    d_x=dims,
    d_y=dims,
    scale=st.booleans(),
    normalize=st.sampled_from(["standard", "center", None]),
)
def test_orthogonal_inverse_transform_undoes_transform(
    seed, d_x, d_y, scale, normalize
):
    rng = np.random.RandomState(seed)
    X = _source(seed, 20, d_x)
    Y = _source(seed + 1, 20, d_y) + X @ rng.normal(size=(d_x, d_y))
    translator = LatentTranslator(normalize=normalize, scale=scale).fit(X, Y)
    X_new = _source(seed + 2, 7, d_x)
    Y_new = translator.transform(X_new)
    if d_x <= d_y:  # an isometric embedding: exactly invertible
        assert_allclose(translator.inverse_transform(Y_new), X_new, atol=1e-8)
    else:  # a projection: the inverse is a right inverse
        back = translator.transform(translator.inverse_transform(Y_new))
        assert_allclose(back, Y_new, atol=1e-8)


@SETTINGS
@given(
    seed=seeds,
    method=st.sampled_from(["orthogonal", "linear", "affine", "ridge"]),
    normalize=st.sampled_from(["standard", "center", "l2", None]),
    cuts=st.lists(st.integers(1, 59), max_size=6, unique=True),
)
def test_partial_fit_over_any_chunking_equals_fit(seed, method, normalize, cuts):
    rng = np.random.RandomState(seed)
    X = _source(seed, 60, 5)
    Y = X @ rng.normal(size=(5, 4)) + rng.normal(size=(60, 4))
    params = {"method": method, "normalize": normalize, "scale": True}
    whole = LatentTranslator(**params).fit(X, Y)
    streamed = LatentTranslator(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnchorWarning)  # early chunks are small
        for chunk in np.split(np.arange(60), sorted(cuts)):
            streamed.partial_fit(X[chunk], Y[chunk])
    assert_allclose(streamed.coef_, whole.coef_, atol=1e-8)
    assert_allclose(streamed.intercept_, whole.intercept_, atol=1e-8)
    assert_allclose(streamed.transform(X), whole.transform(X), atol=1e-8)


@SETTINGS
@given(seed=seeds, batch_size=st.integers(1, 40))
def test_batch_size_never_changes_the_translation(seed, batch_size):
    rng = np.random.RandomState(seed)
    X = _source(seed, 40, 6)
    Y = X @ rng.normal(size=(6, 3)) + rng.normal(size=(40, 3))
    whole = LatentTranslator(method="affine").fit(X, Y)
    batched = LatentTranslator(method="affine", batch_size=batch_size).fit(X, Y)
    assert_allclose(batched.transform(X), whole.transform(X), atol=1e-9)


@SETTINGS
@given(seed=seeds, d=st.integers(4, 8))
def test_orthogonal_cannot_fit_an_anisotropic_linear_map(seed, d):
    # The negative case: a strongly anisotropic map is out of reach of a
    # rotation, so the score is clearly below 1 while least squares fits it.
    X = _source(seed, 200, d)
    X -= X.mean(0)
    stretch = np.geomspace(1, 100, d)
    A = (
        ortho_group.rvs(d, random_state=seed)
        * stretch
        @ ortho_group.rvs(d, random_state=seed + 1)
    )
    Y = X @ A
    orthogonal = LatentTranslator(normalize="center").fit(X, Y)
    linear = LatentTranslator(method="linear", normalize="center").fit(X, Y)
    assert orthogonal.score(X, Y) < 0.9
    assert linear.score(X, Y) > 1 - 1e-9
