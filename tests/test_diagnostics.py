"""transformation_class_report: known relations are named by the right class."""

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge
from sklearn.neural_network import MLPRegressor

from sklatent import LatentTranslator
from sklatent.diagnostics import (
    CLASSES,
    ClassFit,
    TransformationClassReport,
    transformation_class_report,
)


def orthogonal(rng, d_x, d_y=None):
    d_y = d_x if d_y is None else d_y
    Q, R = np.linalg.qr(rng.normal(size=(max(d_x, d_y), max(d_x, d_y))))
    return (Q * np.sign(np.diag(R)))[:d_x, :d_y]


@pytest.fixture
def rng():
    return np.random.RandomState(0)


def test_orthogonal_pair_is_an_isometry(rng):
    X = rng.normal(size=(120, 5))
    for translation, Y in [
        (False, X @ orthogonal(rng, 5)),
        (True, X @ orthogonal(rng, 5) + 4),
    ]:
        report = transformation_class_report(
            X, Y, translation=translation, nonlinear=None, random_state=0
        )
        assert report.explained_by == "isometry"
        assert report["isometry"].r2 == pytest.approx(1.0, abs=1e-9)
        assert report["isometry"].mean_cosine == pytest.approx(1.0, abs=1e-9)
        assert report["isometry"].mrr == 1.0


def test_noisy_orthogonal_pair_is_still_an_isometry(rng):
    X = rng.normal(size=(150, 5))
    Y = X @ orthogonal(rng, 5) + 0.05 * rng.normal(size=(150, 5))
    report = transformation_class_report(X, Y, random_state=0)
    assert report.explained_by == "isometry"
    assert report["isometry"].r2 > 0.99


def test_similarity_pair(rng):
    X = rng.normal(size=(120, 5))
    report = transformation_class_report(
        X, 2 * X @ orthogonal(rng, 5) - 1, nonlinear=None, random_state=0
    )
    assert report.explained_by == "similarity"
    assert report["similarity"].r2 == pytest.approx(1.0, abs=1e-9)
    # A rigid motion misses the scale: R^2 = 1 - (1 - 1/2)^2 / 1 = 0.75.
    assert report["isometry"].r2 == pytest.approx(0.75, abs=0.02)


def test_exactly_affine_pair_is_affine(rng):
    X = rng.normal(size=(150, 5))
    # Singular values 1 to 5: far from a scaled rotation.
    A = orthogonal(rng, 5) * np.arange(1.0, 6.0) @ orthogonal(rng, 5, 7)
    report = transformation_class_report(X, X @ A + 3.0, random_state=0)
    assert report.explained_by == "affine"
    assert report["affine"].r2 == pytest.approx(1.0, abs=1e-9)
    assert report["affine"].mrr == 1.0
    assert report["linear"].r2 < 0.9  # no intercept: misses the shift
    assert report["similarity"].r2 < 0.9  # angles are not preserved


def test_linear_pair_through_origin_is_linear(rng):
    X = rng.normal(size=(120, 5))
    report = transformation_class_report(
        X, X @ rng.normal(size=(5, 5)), nonlinear=None, random_state=0
    )
    assert report.explained_by == "linear"


def test_without_translation_the_classes_are_a_chain(rng):
    X = rng.normal(size=(120, 4))
    Y = X @ orthogonal(rng, 4) + 2
    report = transformation_class_report(
        X, Y, translation=False, nonlinear=None, random_state=0
    )
    assert report.explained_by == "affine"
    assert report["isometry"].formula == "y = x Q"
    assert report["isometry"].n_parameters == 6  # 4*4 - 4*5/2


def test_nonlinear_relation_needs_the_nonlinear_reference(rng):
    X = rng.normal(size=(200, 3))
    Y = np.tanh(2 * X @ rng.normal(size=(3, 3)))
    report = transformation_class_report(X, Y, random_state=0)
    assert report.explained_by == "nonlinear"
    assert report["nonlinear"].r2 > report["affine"].r2 + 0.05


