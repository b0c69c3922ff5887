"""What every generator shares: label checks and seeded sampling."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ...seeding import make_rng


class Generator(BaseEstimator):
    name = ""
    uses_torch = False

    def _start_fit(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be samples x genes with one label per sample; got {X.shape} and {y.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("the training matrix has missing or infinite values")
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        return X, y

    def _check_sample(self, y) -> np.ndarray:
        y = np.asarray(y)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"cannot generate classes {unknown.tolist()}: not in the training labels "
                             f"{self.classes_.tolist()}")
        return y

    def _rng(self, *keys) -> np.random.Generator:
        return make_rng(self.random_state, self.name, *keys)

    def sample(self, y) -> np.ndarray:
        raise NotImplementedError
