"""Generators: one module per generator, discovered automatically.

Contract (scikit-learn style, samples x genes, integer class codes):
- ``fit(X, y)`` learns from the training expression and its labels, returns self
  and sets ``classes_`` (the codes seen in training);
- ``sample(y)`` returns one generated profile per requested label (a row per entry
  of ``y``), drawn from ``random_state``: the same call gives the same samples;
- ``history_`` (torch generators) holds the training losses.
"""

from __future__ import annotations

from ...registry import Registry

GENERATORS = Registry("generator", __name__)


def register(cls):
    """Class decorator adding a generator to the registry under ``cls.name``."""
    GENERATORS.register(cls)
    return cls
