"""Least-squares regression (LSR) from landmarks to all targets at once.

``penalty: none`` and ``l2`` (ridge) solve the normal equations, accumulated over
batches, so they also train from a streamed store: the landmark Gram matrix is
only landmarks x landmarks. The intercept is never penalised. ``l1`` is the lasso,
one independent fit per target (scikit-learn ``Lasso`` with a 2-D target), which
needs the training matrix in memory. ``alpha`` scales the penalty as scikit-learn
does: ridge minimises ``|Y - XW|^2 + alpha |W|^2``, lasso
``|Y - XW|^2 / (2n) + alpha |W|_1``.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin

from ...params import SEED, Real, StrOptions, at_least
from ..batches import as_batches
from . import register
from ._contract import InferenceContract


@register
class LeastSquares(InferenceContract, RegressorMixin, BaseEstimator):
    name = "lsr"
    _parameter_constraints = {"penalty": [StrOptions({"none", "l1", "l2"})], "alpha": [at_least(0, Real)],
                              "max_iter": [at_least(1)], "random_state": [SEED]}
    _test_params = {"penalty": "l2", "alpha": 0.1}

    def __init__(self, penalty: str = "none", alpha: float = 1.0, max_iter: int = 1000, random_state: int = 0):
        self.penalty = penalty
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, Y=None, *, validation=None):
        if self.penalty not in ("none", "l1", "l2"):
            raise ValueError(f"lsr: penalty must be none, l1 or l2, got {self.penalty!r}")
        source = as_batches(X, Y, 4096, self.random_state)
        if self.penalty == "l1":
            self._fit_lasso(*source.arrays())
        else:
            self._fit_normal_equations(source)
        return self

    def _fit_normal_equations(self, source) -> None:
        p = source.n_inputs
        gram = np.zeros((p + 1, p + 1))
        cross = np.zeros((p + 1, source.n_outputs))
        for xb, yb in source.in_order():
            design = np.hstack([np.asarray(xb, np.float64), np.ones((len(xb), 1))])
            gram += design.T @ design
            cross += design.T @ yb
        if self.penalty == "l2":
            gram[np.arange(p), np.arange(p)] += float(self.alpha)
            solution = linalg.solve(gram, cross, assume_a="pos")
        else:
            # Least-norm solution: also defined when landmarks are collinear.
            solution = linalg.lstsq(gram, cross, cond=1e-10)[0]
        self.coef_ = solution[:p].T.astype(np.float32)
        self.intercept_ = solution[p].astype(np.float32)

    def _fit_lasso(self, X, Y) -> None:
        from sklearn.linear_model import Lasso

        model = Lasso(alpha=float(self.alpha), max_iter=int(self.max_iter), random_state=self.random_state)
        model.fit(np.asarray(X, np.float64), np.asarray(Y, np.float64))
        self.coef_ = np.atleast_2d(model.coef_).astype(np.float32)
        self.intercept_ = np.atleast_1d(model.intercept_).astype(np.float32)

    def predict(self, X) -> np.ndarray:
        return np.asarray(X, np.float32) @ self.coef_.T + self.intercept_
