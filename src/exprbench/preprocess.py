"""Per-gene feature preparation: optional log2(x + 1), top-k variable genes and scaling.

Fitted on the training samples only by default; the paper fitted both on the
whole compendium, which leaks validation statistics, and is kept as an option
(``fit_on: all``: :meth:`GenePreprocessor.fit_stats` with the statistics of
compendium.py). Genes are ranked by variance before scaling (of TPM when the
store holds TPM and log2 is off), as the reference code did for Recount3.
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

    def _check_scaling(self) -> None:
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling {self.scaling!r} is not one of {SCALINGS}")

    def _top(self, n_genes: int, variance) -> np.ndarray:
        if self.top_genes is None or self.top_genes >= n_genes:
            return np.arange(n_genes)
        # Stable sort keeps ties in gene order, so the choice is deterministic.
        return np.sort(np.argsort(-variance(), kind="stable")[: self.top_genes])

    def _set_scale(self, spread) -> None:
        # Constant genes map to 0 instead of dividing by zero.
        self.scale_ = np.where(spread > 0, spread, 1.0).astype(np.float32)

    def fit(self, X, y=None):
        X = self._logged(X)
        self._check_scaling()
        self.n_features_in_ = X.shape[1]
        self.genes_ = self._top(X.shape[1], lambda: X.var(axis=0))
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
        self._set_scale(spread)
        return self

    def fit_stats(self, stats: dict):
        """Fit from per-gene statistics (compendium.compendium_stats) instead of a
        matrix: the same genes and scaling as ``fit`` on the matrix they describe."""
        self._check_scaling()
        scale = "log2" if self.log2 else "raw"
        if f"{scale}_var" not in stats:
            raise ValueError("preprocessing.log2 needs non-negative values (e.g. TPM); this store holds negative "
                             "values, already on a log or centred scale: set log2: false")
        variance = np.asarray(stats[f"{scale}_var"], dtype=np.float64)
        self.n_features_in_ = variance.size
        self.genes_ = self._top(variance.size, lambda: variance)
        pick = {name: np.asarray(stats[f"{scale}_{name}"], dtype=np.float64)[self.genes_]
                for name in ("min", "max", "mean", "var")}
        if self.scaling == "standard":
            offset, spread = pick["mean"], np.sqrt(pick["var"])
        elif self.scaling == "minmax":
            offset, spread = pick["min"], pick["max"] - pick["min"]
        else:
            offset, spread = np.zeros(self.genes_.size), np.ones(self.genes_.size)
        self.offset_ = offset.astype(np.float32)
        self._set_scale(spread.astype(np.float32))
        return self

    def transform(self, X):
        X = self._logged(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{X.shape[1]} genes given, but the preprocessor was fitted on {self.n_features_in_}")
        return ((X[:, self.genes_] - self.offset_) / self.scale_).astype(np.float32)
