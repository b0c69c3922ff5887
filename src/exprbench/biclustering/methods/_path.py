"""Choosing γ for the convex methods: the smallest γ at which the fused rows and the
non-zero fused columns fall to the requested numbers of clusters (the same counts
the other methods are given), or where the counts stop changing short of them.

Fusion sets in near γ ≈ ‖X‖·√(n+p) for data of any size, and on structured data it
goes from no fusion to the final partition within a factor of a few, so the search
steps by 4 from there (down while the counts are already reached, up until they
are), then bisects the last step geometrically. Every fit is warm-started from the
duals of the nearest γ already fitted and stops once its partition is stable
(``stable_checks``), so a search costs a few short fits."""

from __future__ import annotations

import numpy as np

from ._convex import ConvexBiclusterSolver, ConvexFit


def counts(fit: ConvexFit) -> tuple[int, int]:
    return int(fit.row_labels.max()) + 1, int(fit.column_labels.max()) + 1


def starting_gamma(X: np.ndarray) -> float:
    """Near the onset of fusion for data of this size."""
    return float(np.linalg.norm(X)) * np.sqrt(sum(X.shape))


def search_gamma(solver: ConvexBiclusterSolver, n_rows: int, n_columns: int, lam: float = 0.0,
                 gamma0: float | None = None, refine: int = 2, max_steps: int = 20, step: float = 4.0,
                 **solve_options) -> tuple[float, ConvexFit, int]:
    """Returns (γ, its fit, number of fits run). Where the counts are never reached
    (e.g. COBRA keeps noise features as a cluster of their own), the first γ of a
    plateau (the same non-trivial counts at two successive steps) is taken."""
    X = solver.X.cpu().numpy()
    gamma = gamma0 if gamma0 is not None else starting_gamma(X)
    fit = solver.solve(gamma, lam, **solve_options)
    runs = 1

    def reached(f):
        r, c = counts(f)
        return r <= n_rows and c <= n_columns

    def run(g, warm):
        nonlocal runs
        runs += 1
        return solver.solve(g, lam, warm=warm.state, **solve_options)

    while reached(fit) and runs <= 4:  # clean data reach the counts early: step down
        lower = run(gamma / step, fit)
        if not reached(lower):
            low, high, high_fit = gamma / step, gamma, fit
            break
        gamma, fit = gamma / step, lower
    else:
        if reached(fit):
            return gamma, fit, runs
        low, high, high_fit, previous = gamma, None, None, None
        while high is None and runs < max_steps:
            nxt = run(gamma * step, fit)
            gamma *= step
            trivial = counts(nxt) == (solver.n, solver.p) or counts(nxt)[0] == solver.n
            if reached(nxt) or (previous is not None and counts(nxt) == counts(previous[1]) and not trivial):
                high, high_fit = (gamma, nxt) if reached(nxt) else previous
                if not reached(nxt):  # plateau: bisect between the step before it and its start
                    low = high / step
            else:
                low, previous = gamma, (gamma, nxt)
            fit = nxt
        if high is None:
            return gamma, fit, runs
    target = counts(high_fit)
    for _ in range(refine):  # towards the smallest γ with the same outcome
        middle = np.sqrt(low * high)
        fit = run(middle, high_fit)
        if counts(fit) == target or reached(fit):
            high, high_fit = middle, fit
        else:
            low = middle
    return high, high_fit, runs
