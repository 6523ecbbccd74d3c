"""sklatent: latent communication between embedding spaces, for scikit-learn.

Relative representations make independently trained encoders comparable
through their similarities to parallel anchors; latent space translation maps
one encoder's embeddings into another's space.
"""

from . import _encoder, _zeroshot
from ._relative import RelativeTransformer
from ._translation import LatentTranslator
from ._version import __version__
from .anchors import AnchorWarning
from .migration import MigrationBridge as _MigrationBridge
from .migration import RegionalTranslator as _RegionalTranslator

ESTIMATORS = (
    RelativeTransformer,
    LatentTranslator,
    _encoder.EncoderTransformer,
    _MigrationBridge,
    _RegionalTranslator,
    _zeroshot.ZeroShotClassifier,
)
"""Every estimator class of sklatent, e.g. for ``skops.io.load(trusted=...)``.

:class:`~sklatent.stitching.EncoderTransformer` and
:class:`~sklatent.stitching.ZeroShotClassifier` are imported from
:mod:`sklatent.stitching`; its encoder, when it is a function, must be trusted
by name as well. :class:`~sklatent.migration.MigrationBridge` and
:class:`~sklatent.migration.RegionalTranslator` are imported from
:mod:`sklatent.migration`."""

__all__ = [
    "ESTIMATORS",
    "AnchorWarning",
    "LatentTranslator",
    "RelativeTransformer",
    "__version__",
]
