"""Every private scikit-learn import sklatent relies on, in one place.

scikit-learn keeps its parameter-validation machinery and ``_fit_context`` in
private modules. Importing them only here means an upstream rename is a
one-line fix.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_feature_names_in, validate_data

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "Options",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
    "validate_data",
    "validate_params",
]
