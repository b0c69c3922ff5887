"""Scores of a landmark -> target inference: MAE and the concordance correlation.

MAE is the mean absolute error over all (sample, target gene) entries, which equals
the mean of the per-gene MAEs. The concordance correlation coefficient (Lin 1989)
is computed per target gene across samples, with population (1/n) variances and
covariance throughout, and then averaged over genes:

    ccc = 2 cov(y, p) / (var(y) + var(p) + (mean(y) - mean(p))^2)

:class:`ScoreAccumulator` gives the same numbers from blocks of samples, so test
sets that do not fit in memory are scored as they are predicted.
"""

from __future__ import annotations

import numpy as np


def _pair(Y, P) -> tuple[np.ndarray, np.ndarray]:
    Y = np.asarray(Y, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    if Y.shape != P.shape or Y.ndim != 2:
        raise ValueError(f"truth and prediction must be samples x genes of one shape, got {Y.shape} and {P.shape}")
    return Y, P


def mae(Y, P) -> float:
    Y, P = _pair(Y, P)
    return float(np.abs(Y - P).mean())


def mae_per_gene(Y, P) -> np.ndarray:
    Y, P = _pair(Y, P)
    return np.abs(Y - P).mean(axis=0)


def ccc_per_gene(Y, P) -> np.ndarray:
    """Lin's concordance correlation of each column, population moments.

    A gene where truth and prediction are both constant and equal scores 1; a
    constant gene predicted with any spread or offset scores 0 (no concordance to find).
    """
    Y, P = _pair(Y, P)
    accumulator = ScoreAccumulator(Y.shape[1])
    accumulator.add(Y, P)
    return accumulator.ccc_per_gene()


def ccc(Y, P) -> float:
    """Per-gene concordance correlation averaged over genes."""
    return float(ccc_per_gene(Y, P).mean())


class ScoreAccumulator:
    """Sums of the moments MAE and CCC need, added block by block."""

    def __init__(self, n_genes: int):
        self.n = 0
        self._abs = np.zeros(n_genes)
        self._y = np.zeros(n_genes)
        self._p = np.zeros(n_genes)
        self._yy = np.zeros(n_genes)
        self._pp = np.zeros(n_genes)
        self._yp = np.zeros(n_genes)
        # Shifts keep the moment sums well conditioned (values are z-scores, but not always).
        self._shift = None

    def add(self, Y, P) -> None:
        Y, P = _pair(Y, P)
        if Y.shape[1] != self._y.size:
            raise ValueError(f"block has {Y.shape[1]} genes, expected {self._y.size}")
        if Y.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = Y.mean(axis=0)
        self._abs += np.abs(Y - P).sum(axis=0)
        Y = Y - self._shift
        P = P - self._shift
        self.n += Y.shape[0]
        self._y += Y.sum(axis=0)
        self._p += P.sum(axis=0)
        self._yy += (Y * Y).sum(axis=0)
        self._pp += (P * P).sum(axis=0)
        self._yp += (Y * P).sum(axis=0)

    def _check(self) -> None:
        if self.n == 0:
            raise ValueError("no samples were scored")

    def mae_per_gene(self) -> np.ndarray:
        self._check()
        return self._abs / self.n

    def mae(self) -> float:
        return float(self.mae_per_gene().mean())

    def ccc_per_gene(self) -> np.ndarray:
        self._check()
        n = self.n
        mean_y, mean_p = self._y / n, self._p / n
        var_y = np.maximum(self._yy / n - mean_y ** 2, 0.0)
        var_p = np.maximum(self._pp / n - mean_p ** 2, 0.0)
        cov = self._yp / n - mean_y * mean_p
        denominator = var_y + var_p + (mean_y - mean_p) ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            value = 2.0 * cov / denominator
        return np.where(denominator > 1e-12, value, 1.0)

    def ccc(self) -> float:
        return float(self.ccc_per_gene().mean())
