"""Biclustering methods: one module per method, discovered automatically.

Contract (scikit-learn style; X is samples x features, rows x columns):
- ``fit(X)`` returns self and sets ``row_labels_`` (one cluster id per row) and
  ``column_labels_`` (one per column; -1 marks a feature the method set aside as
  noise, which only ``spacobi`` does);
- ``n_iter_`` records the solver iterations (0 for methods without one).
Biclusters are read as the checkerboard of the two partitions: every (row cluster,
column cluster) pair, columns labelled -1 excluded (see ``metrics.biclusters``).
The job sets ``n_row_clusters``, ``n_column_clusters``, ``random_state`` and
``device`` where a method has them.
"""

from __future__ import annotations

from ...registry import Registry

METHODS = Registry("biclustering method", __name__)


def register(cls):
    """Class decorator adding a method to the registry under ``cls.name``."""
    METHODS.register(cls)
    return cls
