"""Which class of transformation relates two latent spaces?

:func:`transformation_class_report` fits maps of increasing freedom from one
space to the other on part of the parallel pairs - an isometry, a similarity,
a linear map, an affine map and a non-linear reference - scores each on the
held-out pairs, and names the most constrained class that explains the
relation as well as the best one does. That is the question of latent space
communication: two encoders trained apart learn spaces that differ by a
transformation from a small class (Moschella et al., 2023; Maiorca et al.,
2023), and knowing the class tells which bridge is enough: relative
representations for angle-preserving maps, an orthogonal translator, or a
general affine one.

This module sits above the estimators (it fits :class:`~sklatent.LatentTranslator`)
and uses :mod:`sklatent.metrics` for the held-out scores.
"""

import warnings
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

from . import _kernels, metrics
from ._backend import as_numpy, row_batches
from ._kernels.median import median_squared_distance
from ._sklearn_compat import HasMethods, Interval, StrOptions, validate_params
from ._translation import LatentTranslator
from ._validation import check_pair
from .anchors import AnchorWarning

__all__ = ["ClassFit", "TransformationClassReport", "transformation_class_report"]

CLASSES = ("isometry", "similarity", "linear", "affine", "nonlinear")
"""The classes of maps, from the most constrained to the least."""

_CRITERIA = ("r2", "mean_cosine", "mrr")
_KERNEL_RIDGE_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass(frozen=True)
class ClassFit:
    """The held-out fit of one class of maps.

    Attributes
    ----------
    name : str
        ``"isometry"``, ``"similarity"``, ``"linear"``, ``"affine"`` or
        ``"nonlinear"``.
    formula : str
        The map, e.g. ``"y = s x Q + b"``.
    n_parameters : int or None
        Free parameters of the fitted map (None when unknown, for a
        user-supplied non-linear estimator).
    r2 : float
        Held-out coefficient of determination, pooled over the target
        features: :math:`1 - \\sum\\lVert y_i - \\hat y_i\\rVert^2 /
        \\sum\\lVert y_i - \\bar y\\rVert^2`.
    mean_cosine : float
        Held-out :func:`sklatent.metrics.mean_cosine` of translation and truth.
    mrr : float
        Held-out full-rank :func:`sklatent.metrics.mrr` (cosine): each
        translated pair searches the true targets of the held-out pairs.
    note : str
        Warnings raised while fitting (e.g. too few pairs), or ``""``.
    """

    name: str
    formula: str
    n_parameters: int | None
    r2: float
    mean_cosine: float
    mrr: float
    note: str = ""


