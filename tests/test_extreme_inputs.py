"""Extreme and unusual inputs (issue 20, section 4): right answers or clear errors."""

import numpy as np
import pytest
import torch

from sklatent import LatentTranslator, RelativeTransformer, metrics
from sklatent.__main__ import main


@pytest.fixture
def pairs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    return X, X @ rng.standard_normal((6, 4))


SCALES = [
    (1e160, 1e160),
    (1e-300, 1e-300),
    (1e300, 1.0),
    (1.0, 1e-300),
    (1e-150, 1e140),
]
CONFIGURATIONS = [
    {"method": "orthogonal"},
    {"method": "orthogonal", "normalize": None},
    {"method": "orthogonal", "normalize": "center", "scale": True},
    {"method": "orthogonal", "normalize": "l2"},
    {"method": "linear", "normalize": None},
    {"method": "affine", "normalize": "center"},
    {"method": "ridge", "alpha": 0.5},
]


@pytest.mark.parametrize(("x_scale", "y_scale"), SCALES)
@pytest.mark.parametrize("params", CONFIGURATIONS, ids=str)
def test_translator_is_scale_equivariant_at_extreme_magnitudes(
    pairs, x_scale, y_scale, params
):
    """Fitted on (cX, dY), the translator maps cX as the unscaled fit maps X.

    No overflow, no map of zeros: d T(X) in general; for an isometry (an
    orthogonal map of the uncentred or centred spaces without scale), which
    cannot absorb the scales, mean(dY) + c (T(X) - mean(Y)).
    """
    X, Y = pairs
    reference = LatentTranslator(**params).fit(X, Y)
    fitted = LatentTranslator(**params).fit(X * x_scale, Y * y_scale)
    isometry = (
        params["method"] == "orthogonal"
        and params.get("normalize", "standard") in (None, "center")
        and not params.get("scale")
    )
    expected = reference.transform(X) * y_scale
    if isometry:
        y_mean = reference.y_mean_
        expected = y_mean * y_scale + x_scale * (reference.transform(X) - y_mean)
        np.testing.assert_allclose(fitted.coef_, reference.coef_, atol=1e-12)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(
        fitted.transform(X * x_scale) / scale, expected / scale, rtol=1e-9, atol=1e-9
    )
    if params["method"] == "orthogonal" and not isometry:
        np.testing.assert_allclose(
            fitted.inverse_transform(Y * y_scale) / x_scale,
            reference.inverse_transform(Y),
            rtol=1e-9,
            atol=1e-9,
        )


def test_translator_is_exactly_invariant_to_powers_of_two(pairs):
    X, Y = pairs
    reference = LatentTranslator(method="linear", normalize=None).fit(X, Y)
    for power in (300, -300, 900):
        fitted = LatentTranslator(method="linear", normalize=None)
        fitted.fit(X * 2.0**power, Y)
        np.testing.assert_array_equal(fitted.coef_ * 2.0**power, reference.coef_)


def test_ridge_penalty_keeps_its_meaning_at_extreme_magnitudes(pairs):
    """alpha on unstandardised X * 2**k is the problem of alpha / 4**k on X."""
    X, Y = pairs
    reference = LatentTranslator(method="ridge", alpha=0.5, normalize=None).fit(X, Y)
    fitted = LatentTranslator(method="ridge", alpha=0.5 * 2.0**600, normalize=None)
    fitted.fit(X * 2.0**300, Y)
    np.testing.assert_allclose(fitted.coef_ * 2.0**300, reference.coef_, rtol=1e-12)


def test_partial_fit_merges_batches_of_different_magnitudes(pairs):
    X, Y = pairs
    full = LatentTranslator(method="affine", normalize=None).fit(X, Y)
    streamed = LatentTranslator(method="affine", normalize=None)
    streamed.partial_fit(X[:60] * 1e-200, Y[:60] * 1e-200)
    streamed.partial_fit(X[60:] * 1e-200, Y[60:] * 1e-200)
    np.testing.assert_allclose(
        streamed.transform(X * 1e-200) * 1e200, full.transform(X), rtol=1e-9, atol=1e-9
    )


def test_translator_fit_in_range_scales_stays_accurate(pairs):
    X, Y = pairs
    reference = LatentTranslator().fit(X, Y).transform(X)
    for scale in (2.0**100, 2.0**-100):
        fitted = LatentTranslator().fit(X * scale, Y * scale)
        np.testing.assert_allclose(
            fitted.transform(X * scale) / scale, reference, rtol=1e-8, atol=1e-8
        )


