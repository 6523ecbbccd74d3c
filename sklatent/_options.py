"""The options of a relative projection, declared once.

:class:`~sklatent.RelativeTransformer` (an estimator, validated by
scikit-learn's ``_parameter_constraints`` at fit) and
:class:`~sklatent.nn.RelativeProjection` (a torch module, validated when it is
built) take the same options with the same meaning; both read their rules
here.
"""

from numbers import Integral, Real

from . import _kernels
from ._sklearn_compat import Interval, StrOptions, validate_parameter_constraints

RELATIVE_OPTIONS = {
    "similarity": [StrOptions(set(_kernels.SIMILARITIES)), callable, list, tuple],
    "aggregation": [StrOptions({"concat", "sum", "mean"})],
    "center": ["boolean"],
    "normalize": [StrOptions({"l2", "standard", "layer"}), None],
    "top_k": [Interval(Integral, 1, None, closed="left"), None],
    "top_k_power": [Interval(Real, 0, None, closed="neither"), None],
}
"""Constraints (scikit-learn's declarative form) of the shared options."""


_USE = {
    "similarity": "a name among "
    + ", ".join(map(repr, sorted(_kernels.SIMILARITIES)))
    + ", a callable, or a list of these",
    "aggregation": "'concat', 'sum' or 'mean'",
    "center": "True or False",
    "normalize": "None, 'l2', 'standard' or 'layer'",
    "top_k": "None (keep every entry) or an integer >= 1 (the number of entries "
    "kept per row)",
    "top_k_power": "None or a finite number > 0",
}


def check_relative_options(owner, **options):
    """Validate ``options`` by :data:`RELATIVE_OPTIONS` outside an estimator.

    Parameters
    ----------
    owner : str
        The class whose options these are.
    **options
        Option names and values.

    Raises
    ------
    ValueError
        One line ``name=value; use ...``, for the first option that breaks
        its rule (a bool is not a count).
    """
    for name, value in options.items():
        valid = not (name == "top_k" and isinstance(value, bool))
        try:
            validate_parameter_constraints(
                {name: RELATIVE_OPTIONS[name]}, {name: value}, owner
            )
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(f"{name}={value!r}; use {_USE[name]}.")
