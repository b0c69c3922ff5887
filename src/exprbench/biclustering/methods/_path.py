"""Choosing γ for the convex methods: the smallest γ, on a doubling grid refined by
bisection, at which the fused rows and the non-zero fused columns fall to the
requested numbers of clusters (the same counts the other methods are given)."""

from __future__ import annotations

import numpy as np

from ._convex import ConvexBiclusterSolver, ConvexFit


def counts(fit: ConvexFit) -> tuple[int, int]:
    return int(fit.row_labels.max()) + 1, int(fit.column_labels.max()) + 1


def starting_gamma(X: np.ndarray) -> float:
    """Below any fusion for data of this size: fusion sets in near ‖X‖·√(n+p)."""
    return 1e-2 * float(np.linalg.norm(X)) * np.sqrt(sum(X.shape))


def search_gamma(solver: ConvexBiclusterSolver, n_rows: int, n_columns: int, lam: float = 0.0,
                 gamma0: float | None = None, refine: int = 2, max_doublings: int = 40,
                 **solve_options) -> tuple[float, ConvexFit, int]:
    """Returns (γ, its fit, number of fits run)."""
    gamma = gamma0 if gamma0 is not None else starting_gamma(solver.X.cpu().numpy())
    fit = solver.solve(gamma, lam, **solve_options)
    runs = 1

    def reached(f):
        r, c = counts(f)
        return r <= n_rows and c <= n_columns

    # Step down when the first guess already reaches the counts (clean data reach them at any γ).
    while reached(fit) and runs <= 4:
        gamma /= 4
        fit = solver.solve(gamma, lam, warm=fit.state, **solve_options)
        runs += 1
    if reached(fit):
        return gamma, fit, runs
    low, high, high_fit = gamma, None, None
    while high is None and runs < 2 * max_doublings:
        gamma *= 2
        fit = solver.solve(gamma, lam, warm=fit.state, **solve_options)
        runs += 1
        if reached(fit):
            high, high_fit = gamma, fit
        else:
            low = gamma
    if high is None:
        return gamma, fit, runs
    for _ in range(refine):  # geometric bisection towards the smallest γ that reaches the counts
        middle = np.sqrt(low * high)
        fit = solver.solve(middle, lam, warm=high_fit.state, **solve_options)
        runs += 1
        if reached(fit):
            high, high_fit = middle, fit
        else:
            low = middle
    return high, high_fit, runs