@dataclass(frozen=True)
class TransformationClassReport:
    """Held-out fit of nested classes of maps, and the class that explains it.

    Returned by :func:`transformation_class_report`.

    Attributes
    ----------
    fits : tuple of ClassFit
        One entry per class, from the most constrained to the least.
    explained_by : str or None
        The first class (most constrained) whose ``criterion`` is within
        ``tolerance`` of the best class's; None when no class explains the
        pairs: even the best held-out R² is at most ``min_r2``.
    criterion : str
        The held-out score that chose it: ``"r2"``, ``"mean_cosine"`` or
        ``"mrr"``.
    tolerance : float
        How far below the best score a class may be and still explain the
        relation.
    n_train : int
        Pairs the maps were fitted on.
    n_test : int
        Held-out pairs they were scored on.
    min_r2 : float
        The held-out R² some class must exceed to explain the relation.
    models : dict
        The fitted map of each class, by name (a
        :class:`~sklatent.LatentTranslator`, or the non-linear estimator);
        not shown in the ``repr``.

    See Also
    --------
    transformation_class_report : Builds this report.
    """

    fits: tuple
    explained_by: str
    criterion: str
    tolerance: float
    n_train: int
    n_test: int
    min_r2: float = 0.1
    models: dict = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, name):
        """The :class:`ClassFit` of the class ``name``."""
        for fit in self.fits:
            if fit.name == name:
                return fit
        raise KeyError(
            f"No class {name!r} in this report; it has {[f.name for f in self.fits]}."
        )

    def best_score(self):
        """The best held-out ``criterion`` over all classes.

        Returns
        -------
        float
        """
        return max(getattr(fit, self.criterion) for fit in self.fits)

    def to_frame(self):
        """The fits as a :class:`pandas.DataFrame`, one row per class.

        Returns
        -------
        pandas.DataFrame
            Indexed by class name, with columns ``formula``, ``n_parameters``,
            ``r2``, ``mean_cosine``, ``mrr``, ``explains`` (the chosen class)
            and ``note``.

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a test dependency
            raise ImportError(
                "to_frame needs pandas; install it with `pip install pandas`."
            ) from exc
        frame = pd.DataFrame(
            {
                "formula": [f.formula for f in self.fits],
                "n_parameters": pd.array(
                    [f.n_parameters for f in self.fits], dtype="Int64"
                ),
                "r2": [f.r2 for f in self.fits],
                "mean_cosine": [f.mean_cosine for f in self.fits],
                "mrr": [f.mrr for f in self.fits],
                "explains": [f.name == self.explained_by for f in self.fits],
                "note": [f.note for f in self.fits],
            },
            index=pd.Index([f.name for f in self.fits], name="class"),
        )
        return frame

    def __repr__(self):
        header = (
            f"TransformationClassReport(n_train={self.n_train}, "
            f"n_test={self.n_test}, criterion={self.criterion!r}, "
            f"tolerance={self.tolerance})"
        )
        lines = [
            header,
            f"  {'class':<12}{'map':<18}{'parameters':>11}{'r2':>9}"
            f"{'cosine':>9}{'mrr':>9}",
        ]
        for fit in self.fits:
            mark = "*" if fit.name == self.explained_by else " "
            count = "?" if fit.n_parameters is None else str(fit.n_parameters)
            lines.append(
                f"{mark} {fit.name:<12}{fit.formula:<18}{count:>11}"
                f"{fit.r2:>9.4f}{fit.mean_cosine:>9.4f}{fit.mrr:>9.4f}"
            )
        if self.explained_by is None:
            best_r2 = max(fit.r2 for fit in self.fits)
            lines.append(
                f"Explained by: no class. The best held-out r2 is {best_r2:.4f}, "
                f"not above min_r2={self.min_r2}: no map predicts Y better than "
                "its mean by that margin, so the spaces look unrelated (or "
                "related by a map outside these classes)."
            )
        else:
            lines.append(
                f"Explained by: {self.explained_by} (the most constrained class "
                f"within {self.tolerance} of the best held-out {self.criterion})."
            )
        lines.extend(f"  note: {f.name}: {f.note}" for f in self.fits if f.note)
        return "\n".join(lines)


def _stiefel_dimension(d_x, d_y):
    """Free parameters of a (semi-)orthogonal d_x x d_y matrix."""
    k, m = min(d_x, d_y), max(d_x, d_y)
    return m * k - k * (k + 1) // 2


def _translators(d_x, d_y, translation, device, batch_size):
    """``[(name, formula, n_parameters, translator), ...]`` for the linear classes."""
    shift = d_y if translation else 0
    normalize = "center" if translation else None
    plus_b = " + b" if translation else ""
    common = {"device": device, "batch_size": batch_size}
    isometry = _stiefel_dimension(d_x, d_y)
    return [
        (
            "isometry",
            "y = x Q" + plus_b,
            isometry + shift,
            LatentTranslator(method="orthogonal", normalize=normalize, **common),
        ),
        (
            "similarity",
            "y = s x Q" + plus_b,
            isometry + 1 + shift,
            LatentTranslator(
                method="orthogonal", normalize=normalize, scale=True, **common
            ),
        ),
        (
            "linear",
            "y = x W",
            d_x * d_y,
            LatentTranslator(method="linear", normalize=None, **common),
        ),
        (
            "affine",
            "y = x W + b",
            d_x * d_y + d_y,
            LatentTranslator(method="affine", normalize=None, **common),
        ),
    ]


class _ResidualKernelRidge:
    """The affine map plus an RBF kernel ridge fitted to its residuals.

    The non-linear reference of the report: it contains the affine class (a
    zero correction), so its held-out fit is below the affine one only by
    overfitting. The source is standardised on the training pairs; the
    kernel is :math:`\\exp(-\\gamma\\lVert x - x'\\rVert^2)` with
    :math:`1/\\gamma` the median squared distance between training rows, and
    the ridge penalty is chosen by 3-fold cross-validation on the training
    pairs.
    """

    def __init__(self, affine):
        self.affine = affine

    def fit(self, X, Y):
        # In ordinary units (exact powers of two): the scaler's variances and
        # the search's squared errors stay finite for data near 1e300.
        X_units, self.x_power_ = _ordinary_units(X)
        self.scaler_ = StandardScaler().fit(X_units)
        Z = self.scaler_.transform(X_units)
        residuals, self.residual_power_ = _ordinary_units(Y - self.affine.transform(X))
        batches = list(row_batches(len(Z), None, row_bytes=16 * len(Z)))
        median = median_squared_distance(torch.from_numpy(Z), batches, diagonal=False)
        gamma = 1.0 / median if median > 0 else 1.0
        search = GridSearchCV(
            KernelRidge(kernel="rbf", gamma=gamma),
            {"alpha": list(_KERNEL_RIDGE_ALPHAS)},
            cv=min(3, len(Z)),
            scoring="neg_mean_squared_error",
        )
        self.kernel_ridge_ = search.fit(Z, residuals).best_estimator_
        return self

    def transform(self, X):
        Z = self.scaler_.transform(_scaled(X, -self.x_power_))
        correction = _scaled(self.kernel_ridge_.predict(Z), self.residual_power_)
        return self.affine.transform(X) + correction.reshape(len(X), -1)

    def n_parameters(self, affine_parameters):
        return affine_parameters + int(self.kernel_ridge_.dual_coef_.size)


def _count_parameters(estimator):
    """Number of fitted parameters of a user-supplied estimator, if known."""
    steps = getattr(estimator, "steps", None)
    last = steps[-1][1] if steps else estimator
    total = 0
    for name in ("coefs_", "intercepts_"):
        for array in getattr(last, name, None) or []:
            total += int(np.size(array))
    for name in ("coef_", "intercept_", "dual_coef_"):
        if hasattr(last, name):
            total += int(np.size(getattr(last, name)))
    return total or None


def _ordinary_units(Z):
    """``(Z * 2**-p, p)`` for the power of two ``p`` that brings ``Z`` near 1.

    ``p`` is 0 for data of ordinary magnitude (:mod:`sklatent._kernels.powers`).
    """
    power = _kernels.binary_exponent(torch.from_numpy(Z))
    return _scaled(Z, -power), power


def _scaled(Z, power):
    """``Z * 2**power`` (float64 numpy), exactly."""
    return _kernels.scale_exactly(torch.from_numpy(np.asarray(Z)), power).numpy()


def _held_out_scores(predicted, Y, device):
    # R^2 is a ratio of squares: taken in ordinary units, they stay finite.
    Y, power = _ordinary_units(Y)
    predicted = _scaled(predicted, -power)
    with np.errstate(over="ignore"):  # a map off by 1e300 scores -inf
        residual = float(((Y - predicted) ** 2).sum())
    spread = float(((Y - Y.mean(0)) ** 2).sum())
    r2 = 1.0 - residual / spread if spread > 0 else float("nan")
    return (
        r2,
        metrics.mean_cosine(predicted, Y, device=device),
        metrics.mrr(predicted, Y, device=device),
    )


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "test_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Real, 1, None, closed="left"),
        ],
        "translation": ["boolean"],
        "nonlinear": [
            StrOptions({"kernel_ridge"}),
            HasMethods(["fit", "predict"]),
            None,
        ],
        "criterion": [StrOptions(set(_CRITERIA))],
        "tolerance": [Interval(Real, 0, None, closed="left")],
        "min_r2": [Interval(Real, None, 1, closed="left")],
        "device": [str],
        "batch_size": [Interval(Real, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def transformation_class_report(
    X,
    Y,
    *,
    test_size=0.3,
    translation=True,
    nonlinear="kernel_ridge",
    criterion="r2",
    tolerance=0.01,
    min_r2=0.1,
    device="cpu",
    batch_size=None,
    random_state=None,
):
    r"""Fit nested classes of maps from ``X`` to ``Y`` and name the simplest that fits.

    The pairs are split into training and held-out pairs; on the training
    pairs one map of each class is fitted by least squares (with
    :class:`~sklatent.LatentTranslator`), from the most constrained to the
    least:

    ============  ======================  ====================================
    class         map                     free parameters
    ============  ======================  ====================================
    isometry      :math:`y = xQ + b`      :math:`mk - k(k+1)/2` (+ :math:`d_y`)
    similarity    :math:`y = s\,xQ + b`   one more (the scale :math:`s`)
    linear        :math:`y = xW`          :math:`d_x d_y`
    affine        :math:`y = xW + b`      :math:`d_x d_y + d_y`
    nonlinear     affine + kernel ridge   affine + :math:`n_{train} d_y`
    ============  ======================  ====================================

    with :math:`Q` orthogonal (semi-orthogonal when the dimensions differ,
    :math:`k = \min(d_x, d_y)`, :math:`m = \max(d_x, d_y)`) and :math:`s > 0`.
    Isometries and similarities include the translation :math:`b`, as in
    geometry, unless ``translation=False``; the classes then form the chain
    :math:`xQ \subset s\,xQ \subset xW \subset xW + b`. Each map is scored
    on the held-out pairs by R² (pooled over target features), mean cosine
    and full-rank MRR (:mod:`sklatent.metrics`); the report names the first
    class whose ``criterion`` is within ``tolerance`` of the best class's,
    or no class when even the best held-out R² is at most ``min_r2``.

    Read the answer as: "isometry" - the spaces are the same up to a rigid
    motion, and relative representations with cosine similarity (after
    centring) or an orthogonal translator bridge them; "similarity" - the
    same up to scale too; "linear"/"affine" - a general translator is
    needed, angles are not preserved; "nonlinear" - no affine map explains
    the relation as well as the non-linear reference does; None - no class
    explains it: the spaces look unrelated, and no bridge of this kind will
    carry a model from one to the other.

    Parameters
    ----------
    X : {array-like, torch.Tensor} of shape (n_samples, n_features_x)
        Source embeddings.
    Y : {array-like, torch.Tensor} of shape (n_samples, n_features_y)
        Target embeddings of the same items, in the same row order.
    test_size : float or int, default=0.3
        Held-out share (or number) of pairs, as in
        :func:`~sklearn.model_selection.train_test_split`.
    translation : bool, default=True
        Whether isometries and similarities may translate (centre both spaces
        before the orthogonal fit).
    nonlinear : "kernel_ridge", estimator or None, default="kernel_ridge"
        The non-linear reference. ``"kernel_ridge"``: the affine map plus a
        Gaussian kernel ridge fitted to its residuals (bandwidth from the
        median distance, penalty by 3-fold cross-validation on the training
        pairs; O(n_train^3) time, O(n_train^2) memory). An estimator, such
        as ``make_pipeline(StandardScaler(), MLPRegressor())``: cloned, fitted
        on the training pairs (``fit(X, Y)``) and scored through ``predict``.
        None: no non-linear reference.
    criterion : {"r2", "mean_cosine", "mrr"}, default="r2"
        The held-out score that decides. R² is the default because it sees
        every error, scale included; cosine and MRR are blind to a global
        scale, so they cannot tell an isometry from a similarity.
    tolerance : float, default=0.01
        How far below the best score a class may be and still explain.
    min_r2 : float, default=0.1
        The held-out R² that the best class must exceed for any class to
        explain the relation (whatever the ``criterion``): at 0.1, the best
        map must remove more than a tenth of Y's held-out variance around its
        mean. Below it, ``explained_by`` is None. Pass ``-np.inf`` to always
        name a class.
    device : str, default="cpu"
        Where the translators and metrics run.
    batch_size : int, default=None
        Rows processed at once by the translators and metrics.
    random_state : int, RandomState instance or None, default=None
        Seed of the train/held-out split.

    Returns
    -------
    TransformationClassReport
        The fits, the chosen class (or None) and the fitted maps; prints as a
        table,
        and :meth:`~TransformationClassReport.to_frame` gives a
        :class:`pandas.DataFrame`.

    See Also
    --------
    sklatent.metrics.linear_cka : A similarity index invariant to
        similarities, without fitting a map.
    sklatent.metrics.procrustes_distance : The distance to the nearest
        similarity.

    Notes
    -----
    The fits are scored on held-out pairs, so a richer class that overfits
    scores *lower* than the simpler class that explains the relation; with
    few pairs (fewer than :math:`d_x + 1` for the linear classes) the richer
    classes are underdetermined, which their ``note`` says.

    Every class fits *something*, and one of them is always the best, so the
    ranking alone would name a class even for unrelated spaces. Their
    held-out R² is what tells: it is near or below zero when the maps do no
    better than predicting Y's mean. For independent Gaussian spaces (60 to
    1,000 pairs, 3 to 32 dimensions, five seeds) the best class's held-out
    R² ranged from -0.35 to 0.004; ``min_r2=0.1`` leaves a margin above that.
    Cosine and MRR have no such fixed zero (with a common offset of 5, every
    class of those unrelated spaces reached a mean cosine of 0.98), so the
    gate uses R² whichever criterion ranks the classes.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.
    .. [3] A. H. Williams, E. Kunz, S. Kornblith, S. W. Linderman.
       "Generalized Shape Metrics on Neural Representations." NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.diagnostics import transformation_class_report
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 6))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    >>> report = transformation_class_report(X, 2 * X @ Q + 1, random_state=0)
    >>> report.explained_by
    'similarity'
    >>> round(report["similarity"].r2, 6), round(report["isometry"].r2, 2)
    (1.0, 0.75)
    >>> A = rng.normal(size=(6, 6))
    >>> transformation_class_report(X, X @ A + 3, random_state=0).explained_by
    'affine'
    >>> unrelated = rng.normal(size=(300, 6))
    >>> print(transformation_class_report(X, unrelated, random_state=0).explained_by)
    None
    """
    X, Y = check_pair(X, Y, function="transformation_class_report", min_rows=4)
    X, Y = as_numpy(X).astype(np.float64), as_numpy(Y).astype(np.float64)
    for name, Z in (("X", X), ("Y", Y)):
        if not np.ptp(Z, axis=0).any():
            raise ValueError(
                f"{name} is constant (all rows equal): no map is identifiable."
            )
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=test_size, random_state=random_state
    )
    if len(X_train) < 2 or len(X_test) < 2:
        raise ValueError(
            f"test_size={test_size} leaves {len(X_train)} training and "
            f"{len(X_test)} held-out pairs; both need at least 2. Pass more "
            "pairs or another test_size."
        )

    fits, models = [], {}
    d_x, d_y = X.shape[1], Y.shape[1]
    for name, formula, n_parameters, model in _translators(
        d_x, d_y, translation, device, batch_size
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AnchorWarning)
            model.fit(X_train, Y_train)
        notes = [
            str(w.message) for w in caught if issubclass(w.category, AnchorWarning)
        ]
        note = " ".join(notes)
        scores = _held_out_scores(model.transform(X_test), Y_test, device)
        fits.append(ClassFit(name, formula, n_parameters, *scores, note=note))
        models[name] = model

    if nonlinear is not None:
        if isinstance(nonlinear, str):
            model = _ResidualKernelRidge(models["affine"]).fit(X_train, Y_train)
            predicted = model.transform(X_test)
            n_parameters = model.n_parameters(fits[-1].n_parameters)
            formula = "affine + kernel"
        else:
            model = clone(nonlinear).fit(X_train, Y_train)
            predicted = np.asarray(model.predict(X_test), dtype=np.float64)
            n_parameters = _count_parameters(model)
            formula = type(model).__name__
        predicted = predicted.reshape(len(X_test), -1)
        scores = _held_out_scores(predicted, Y_test, device)
        fits.append(ClassFit("nonlinear", formula, n_parameters, *scores))
        models["nonlinear"] = model

    values = [getattr(fit, criterion) for fit in fits]
    best = max(value for value in values if not np.isnan(value))
    explained_by = next(
        fit.name
        for fit, value in zip(fits, values, strict=True)
        if value >= best - tolerance
    )
    if not max(fit.r2 for fit in fits) > min_r2:
        explained_by = None
    return TransformationClassReport(
        fits=tuple(fits),
        explained_by=explained_by,
        criterion=criterion,
        tolerance=tolerance,
        n_train=len(X_train),
        n_test=len(X_test),
        min_r2=min_r2,
        models=models,
    )
