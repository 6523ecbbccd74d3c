"""Per-region bridges: RegionalTranslator and MigrationBridge(method="regional")."""

import numpy as np
import pytest

from sklatent import LatentTranslator
from sklatent.migration import (
    MigrationBridge,
    RegionalTranslator,
    export_faiss,
    gcv_alpha,
    load_bridge,
    save_bridge,
)
from sklatent.migration._regions import PAIRS_PER_COEFFICIENT, region_count

pytestmark = pytest.mark.timeout(120)


def _piecewise(n, seed=0, d_old=6, d_new=5):
    """Two far-apart clusters of the old space, each mapped by its own linear map."""
    rng = np.random.default_rng(seed)
    side = rng.integers(2, size=n)
    old = rng.normal(size=(n, d_old)) + 12.0 * side[:, None] + 300.0
    maps = np.random.default_rng(7).normal(size=(2, d_old, d_new))
    centred = old - old.mean(axis=0)
    new = np.einsum("ij,ijk->ik", centred, maps[side]) - 40.0
    return old.astype(np.float32), new.astype(np.float32), side


def test_regions_recover_a_map_that_differs_between_regions():
    old, new, _ = _piecewise(2000)
    test_old, test_new, _ = _piecewise(500, seed=1)
    regional = RegionalTranslator(n_regions=2, random_state=0).fit(old, new)
    ridge = LatentTranslator(method="ridge", alpha=gcv_alpha(old, new)).fit(old, new)
    regional_error = np.abs(regional.transform(test_old) - test_new).mean()
    ridge_error = np.abs(ridge.transform(test_old) - test_new).mean()
    assert regional.n_regions_ == regional.own_maps_ == 2
    assert regional_error < 0.2 * ridge_error


def test_the_blend_is_a_soft_assignment_to_the_nearest_region():
    old, new, side = _piecewise(1000)
    regional = RegionalTranslator(n_regions=2, random_state=0).fit(old, new)
    weights = regional.region_weights(old)
    assert weights.shape == (1000, 2) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    nearest = weights.argmax(axis=1)
    # the regions are the two clusters, in some order
    assert len(set(zip(nearest, side, strict=True))) == 2
    # a point midway between the centres takes half of each map
    middle = regional.mean_ + regional.scale_ * regional.centres_.mean(axis=0)
    np.testing.assert_allclose(regional.region_weights(middle[None]), 0.5, atol=1e-6)
    halves = [m.transform(middle[None]) for m in regional.maps_]
    np.testing.assert_allclose(
        regional.transform(middle[None]), np.mean(halves, axis=0), rtol=1e-6
    )


def test_too_few_pairs_for_two_regions_give_the_global_ridge_map():
    old, new, _ = _piecewise(20)
    assert region_count(20, 6, 16) < 2
    regional = RegionalTranslator(random_state=0).fit(old, new)
    ridge = LatentTranslator(method="ridge", alpha=gcv_alpha(old, new)).fit(old, new)
    assert regional.n_regions_ == 1 and regional.own_maps_ == 0
    np.testing.assert_allclose(
        regional.transform(old), ridge.transform(old), rtol=1e-5, atol=1e-5
    )


def test_a_small_region_keeps_the_global_map():
    old, new, side = _piecewise(2000)
    # the second cluster gets one pair fewer than its own map needs
    least = PAIRS_PER_COEFFICIENT * (old.shape[1] + 1)
    keep = np.r_[np.flatnonzero(side == 0), np.flatnonzero(side == 1)[: least - 1]]
    regional = RegionalTranslator(n_regions=2, random_state=0).fit(old[keep], new[keep])
    assert regional.n_regions_ == 2 and regional.own_maps_ == 1
    assert sum(m is regional.global_ for m in regional.maps_) == 1


def test_float32_far_from_the_origin_matches_float64():
    old, new, _ = _piecewise(1500)
    # and a dead dimension, constant far from the origin
    old = np.hstack([old, np.full((len(old), 1), 300.0, np.float32)])
    single = RegionalTranslator(n_regions=2, random_state=0).fit(old, new)
    double = RegionalTranslator(n_regions=2, random_state=0).fit(
        old.astype(np.float64), new.astype(np.float64)
    )
    out = single.transform(old)
    assert out.dtype == np.float32
    reference = double.transform(old.astype(np.float64))
    scale = np.abs(reference).max()
    assert np.abs(out - reference).max() <= 1e-4 * scale


def test_auto_chooses_regions_when_they_win_and_skips_them_when_too_few_pairs():
    old, new, _ = _piecewise(1200)
    bridge = MigrationBridge(random_state=0).fit(old, new)
    assert bridge.method_ == "regional"
    assert bridge.cv_scores_["regional"] > bridge.cv_scores_["ridge"]
    # three folds of 40 pairs train on about 27: no two regions of 14 pairs
    few = MigrationBridge(random_state=0).fit(old[:40], new[:40])
    assert "regional" not in few.cv_scores_


def test_a_regional_bridge_is_not_affine_and_refuses_a_faiss_export(tmp_path):
    pytest.importorskip("faiss")
    old, new, _ = _piecewise(800)
    bridge = MigrationBridge("regional", random_state=0).fit(old, new)
    assert not bridge.is_linear
    with pytest.raises(ValueError, match="regional bridge's map is not affine"):
        export_faiss(bridge, tmp_path / "bridge.faiss")
    assert not (tmp_path / "bridge.faiss").exists()


def test_a_regional_bridge_round_trips_through_skops(tmp_path):
    pytest.importorskip("skops")
    old, new, _ = _piecewise(800)
    bridge = MigrationBridge("regional", random_state=0).fit(old, new)
    save_bridge(bridge, tmp_path / "bridge.skops")
    loaded = load_bridge(tmp_path / "bridge.skops")
    np.testing.assert_array_equal(loaded.transform(old), bridge.transform(old))


def test_bad_parameters_are_refused_in_one_line():
    old, new, _ = _piecewise(100)
    with pytest.raises(ValueError, match="'temperature' parameter"):
        RegionalTranslator(temperature=0).fit(old, new)
    with pytest.raises(ValueError, match="'n_regions' parameter"):
        RegionalTranslator(n_regions=0).fit(old, new)
