"""Scores that keep their meaning: the bridge's calibration of bridged cosines."""

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from sklatent.__main__ import main
from sklatent.migration import (
    MigrationBridge,
    fit_bridge,
    load_bridge,
    measure_bridge,
    save_bridge,
    score_agreement,
)
from sklatent.migration._fitting import fit_calibration
from sklatent.migration._retention import make_search

from ._migration_data import spaces


@pytest.fixture(scope="module")
def fitted():
    old, new = spaces(700)
    # query side: translated queries meet the old store, whose cosines
    # (vectors far from the origin) are all near 1: a threshold of the new
    # model's scale says "similar" to every pair
    bridge, report = fit_bridge(
        old[:600], new[:600], method="affine", direction="new-to-old"
    )
    return old, new, bridge, report


def test_calibration_brings_the_bridged_scores_to_the_new_scale(fitted):
    _, _, _, report = fitted
    c = report["calibration"]
    assert c["quantile"] == 0.9 and c["n_score_pairs"] == 120 * 119
    assert c["agreement_before"] < 0.2  # every bridged cosine above the threshold
    assert c["agreement_after"] >= c["agreement_constant"] >= 0.9
    assert c["mean_cosine_bridged"] > 0.9
    assert c["mean_cosine_calibrated"] == pytest.approx(c["mean_cosine_new"], abs=0.01)
    assert set(c["by_quantile"]) == {"0.5", "0.9", "0.99"}
    median = c["by_quantile"]["0.5"]
    assert median["before"] == 0.5 and median["after"] > 0.6


def test_calibrate_scores_is_the_isotonic_regression_clipped(fitted):
    old, new, bridge, _ = fitted
    search = make_search(bridge, old[600:], new[600:])
    knots, _ = fit_calibration(search, np.random.default_rng(0))
    calibrated = MigrationBridge("affine").fit(old[:600], new[:600])
    calibrated.score_calibration_ = knots

    def cosines(A, B):
        A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
        A = A / np.linalg.norm(A, axis=1, keepdims=True)
        return A @ (B / np.linalg.norm(B, axis=1, keepdims=True)).T

    # the same pairs (a query never with itself), fitted by scikit-learn
    keep = ~np.eye(100, dtype=bool)
    iso = IsotonicRegression(out_of_bounds="clip").fit(
        cosines(search.queries, search.store)[keep],
        cosines(search.ref_queries, search.ref_store)[keep],
    )
    scores = np.concatenate([np.linspace(-1.0, 1.0, 101), [-2.0, 2.0]])
    np.testing.assert_allclose(
        calibrated.calibrate_scores(scores), iso.predict(scores), atol=1e-12
    )
    assert calibrated.calibrate_scores(np.ones((2, 3))).shape == (2, 3)


def test_score_agreement_by_hand():
    new = np.arange(10) / 10.0  # the 0.9 quantile is 0.81: one pair similar
    bridged = new / 4.0  # never reaches it, nor the median 0.45
    block = score_agreement(bridged, new, new)
    assert block["threshold"] == pytest.approx(0.81)
    assert block["agreement_before"] == 0.9  # all but the similar pair agree
    assert block["agreement_after"] == 1.0
    assert block["agreement_constant"] == 0.9
    assert block["by_quantile"]["0.5"]["before"] == 0.5
    assert block["by_quantile"]["0.5"]["constant"] == 0.5
    assert block["mean_cosine_bridged"] == pytest.approx(0.1125)


def test_the_calibration_travels_and_report_measures_it(fitted, tmp_path):
    old, new, bridge, _ = fitted
    save_bridge(bridge, tmp_path / "b.skops")
    loaded = load_bridge(tmp_path / "b.skops")
    cosines = np.linspace(-1, 1, 7)
    np.testing.assert_array_equal(
        loaded.calibrate_scores(cosines), bridge.calibrate_scores(cosines)
    )
    measured = measure_bridge(bridge, old[600:], new[600:])["calibration"]
    assert measured["agreement_after"] >= 0.9 > measured["agreement_before"]
    plain = MigrationBridge("affine", direction="new-to-old").fit(old, new)
    assert measure_bridge(plain, old[600:], new[600:])["calibration"] is None


def test_calibrate_scores_errors(fitted):
    old, new, bridge, _ = fitted
    plain = MigrationBridge("affine").fit(old, new)
    with pytest.raises(ValueError, match="no score calibration .* fit_bridge"):
        plain.calibrate_scores([0.5])
    del plain.score_calibration_  # a bridge saved before bridges kept one
    with pytest.raises(ValueError, match="saved before .* refit it"):
        plain.calibrate_scores([0.5])


def test_cli_fit_reports_the_agreement(tmp_path, capsys):
    old, new = spaces(600)
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.npy"), "--new",
                 str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops"),
                 "--method", "affine", "--direction", "new-to-old", "--report",
                 str(tmp_path / "R.json")]) == 0  # fmt: skip
    report = json.loads((tmp_path / "R.json").read_text())
    assert report["calibration"]["agreement_after"] >= 0.9
    assert "scores: agreement at the new model's 90% quantile" in (
        capsys.readouterr().err
    )
