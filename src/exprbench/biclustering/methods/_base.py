"""Shared pieces of the biclustering methods."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator


def check_matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"biclustering needs a rows x columns matrix with at least 2 of each, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("the matrix has missing or infinite values")
    return X


def non_negative(X: np.ndarray) -> np.ndarray:
    """Spectral co-clustering normalises by row and column sums, which needs
    non-negative data: shift the matrix so its minimum is a small positive value."""
    return X - X.min() + 1e-6 * (np.ptp(X) or 1.0)


class BiclusterMethod(BaseEstimator):
    """Base: ``fit`` sets ``row_labels_``, ``column_labels_`` and ``n_iter_``."""

    def _check_counts(self, X: np.ndarray) -> None:
        if not 1 <= self.n_row_clusters <= X.shape[0] or not 1 <= self.n_column_clusters <= X.shape[1]:
            raise ValueError(f"{self.n_row_clusters} x {self.n_column_clusters} clusters for a matrix of shape "
                             f"{X.shape}")
