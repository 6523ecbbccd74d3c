"""Every private scikit-learn import sklatent relies on, in one place.

scikit-learn keeps its parameter-validation machinery and ``_fit_context`` in
private modules. Importing them only here means an upstream rename is a
one-line fix. The one stacklevel policy of sklatent's warnings lives here too,
since it skips scikit-learn's wrappers by their files.
"""

import os
import sys

import sklearn.base
from sklearn.base import _fit_context
from sklearn.utils import _param_validation, _set_output
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
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
    "user_stacklevel",
    "validate_data",
    "validate_parameter_constraints",
    "validate_params",
]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_WRAPPERS = frozenset(
    os.path.abspath(module.__file__)
    for module in (_param_validation, _set_output, sklearn.base)
)
"""scikit-learn's files whose frames wrap our functions (``validate_params``,
``set_output``, ``_fit_context``): a warning never points into them."""


def user_stacklevel():
    """The ``stacklevel`` of the first frame outside sklatent and sklearn's wrappers.

    Pass it to :func:`warnings.warn` as ``stacklevel=user_stacklevel()``, so a
    warning points at the line of the caller's code that led to it, whichever
    of sklatent's functions (calling one another, wrapped by
    ``validate_params`` or ``_fit_context``) raised it. This is sklatent's one
    stacklevel policy: a fixed number would point elsewhere for each caller.

    Returns
    -------
    int
    """
    frame, level = sys._getframe(1), 1
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not (filename.startswith(_PACKAGE) or filename in _WRAPPERS):
            return level
        frame, level = frame.f_back, level + 1
    return level
