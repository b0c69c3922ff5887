"""Classifiers: one module per model, discovered automatically.

Every model is a scikit-learn estimator: a plain ``__init__``, ``fit`` returning
self, learned attributes ending in ``_``. ``fit`` takes the task's full class list
so a training subset missing a class never shifts the label encoding.
"""

from __future__ import annotations

from ...registry import Registry

MODELS = Registry("model", __name__)


def register(cls):
    """Class decorator adding a model to the registry under ``cls.name``."""
    MODELS.register(cls)
    return cls