def test_map_beyond_float64_is_a_clear_error(pairs):
    X, Y = pairs
    with pytest.raises(ValueError, match="overflows float64"):
        LatentTranslator(method="linear", normalize=None).fit(X * 1e-300, Y * 1e300)


def test_float32_map_beyond_float32_is_a_clear_error(pairs):
    X, Y = (Z.astype(np.float32) for Z in pairs)
    translator = LatentTranslator(method="linear", normalize=None)
    translator.fit(X * np.float32(1e30), Y * np.float32(1e-30))
    with pytest.raises(ValueError, match="outside the range of float32"):
        translator.transform(X * np.float32(1e30))


def test_float32_translation_overflow_is_a_clear_error(pairs):
    X, Y = (Z.astype(np.float32) for Z in pairs)
    translator = LatentTranslator().fit(X, Y)
    big = X / np.abs(X).max() * np.float32(3e38)
    with pytest.raises(ValueError, match="overflows above"):
        translator.transform(big)


@pytest.mark.parametrize(
    "metric",
    [
        metrics.linear_cka,
        metrics.rbf_cka,
        metrics.procrustes_similarity,
        metrics.jaccard_at_k,
        metrics.mutual_knn_alignment,
    ],
)
def test_metrics_on_subnormal_input_match_unit_scale(pairs, metric):
    X = pairs[0]
    Y = X + 0.3 * np.random.default_rng(1).standard_normal(X.shape)
    tiny = 2.0**-1030  # subnormal, and an exact power of two
    assert metric(X * tiny, Y * tiny) == pytest.approx(metric(X, Y), rel=1e-6)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_fit_accepts_tensors_that_require_grad(pairs, method):
    X, Y = (torch.tensor(Z) for Z in pairs)
    X.requires_grad_(True)
    fitted = getattr(LatentTranslator(), method)(X, Y)
    expected = LatentTranslator().fit(X.detach(), Y).coef_
    np.testing.assert_allclose(fitted.coef_, expected)
    assert X.grad is None


@pytest.mark.parametrize(
    "estimator",
    [LatentTranslator(device="meta"), RelativeTransformer(n_anchors=10, device="meta")],
)
def test_meta_device_is_a_clear_error(pairs, estimator):
    X, Y = pairs
    with pytest.raises(ValueError, match="'meta' device"):
        estimator.fit(X, Y)


def test_meta_input_tensor_is_a_clear_error():
    X = torch.empty((20, 3), device="meta")
    with pytest.raises(ValueError, match="'meta' device"):
        RelativeTransformer(n_anchors=5).fit(X)


def test_cli_meta_device_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["demo", "--device", "meta"])
    assert excinfo.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "'meta' device" in lines[0]


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True])
def test_relative_projection_rejects_bad_top_k(top_k):
    from sklatent.nn import RelativeProjection

    with pytest.raises(ValueError, match="top_k="):
        RelativeProjection(top_k=top_k)


@pytest.mark.parametrize(
    ("similarity", "x_dtype", "a_dtype", "match"),
    [
        ("cosine", torch.int64, torch.int64, "floating-point"),
        ("cosine", torch.float32, torch.float64, "one dtype"),
        ("l1", torch.float16, torch.float16, "no torch.float16 kernel"),
        ("linf", torch.bfloat16, torch.bfloat16, "no torch.bfloat16 kernel"),
    ],
)
def test_relative_projection_dtype_errors_name_the_problem(
    similarity, x_dtype, a_dtype, match
):
    from sklatent.nn import RelativeProjection

    x = torch.arange(12).reshape(4, 3)
    with pytest.raises(TypeError, match=match):
        RelativeProjection(similarity)(x.to(x_dtype), x.to(a_dtype))


@pytest.mark.parametrize("where", ["x", "anchors"])
def test_relative_projection_rejects_nan(where):
    from sklatent.nn import RelativeProjection

    x, anchors = torch.randn(4, 3), torch.randn(5, 3)
    bad = {"x": x, "anchors": anchors}
    bad[where] = bad[where].clone()
    bad[where][1, 2] = float("nan")
    with pytest.raises(ValueError, match=f"Input {where} contains NaN"):
        RelativeProjection()(bad["x"], bad["anchors"])


def test_relative_projection_half_cosine_still_runs():
    from sklatent.nn import RelativeProjection

    x = torch.randn(4, 3)
    out = RelativeProjection()(x.half(), x.half())
    assert out.dtype == torch.float16 and bool(torch.isfinite(out).all())


