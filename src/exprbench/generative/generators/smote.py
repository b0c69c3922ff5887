"""SMOTE-style interpolation between same-class neighbours (Chawla et al. 2002).

A synthetic sample lies at a uniform random point on the segment between a random
training sample of the class and one of its ``k_neighbors`` nearest same-class
neighbours (Euclidean, in the standardised gene space). A class with a single
training sample can only be copied.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from . import register
from ._base import Generator


@register
class Smote(Generator):
    name = "smote"

    def __init__(self, k_neighbors: int = 5, random_state: int = 0):
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def fit(self, X, y):
        X, y = self._start_fit(X, y)
        self.samples_, self.neighbours_ = {}, {}
        for c in self.classes_:
            part = X[y == c]
            self.samples_[c] = part
            k = min(self.k_neighbors, len(part) - 1)
            if k < 1:
                self.neighbours_[c] = np.zeros((1, 1), dtype=int)  # itself
                continue
            _, index = NearestNeighbors(n_neighbors=k + 1).fit(part).kneighbors(part)
            self.neighbours_[c] = index[:, 1:]  # drop the sample itself
        return self

    def sample(self, y) -> np.ndarray:
        y = self._check_sample(y)
        rng = self._rng("sample", len(y))
        out = np.empty((len(y), self.n_features_in_))
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            part, neighbours = self.samples_[c], self.neighbours_[c]
            base = rng.integers(len(part), size=len(rows))
            other = neighbours[base, rng.integers(neighbours.shape[1], size=len(rows))]
            gap = rng.random((len(rows), 1))
            out[rows] = part[base] + gap * (part[other] - part[base])
        return out
