"""scikit-learn's estimator checks over every public estimator and key settings."""

import numpy as np
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklatent import ESTIMATORS, LatentTranslator, RelativeTransformer
from sklatent.migration import MigrationBridge, RegionalTranslator
from sklatent.stitching import EncoderTransformer, ZeroShotClassifier


def _relative_instances():
    settings = [
        {},
        {"similarity": "dot"},
        {"similarity": "euclidean"},
        {"similarity": "l1"},
        {"similarity": "linf"},
        {"similarity": ["cosine", "euclidean", "l1", "linf"]},
        {"similarity": ["cosine", "l1"], "aggregation": "mean"},
        {"center": True, "normalize": "standard"},
        {"top_k": 3, "normalize": "l2"},
        {"anchors": "kmeans", "normalize": "layer"},
        {"anchors": "farthest", "top_k": 2, "top_k_power": 3.0},
    ]
    # Estimator checks fit on as few as 10 rows (one row for the 1-sample check).
    return [RelativeTransformer(n_anchors=5, random_state=0, **s) for s in settings]


def _translator_instances():
    settings = [
        {},
        {"method": "linear"},
        {"method": "affine"},
        {"method": "ridge"},
        {"normalize": "center"},
        {"normalize": "l2"},
        {"normalize": None},
        {"method": "affine", "normalize": None},
        {"method": "ridge", "alpha": 0.5, "normalize": "l2"},
        {"method": "linear", "normalize": "center"},
        {"normalize": "center", "scale": True, "allow_reflection": False},
        {"n_anchors": 0.8, "anchors": "farthest", "random_state": 0},
    ]
    return [LatentTranslator(**s) for s in settings]


def _encoder_instances():
    # A function and a module; the encoder must accept any number of features.
    return [
        EncoderTransformer(np.tanh),
        EncoderTransformer(torch.nn.Tanh(), batch_size=3),
        EncoderTransformer(np.tanh, dtype=None),
    ]


def _bridge_instances():
    # direction="new-to-old" transforms y's space, which the checks never pass.
    return [
        MigrationBridge(),
        MigrationBridge("affine"),
        MigrationBridge("ridge", alpha=3.0),
        MigrationBridge("regional", random_state=0),
        RegionalTranslator(n_regions=2, random_state=0),
    ]


def _zeroshot_instances():
    # The checks' y is one column of "captions"; without class embeddings each
    # row of it is a class.
    return [
        ZeroShotClassifier(n_anchors=5, top_k=3, random_state=0),
        ZeroShotClassifier(top_k=None, power=1.0, center=False),
        ZeroShotClassifier(n_anchors=4, anchors="kmeans", random_state=0),
    ]


def test_every_estimator_class_is_checked():
    checked = {
        type(e)
        for e in _relative_instances()
        + _translator_instances()
        + _encoder_instances()
        + _bridge_instances()
        + _zeroshot_instances()
    }
    assert checked == set(ESTIMATORS)


def _expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(
    _relative_instances()
    + _translator_instances()
    + _encoder_instances()
    + _bridge_instances()
    + _zeroshot_instances(),
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
