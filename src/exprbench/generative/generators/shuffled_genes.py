"""Negative control: real training profiles of the class with their genes shuffled.

Each synthetic sample is a random training sample of the requested class whose
values are permuted across genes, so the overall value distribution is real but
every gene's identity is lost. Any useful generator must beat it on every
fidelity metric.
"""

from __future__ import annotations

import numpy as np

from . import register
from ._base import Generator


@register
class ShuffledGenes(Generator):
    name = "shuffled_genes"

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X, y):
        X, y = self._start_fit(X, y)
        self.samples_ = {c: X[y == c] for c in self.classes_}
        return self

    def sample(self, y) -> np.ndarray:
        y = self._check_sample(y)
        rng = self._rng("sample", len(y))
        out = np.empty((len(y), self.n_features_in_))
        for i, c in enumerate(y):
            part = self.samples_[c]
            out[i] = rng.permutation(part[rng.integers(len(part))])
        return out
