"""Sparse Convex Biclustering (SpaCoBi, Jiang et al.): COBRA's objective plus a
group lasso on whole features, λ Σ_j ‖U_·j‖, which sets noise features (columns)
exactly to zero; zeroed columns get column label -1 and belong to no bicluster.

λ = ``sparsity`` x max_j ‖X_·j‖ (at sparsity 1 every column is zero). Unless
``sparsity`` is fixed, it is tuned by stability over ``sparsities``: for each
value, γ is chosen on the full data as for COBRA (counting non-zero columns only),
the method is refitted on ``n_subsamples`` seeded subsamples of the rows, and the
value whose column partitions (zeroed columns as one group) agree most across
subsamples, by mean pairwise adjusted Rand index, wins; ties go to the sparser.
Values that zero every column in some fit are skipped."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from ...seeding import make_rng
from . import register
from ._base import check_matrix
from ._path import search_gamma
from .convex_biclustering import ConvexBiclustering

@register
class SpaCoBi(ConvexBiclustering):
    name = "spacobi"

    def __init__(self, n_row_clusters: int = 3, n_column_clusters: int = 3, gamma: float | None = None,
                 sparsity: float | None = None, sparsities: tuple = (0.1, 0.2, 0.3),
                 n_subsamples: int = 3, subsample_fraction: float = 0.7, k_neighbors: int = 5, phi: float = 5.0,
                 solver: str = "ama", tol: float = 1e-3, max_iter: int = 100, inner_steps: int = 5,
                 fuse_tol: float = 1e-3, device: str = "cpu", random_state: int = 0):
        super().__init__(n_row_clusters, n_column_clusters, gamma, k_neighbors, phi, solver, tol, max_iter,
                         inner_steps, fuse_tol, device, random_state)
        self.sparsity = sparsity
        self.sparsities = sparsities
        self.n_subsamples = n_subsamples
        self.subsample_fraction = subsample_fraction

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

    def stability(self, X: np.ndarray, sparsity: float, gamma: float) -> float:
        """Mean pairwise ARI of the column partitions of the row-subsample fits at
        (γ, sparsity); NaN when a fit keeps no column."""
        partitions = []
        for rows in self.subsamples(X.shape[0]):
            solver = self._solver(X[rows])
            lam = sparsity * float(np.linalg.norm(solver.X.cpu().numpy(), axis=0).max())
            labels = solver.solve(gamma, lam, **self._options()).column_labels
            if (labels < 0).all():
                return np.nan
            partitions.append(labels)
        pairs = list(combinations(partitions, 2))
        return float(np.mean([adjusted_rand_score(a, b) for a, b in pairs])) if pairs else np.nan

    def fit(self, X, y=None):
        X = check_matrix(X)
        self._check_counts(X)
        if self.sparsity is not None:
            gamma, fit, runs = self._fit_at(X, self.sparsity)
            self.sparsity_, self.stability_path_ = self.sparsity, {}
            return self._finish(fit, gamma, runs)
        best, path, total, gamma0 = None, {}, 0, None
        for sparsity in sorted(self.sparsities):
            gamma, fit, runs = self._fit_at(X, sparsity, gamma0)
            total += runs + self.n_subsamples
            gamma0 = gamma / 2  # the next sparsity's γ lies nearby: start the search there
            score = np.nan if (fit.column_labels < 0).all() else self.stability(X, sparsity, gamma)
            path[sparsity] = score
            if not np.isnan(score) and (best is None or score >= best[0] - 1e-12):
                best = (score, sparsity, gamma, fit)
        if best is None:
            raise ValueError(f"spacobi: every sparsity in {list(self.sparsities)} zeroes all features; "
                             "use smaller sparsities")
        _, self.sparsity_, gamma, fit = best
        self.stability_path_ = path
        return self._finish(fit, gamma, total)