def test_parameter_counts_for_different_dimensions(rng):
    X = rng.normal(size=(100, 6))
    Y = X @ orthogonal(rng, 6, 10) + 1
    report = transformation_class_report(X, Y, random_state=0)
    counts = {fit.name: fit.n_parameters for fit in report.fits}
    # Stiefel manifold of 6 orthonormal columns in R^10: 60 - 21, plus b.
    assert counts["isometry"] == 39 + 10
    assert counts["similarity"] == 40 + 10
    assert counts["linear"] == 60
    assert counts["affine"] == 70
    assert counts["nonlinear"] == 70 + report.n_train * 10
    assert report.explained_by == "isometry"


def test_user_supplied_nonlinear_estimator(rng):
    X = rng.normal(size=(80, 3))
    Y = X @ orthogonal(rng, 3)
    mlp = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    with pytest.warns(Warning):  # the short training does not converge
        report = transformation_class_report(X, Y, nonlinear=mlp, random_state=0)
    assert report["nonlinear"].formula == "MLPRegressor"
    assert report["nonlinear"].n_parameters == 3 * 8 + 8 + 8 * 3 + 3
    assert report.models["nonlinear"] is not mlp  # cloned
    ridge = transformation_class_report(
        X, Y, nonlinear=KernelRidge(kernel="rbf"), random_state=0
    )
    assert ridge["nonlinear"].n_parameters == ridge.n_train * 3
    assert ridge.explained_by == "isometry"


def test_criterion_choice(rng):
    # Cosine and MRR are blind to a global scale: with them a scaled rotation
    # about the origin is already explained by an isometry.
    X = rng.normal(size=(100, 4))
    Y = 3 * X @ orthogonal(rng, 4)
    by_r2 = transformation_class_report(
        X, Y, translation=False, nonlinear=None, random_state=0
    )
    by_cosine = transformation_class_report(
        X, Y, translation=False, nonlinear=None, criterion="mean_cosine", random_state=0
    )
    assert by_r2.explained_by == "similarity"
    assert by_cosine.explained_by == "isometry"
    assert by_cosine.criterion == "mean_cosine"


def test_tolerance_trades_fit_for_simplicity(rng):
    X = rng.normal(size=(150, 4))
    Y = X @ orthogonal(rng, 4) + 0.3 * X**2
    strict = transformation_class_report(X, Y, tolerance=0.0, random_state=0)
    loose = transformation_class_report(X, Y, tolerance=1.0, random_state=0)
    assert loose.explained_by == "isometry"
    assert CLASSES.index(strict.explained_by) > CLASSES.index("isometry")
    assert strict[strict.explained_by].r2 == strict.best_score()


def test_underdetermined_fits_are_noted(rng):
    X = rng.normal(size=(16, 10))
    Y = X @ orthogonal(rng, 10)
    report = transformation_class_report(
        X, Y, test_size=0.5, nonlinear=None, random_state=0
    )
    assert "8 pair(s) determine only 8 of the 10 directions that method='linear'" in (
        report["linear"].note
    )
    assert "only 7 of the 10 directions that method='affine'" in report["affine"].note
    assert "only 7 of the 10 directions that method='orthogonal'" in (
        report["isometry"].note
    )
    assert "note: linear:" in repr(report)
    enough = transformation_class_report(
        X, Y, test_size=4, nonlinear=None, random_state=0
    )
    assert enough["isometry"].note == ""
    assert enough.explained_by == "isometry"


def test_report_object(rng):
    X = rng.normal(size=(60, 3))
    report = transformation_class_report(X, X + 1, random_state=0)
    assert isinstance(report, TransformationClassReport)
    assert all(isinstance(fit, ClassFit) for fit in report.fits)
    assert [fit.name for fit in report.fits] == list(CLASSES)
    assert (report.n_train, report.n_test) == (42, 18)
    text = repr(report)
    assert text.startswith("TransformationClassReport(n_train=42, n_test=18")
    assert "* isometry" in text
    assert "Explained by: isometry" in text
    assert isinstance(report.models["affine"], LatentTranslator)
    with pytest.raises(KeyError, match="No class 'rotation'"):
        report["rotation"]
    frame = report.to_frame()
    assert list(frame.index) == list(CLASSES)
    assert list(frame.columns) == [
        "formula",
        "n_parameters",
        "r2",
        "mean_cosine",
        "mrr",
        "explains",
        "note",
    ]
    assert frame["explains"].sum() == 1 and frame.loc["isometry", "explains"]
    # Deterministic under a seed; the fitted models are not compared.
    assert report == transformation_class_report(X, X + 1, random_state=0)


