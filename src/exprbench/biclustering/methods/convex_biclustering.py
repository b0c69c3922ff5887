"""Convex biclustering without sparsity: COBRA (Chi, Allen and Baraniuk 2017).

½‖X − U‖² plus fused group penalties on the differences of columns and of rows of
U over k-nearest-neighbour graphs with Gaussian-kernel weights, solved by the
Dykstra-like alternation of column and row convex clustering, each by AMA or ADMM
(see ``_convex``). Columns are centred first. Biclusters are the fused rows x the
fused columns at the γ chosen by ``_path.search_gamma`` (or a fixed ``gamma``)."""

from __future__ import annotations

import numpy as np

from . import register
from ._base import BiclusterMethod, check_matrix
from ._convex import ConvexBiclusterSolver
from ._path import search_gamma


@register
class ConvexBiclustering(BiclusterMethod):
    name = "convex_biclustering"

    def __init__(self, n_row_clusters: int = 3, n_column_clusters: int = 3, gamma: float | None = None,
                 k_neighbors: int = 5, phi: float = 5.0, solver: str = "ama", tol: float = 1e-3,
                 max_iter: int = 100, inner_steps: int = 5, fuse_tol: float = 1e-3, stable_checks: int = 3,
                 device: str = "cpu", random_state: int = 0):
        self.n_row_clusters = n_row_clusters
        self.n_column_clusters = n_column_clusters
        self.gamma = gamma
        self.k_neighbors = k_neighbors
        self.phi = phi
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.inner_steps = inner_steps
        self.fuse_tol = fuse_tol
        self.stable_checks = stable_checks
        self.device = device
        self.random_state = random_state  # deterministic; kept for the common interface

    def _solver(self, X: np.ndarray) -> ConvexBiclusterSolver:
        from ...devices import resolve_device

        return ConvexBiclusterSolver(X - X.mean(axis=0), k=self.k_neighbors, phi=self.phi, solver=self.solver,
                                     device=resolve_device(self.device))

    def _options(self) -> dict:
        return {"tol": self.tol, "max_iter": self.max_iter, "inner_steps": self.inner_steps,
                "fuse_tol": self.fuse_tol, "stable_checks": self.stable_checks}

    def _finish(self, fit, gamma: float, n_fits: int):
        self.gamma_, self.U_ = gamma, fit.U
        self.row_labels_, self.column_labels_ = fit.row_labels, fit.column_labels
        self.n_iter_, self.n_fits_, self.duality_gap_ = fit.n_iter, n_fits, fit.gap
        return self

    def fit(self, X, y=None):
        X = check_matrix(X)
        self._check_counts(X)
        solver = self._solver(X)
        if self.gamma is not None:
            return self._finish(solver.solve(self.gamma, 0.0, **self._options()), self.gamma, 1)
        gamma, fit, runs = search_gamma(solver, self.n_row_clusters, self.n_column_clusters, **self._options())
        return self._finish(fit, gamma, runs)
