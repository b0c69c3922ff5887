"""Landmark -> target regressors: one module per model, discovered automatically.

Every model is a multi-output scikit-learn regressor: a plain ``__init__``, ``fit``
returning self, learned attributes ending in ``_``. ``fit(X, Y)`` takes arrays
(samples x landmarks, samples x targets) or, with ``Y`` left out, a batch source
from :mod:`exprbench.inference.batches` that streams the training rows;
``validation`` (arrays ``(X, Y)`` or a source) is what the neural models select
their epoch on, by MAE.
"""

from __future__ import annotations

from ...registry import Registry

INFERENCE_MODELS = Registry("inference model", __name__)


def register(cls):
    """Class decorator adding a model to the registry under ``cls.name``."""
    INFERENCE_MODELS.register(cls)
    return cls