def test_float16_numpy_inverse_transform_is_float32_like_transform():
    X = np.random.default_rng(0).standard_normal((80, 6)).astype(np.float16)
    transformer = RelativeTransformer(n_anchors=20, random_state=0).fit(X)
    R = transformer.transform(X)
    assert R.dtype == np.float32
    assert transformer.inverse_transform(R.astype(np.float16)).dtype == np.float32


def test_custom_similarity_returning_nan_is_a_clear_error():
    X = np.random.default_rng(0).standard_normal((40, 4))

    def broken(x, a):
        return torch.log(x @ a.T)  # NaN wherever the dot product is negative

    transformer = RelativeTransformer(similarity=broken, n_anchors=10, random_state=0)
    with pytest.raises(ValueError, match="'broken' returned NaN"):
        transformer.fit_transform(X)


def test_match_spaces_accepts_bfloat16_tensors():
    from sklatent.matching import match_spaces

    X = torch.randn(60, 4, generator=torch.Generator().manual_seed(0))
    X = X.bfloat16()
    expected = match_spaces(X.float(), X.float(), random_state=0)
    result = match_spaces(X, X, random_state=0)
    np.testing.assert_array_equal(result.x_indices, expected.x_indices)
    np.testing.assert_array_equal(result.y_indices, expected.y_indices)


@pytest.mark.parametrize(
    ("x_scale", "y_scale"),
    [(1e300, 1.0), (1e160, 1.0), (1e-300, 1e-300), (1.0, 1e-300)],
)
def test_class_report_names_the_class_at_extreme_magnitudes(pairs, x_scale, y_scale):
    """The report of (cX, dY) is that of (X, Y): the same class and scores."""
    from sklatent.diagnostics import transformation_class_report

    X, Y = pairs
    reference = transformation_class_report(X, Y, random_state=0)
    report = transformation_class_report(X * x_scale, Y * y_scale, random_state=0)
    assert reference.explained_by == "linear"
    assert report.explained_by == "linear"
    for fit, expected in zip(report.fits, reference.fits, strict=True):
        if fit.name == "isometry":  # the scales are part of an isometry
            continue
        assert fit.r2 == pytest.approx(expected.r2, abs=1e-9)
        assert fit.mrr == pytest.approx(expected.mrr, abs=1e-9)


def test_power_of_two_scaling_is_exact_from_subnormal_to_huge():
    from sklatent._kernels import binary_exponent, exponent_of, scale_exactly

    assert exponent_of(3.0) == 0 and exponent_of(0.0) == 0
    assert exponent_of(3.0, ordinary=None) == 2  # 3 = 0.75 * 2**2
    assert exponent_of(1e300) == np.frexp(1e300)[1]
    z = torch.tensor(
        [[2.0**-1070, -(2.0**-1060)], [0.0, 3 * 2.0**-1065]], dtype=torch.float64
    )
    power = binary_exponent(z)
    assert power == -1059  # the largest, 2**-1060, becomes 0.5
    scaled = scale_exactly(z, -power)
    assert scaled.abs().max() == 0.5
    np.testing.assert_array_equal(scale_exactly(scaled, power).numpy(), z.numpy())
    assert binary_exponent(torch.randn(10, 3)) == 0  # ordinary data is left alone


@pytest.mark.parametrize("method", ["orthogonal", "affine"])
def test_float32_pairs_far_from_the_origin_at_extreme_magnitude(method):
    """float32, anisotropic, offset, one dead dimension, scaled beyond 2**64.

    The fit on (cX, cY) maps cX to c times what a float64 fit on (X, Y) gives,
    to float32 resolution; the dead dimension is translated to its mean.
    """
    rng = np.random.default_rng(3)
    n, d = 400, 8
    X = rng.standard_normal((n, d)) * np.geomspace(1e-2, 10, d) + 100.0
    X[:, 3] = 5.0 + 1e-30 * rng.standard_normal(n)  # dead
    Y = X @ rng.standard_normal((d, d)) + 50.0
    reference = LatentTranslator(method=method).fit(X, Y).transform(X)
    scale = np.float32(2.0**80)
    X32, Y32 = (Z.astype(np.float32) * scale for Z in (X, Y))
    translated = LatentTranslator(method=method).fit(X32, Y32).transform(X32)
    assert translated.dtype == np.float32
    error = np.abs(translated.astype(np.float64) / 2.0**80 - reference).max()
    assert error <= 1e-4 * np.abs(reference).max()
