"""Sparse Convex Biclustering (SpaCoBi, Jiang et al.): COBRA's objective plus a
group lasso on whole features, λ Σ_j ‖U_·j‖, which sets noise features (columns)
exactly to zero; zeroed columns get column label -1 and belong to no bicluster.

λ = ``sparsity`` x max_j ‖X_·j‖ (at sparsity 1 every column is zero). Unless
``sparsity`` is fixed, it is tuned by stability over ``sparsities``: for each
value, γ is chosen on the full data as for COBRA (counting non-zero columns only),
the method is refitted on ``n_subsamples`` seeded subsamples of the rows, and the
value whose fits agree most across subsamples wins: per pair of subsample fits,
the mean of Cohen's kappa of the kept-feature sets (0 when a fit keeps all or
none) and the adjusted Rand index of the column partitions (zeroed columns as
one group). Of the values scoring within ``tie`` of the best, the least sparse
wins (over-sparse values that zero a weak signal cluster are stable too). Values
that zero every column in some fit are skipped."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from ...seeding import make_rng
from . import register
from ._base import check_matrix
from ._path import search_gamma
from .convex_biclustering import ConvexBiclustering


def selection_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean selections of the same features; 0 when either
    selects all or none (no agreement beyond chance can be shown)."""
    if a.all() or b.all() or not a.any() or not b.any():
        return 0.0
    observed = np.mean(a == b)
    expected = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return float((observed - expected) / (1 - expected))


@register
class SpaCoBi(ConvexBiclustering):
    name = "spacobi"

    def __init__(self, n_row_clusters: int = 3, n_column_clusters: int = 3, gamma: float | None = None,
                 sparsity: float | None = None, sparsities: tuple = (0.1, 0.2, 0.3),
                 n_subsamples: int = 2, subsample_fraction: float = 0.7, tie: float = 0.05, k_neighbors: int = 5,
                 phi: float = 5.0,
                 solver: str = "ama", tol: float = 1e-3, max_iter: int = 100, inner_steps: int = 5,
                 fuse_tol: float = 1e-3, stable_checks: int = 3, device: str = "cpu", random_state: int = 0):
        super().__init__(n_row_clusters, n_column_clusters, gamma, k_neighbors, phi, solver, tol, max_iter,
                         inner_steps, fuse_tol, stable_checks, device, random_state)
        self.sparsity = sparsity
        self.sparsities = sparsities
        self.n_subsamples = n_subsamples
        self.subsample_fraction = subsample_fraction
        self.tie = tie

    def _fit_at(self, X: np.ndarray, sparsity: float, gamma0=None):
        """(γ, fit, fits run) at one sparsity on rows X; γ fixed or searched."""
        solver = self._solver(X)
        lam = sparsity * float(np.linalg.norm(solver.X.cpu().numpy(), axis=0).max())
        if self.gamma is not None:
            return self.gamma, solver.solve(self.gamma, lam, **self._options()), 1
        return search_gamma(solver, self.n_row_clusters, self.n_column_clusters, lam=lam, gamma0=gamma0,
                            **self._options())

    def subsamples(self, n_rows: int) -> list[np.ndarray]:
        size = max(self.n_row_clusters + 1, int(round(self.subsample_fraction * n_rows)))
        return [np.sort(make_rng(self.random_state, "spacobi subsample", b).choice(n_rows, size, replace=False))
                for b in range(self.n_subsamples)]

    def stability(self, X: np.ndarray, sparsity: float, gamma: float, warm=None) -> float:
        """Mean over pairs of row-subsample fits at (γ, sparsity) of the average of
        (a) Cohen's kappa of the two kept-feature sets and (b) the ARI of the two
        column partitions. Kappa is 0 (chance) when a fit keeps every feature or
        none: such a selection says nothing about which features are noise, which is
        what let an unpenalised, merely stable partition win before. NaN when a fit
        keeps no column."""
        partitions = []
        for rows in self.subsamples(X.shape[0]):
            solver = self._solver(X[rows])
            lam = sparsity * float(np.linalg.norm(solver.X.cpu().numpy(), axis=0).max())
            labels = solver.solve(gamma, lam, **self._options()).column_labels
            if (labels < 0).all():
                return np.nan
            partitions.append(labels)
        pairs = list(combinations(partitions, 2))
        if not pairs:
            return np.nan
        return float(np.mean([(selection_kappa(a >= 0, b >= 0) + adjusted_rand_score(a, b)) / 2 for a, b in pairs]))

    def fit(self, X, y=None):
        X = check_matrix(X)
        self._check_counts(X)
        if self.sparsity is not None:
            gamma, fit, runs = self._fit_at(X, self.sparsity)
            self.sparsity_, self.stability_path_ = self.sparsity, {}
            return self._finish(fit, gamma, runs)
        fits, path, total, gamma0 = {}, {}, 0, None
        for sparsity in sorted(self.sparsities):
            gamma, fit, runs = self._fit_at(X, sparsity, gamma0)
            total += runs + self.n_subsamples
            gamma0 = gamma  # the next sparsity's γ lies nearby: start the search there
            score = np.nan if (fit.column_labels < 0).all() else self.stability(X, sparsity, gamma)
            path[sparsity] = score
            if not np.isnan(score):
                fits[sparsity] = (gamma, fit)
        if not fits:
            raise ValueError(f"spacobi: every sparsity in {list(self.sparsities)} zeroes all features; "
                             "use smaller sparsities")
        top = max(path[s] for s in fits)
        # The least sparse value within ``tie`` of the best (Sun, Wang and Fang 2013): zeroing a
        # whole weak signal cluster is stable too, so near-ties must not go to the sparser.
        self.sparsity_ = min(s for s in fits if path[s] >= top - self.tie)
        gamma, fit = fits[self.sparsity_]
        self.stability_path_ = path
        return self._finish(fit, gamma, total)
