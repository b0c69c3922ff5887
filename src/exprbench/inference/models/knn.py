"""K-nearest-neighbour regression: the mean target profile of the ``n_neighbors``
training samples closest in landmark space (Euclidean). Holds the training matrix
in memory."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ...params import SEED, StrOptions, at_least
from ..batches import as_batches
from . import register
from ._contract import InferenceContract


@register
class NearestNeighbours(InferenceContract, RegressorMixin, BaseEstimator):
    name = "knn"
    _parameter_constraints = {"n_neighbors": [at_least(1)], "weights": [StrOptions({"uniform", "distance"})],
                              "random_state": [SEED]}
    _test_params = {"n_neighbors": 3}

    def __init__(self, n_neighbors: int = 10, weights: str = "uniform", random_state: int = 0):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.random_state = random_state

    def fit(self, X, Y=None, *, validation=None):
        from sklearn.neighbors import KNeighborsRegressor

        X, Y = as_batches(X, Y, 4096, self.random_state).arrays()
        k = min(int(self.n_neighbors), len(X))
        self.model_ = KNeighborsRegressor(n_neighbors=k, weights=self.weights, n_jobs=1).fit(X, Y)
        return self

    def predict(self, X) -> np.ndarray:
        return self.model_.predict(np.asarray(X, np.float32)).astype(np.float32)
