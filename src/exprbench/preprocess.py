"""Per-gene feature preparation: optional log2(x + 1), top-k variable genes and scaling.

Fitted on the training samples only by default; the paper fitted both on the
whole compendium, which leaks validation statistics, and is kept as an option.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

SCALINGS = ("standard", "minmax", "none")


class GenePreprocessor(TransformerMixin, BaseEstimator):
    def __init__(self, top_genes: int | None = None, scaling: str = "standard", log2: bool = False):
        self.top_genes = top_genes
        self.scaling = scaling
        self.log2 = log2

    def _logged(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if not self.log2:
            return X
        if X.size and X.min() < 0:
            raise ValueError("preprocessing.log2 needs non-negative values (e.g. TPM); these data are already "
                             "on a log or centred scale: set log2: false")
        return np.log2(X + 1)

    def fit(self, X, y=None):
        X = self._logged(X)
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling {self.scaling!r} is not one of {SCALINGS}")
        n_genes = X.shape[1]
        if self.top_genes is None or self.top_genes >= n_genes:
            self.genes_ = np.arange(n_genes)
        else:
            variance = X.var(axis=0)
            # Stable sort keeps ties in gene order, so the choice is deterministic.
            self.genes_ = np.sort(np.argsort(-variance, kind="stable")[: self.top_genes])
        kept = X[:, self.genes_]
        if self.scaling == "standard":
            self.offset_ = kept.mean(axis=0)
            spread = kept.std(axis=0)
        elif self.scaling == "minmax":
            self.offset_ = kept.min(axis=0)
            spread = kept.max(axis=0) - self.offset_
        else:
            self.offset_ = np.zeros(kept.shape[1], dtype=np.float32)
            spread = np.ones(kept.shape[1], dtype=np.float32)
        # Constant genes map to 0 instead of dividing by zero.
        self.scale_ = np.where(spread > 0, spread, 1.0).astype(np.float32)
        return self

    def transform(self, X):
        X = self._logged(X)
        return ((X[:, self.genes_] - self.offset_) / self.scale_).astype(np.float32)
