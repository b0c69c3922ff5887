"""Shared pieces of the recovery methods."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..decode import omp_codes


def check_expression(X, what: str = "training expression") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 2:
        raise ValueError(f"{what} must be a samples x genes matrix with at least 2 of each, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what} has missing or infinite values")
    return X


def n_modules(size, n_train: int, limit: int) -> int:
    """A dictionary size given as a count (>= 1) or a fraction of the training samples (< 1)."""
    count = int(size * n_train) if size < 1 else int(size)
    return max(1, min(count, limit))


class RecoveryMethod(BaseEstimator):
    """Base: no measurement-dependent training."""

    @classmethod
    def _test_data(cls, rng):
        """Non-negative training expression of a few planted modules (sparse NMF needs >= 0)."""
        X = np.abs(rng.normal(size=(40, 4)) @ rng.normal(size=(4, 30))) + 0.1 * rng.random((40, 30))
        return (X,), {}

    def _test_outputs(self, data):
        (X,), _ = data
        A = np.random.default_rng(1).normal(size=(8, X.shape[1]))
        self.fit_measurements(A, 10.0)
        return self.recover(X[:10] @ A.T, A)

    def fit_measurements(self, A: np.ndarray, snr: float):
        return self


class DictionaryMethod(RecoveryMethod):
    """Learns ``dictionary_`` U (genes x modules); recovers by OMP on A U with at most
    ``sparsity`` modules per sample, then X_hat = codes U^T (the reference's
    ``recover_system_knownBasis``)."""

    def recover(self, Y, A) -> np.ndarray:
        U = self.dictionary_
        codes = omp_codes(Y, A @ U, self.sparsity)
        return codes @ U.T
