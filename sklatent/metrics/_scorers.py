"""Scorers for model selection: a metric of a translator's output against the truth."""

from .._backend import one_column
from .._sklearn_compat import StrOptions
from ._common import validate_params
from ._retrieval import (
    jaccard_at_k,
    mean_cosine,
    mrr,
    mutual_knn_alignment,
    top_k_accuracy,
)
from ._similarity_index import (
    linear_cka,
    procrustes_distance,
    procrustes_similarity,
    rbf_cka,
)


def _neg_procrustes_distance(X, Y, **kwargs):
    return -procrustes_distance(X, Y, **kwargs)


_SCORER_FUNCTIONS = {
    "mean_cosine": mean_cosine,
    "mrr": mrr,
    "top_k_accuracy": top_k_accuracy,
    "jaccard_at_k": jaccard_at_k,
    "mutual_knn_alignment": mutual_knn_alignment,
    "linear_cka": linear_cka,
    "rbf_cka": rbf_cka,
    "procrustes_similarity": procrustes_similarity,
    "neg_procrustes_distance": _neg_procrustes_distance,
}


class _TranslationScorer:
    """Score ``estimator.transform(X)`` against ``Y`` with a metric of this package.

    A module-level class rather than a closure, so that it pickles (joblib
    workers of a parallel search receive it).
    """

    def __init__(self, name, kwargs):
        self.name = name
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        """Return the metric of ``estimator.transform(X)`` against ``y``."""
        if y is None:
            raise ValueError(
                f"The {self.name} scorer compares translations with the true "
                "target embeddings; pass them as y (e.g. GridSearchCV.fit(X, Y))."
            )
        predicted = one_column(estimator.transform(X))
        return _SCORER_FUNCTIONS[self.name](predicted, one_column(y), **self.kwargs)

    def __repr__(self):
        options = "".join(f", {key}={value!r}" for key, value in self.kwargs.items())
        return f"translation_scorer({self.name!r}{options})"


@validate_params(
    {"name": [StrOptions(set(_SCORER_FUNCTIONS))]},
    prefer_skip_nested_validation=True,
)
def translation_scorer(name, **kwargs):
    """A scorer ``scorer(estimator, X, Y) -> float`` for a translator.

    The scorer calls ``estimator.transform(X)`` and compares the translation
    with the true target embeddings ``Y`` by the metric ``name`` of
    :mod:`sklatent.metrics` (translation as the first argument, truth as the
    second). Higher is always better, so it can drive
    :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_val_score` or
    :func:`~sklearn.model_selection.learning_curve`. Retrieval metrics rank
    each translated row among the true rows of the *same* evaluation fold.

    Parameters
    ----------
    name : str
        ``"mean_cosine"``, ``"mrr"``, ``"top_k_accuracy"``, ``"jaccard_at_k"``,
        ``"mutual_knn_alignment"``, ``"linear_cka"``, ``"rbf_cka"``,
        ``"procrustes_similarity"`` or ``"neg_procrustes_distance"`` (the
        negated angle).
    **kwargs : dict
        Keyword arguments of the metric, e.g. ``k=5``, ``metric="csls"`` or
        ``device="cuda"``.

    Returns
    -------
    callable
        ``scorer(estimator, X, Y) -> float``; it pickles.

    See Also
    --------
    mrr_scorer, mean_cosine_scorer, top_1_accuracy_scorer, linear_cka_scorer :
        Ready-made scorers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklatent.metrics import translation_scorer
    >>> scorer = translation_scorer("top_k_accuracy", k=1)
    >>> scorer
    translation_scorer('top_k_accuracy', k=1)
    >>> X = np.random.RandomState(0).normal(size=(20, 3))
    >>> scorer(FunctionTransformer().fit(X), X, X)
    1.0
    """
    return _TranslationScorer(name, dict(kwargs))


mean_cosine_scorer = translation_scorer("mean_cosine")
"""Scorer: :func:`mean_cosine` of ``estimator.transform(X)`` and ``Y``."""

mrr_scorer = translation_scorer("mrr")
"""Scorer: full-rank :func:`mrr` of ``estimator.transform(X)`` among ``Y``."""

top_1_accuracy_scorer = translation_scorer("top_k_accuracy", k=1)
"""Scorer: :func:`top_k_accuracy` with ``k=1``."""

linear_cka_scorer = translation_scorer("linear_cka")
"""Scorer: :func:`linear_cka` of ``estimator.transform(X)`` and ``Y``."""