@pytest.mark.parametrize("criterion", ["r2", "mean_cosine", "mrr"])
def test_unrelated_spaces_are_explained_by_no_class(rng, criterion):
    """Independent spaces: every class fits badly, and the report says so."""
    X = rng.normal(size=(300, 6))
    Z = rng.normal(size=(300, 6)) + 5  # the offset makes every cosine high
    report = transformation_class_report(X, Z, criterion=criterion, random_state=0)
    assert max(fit.r2 for fit in report.fits) <= 0.1
    assert report.explained_by is None
    text = repr(report)
    assert "Explained by: no class. The best held-out r2 is " in text
    assert "not above min_r2=0.1" in text and "look unrelated" in text
    assert "\n* " not in text  # no class is marked
    assert not report.to_frame()["explains"].any()
    # A related pair of the same shapes still names its class, and min_r2
    # can be lowered to rank the classes of unrelated spaces anyway.
    related = transformation_class_report(X, X @ orthogonal(rng, 6) + 5, random_state=0)
    assert related.explained_by == "isometry"
    forced = transformation_class_report(X, Z, min_r2=-np.inf, random_state=0)
    assert forced.explained_by in CLASSES


def test_weak_relation_below_min_r2(rng):
    X = rng.normal(size=(400, 4))
    Y = 0.5 * X @ orthogonal(rng, 4) + rng.normal(size=(400, 4))  # R² about 0.2
    report = transformation_class_report(X, Y, random_state=0)
    assert 0.1 < report.best_score() < 0.4 and report.explained_by is not None
    strict = transformation_class_report(X, Y, min_r2=0.5, random_state=0)
    assert strict.explained_by is None and strict.min_r2 == 0.5


def test_tensor_inputs(rng):
    X = rng.normal(size=(60, 3))
    Y = X @ orthogonal(rng, 3)
    report = transformation_class_report(
        torch.from_numpy(X), torch.from_numpy(Y).float(), nonlinear=None, random_state=0
    )
    assert report.explained_by == "isometry"


def test_bad_input(rng):
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="got X with 20 rows and Y with 19"):
        transformation_class_report(X, Y[:19])
    bad = Y.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input Y contains NaN"):
        transformation_class_report(X, bad)
    with pytest.raises(ValueError, match="needs at least 4 rows; got 3"):
        transformation_class_report(X[:3], Y[:3])
    with pytest.raises(ValueError, match="Y must be 2-D"):
        transformation_class_report(X, Y[:, 0])
    with pytest.raises(ValueError, match="'criterion' parameter of transformation"):
        transformation_class_report(X, Y, criterion="cka")
    with pytest.raises(ValueError, match="'nonlinear' parameter of transformation"):
        transformation_class_report(X, Y, nonlinear="mlp")
    with pytest.raises(ValueError, match="'nonlinear' parameter.*implementing 'fit'"):
        transformation_class_report(X, Y, nonlinear=3)
    with pytest.raises(ValueError, match="'tolerance' parameter.*range \\[0.0, inf\\)"):
        transformation_class_report(X, Y, tolerance=-0.1)
    with pytest.raises(ValueError, match="'min_r2' parameter.*range \\[-inf, 1.0\\)"):
        transformation_class_report(X, Y, min_r2=1)
    with pytest.raises(ValueError, match="Y is constant"):
        transformation_class_report(X, np.ones((20, 2)))
    with pytest.raises(ValueError, match="leaves 19 training and 1 held-out"):
        transformation_class_report(X, Y, test_size=1)
