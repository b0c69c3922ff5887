"""K-SVD dictionary learning (Aharon, Elad and Bruckstein 2006).

Not the reference's "k-SVD" (that is ``svd_top_k``). Alternates OMP sparse coding
with ``sparsity`` atoms per sample and an exact rank-1 SVD update of each atom and
its non-zero coefficients, for a fixed number of iterations.
"""

from __future__ import annotations

import sys

import numpy as np

from ...params import SEED, at_least, positive
from ...seeding import make_rng
from ..decode import fit_fraction, omp_codes
from . import register
from ._base import DictionaryMethod, check_expression, n_modules


def update_atoms(X: np.ndarray, D: np.ndarray, codes: np.ndarray) -> None:
    """One K-SVD sweep over the atoms, in place (X samples x genes, D genes x atoms)."""
    residual = X - codes @ D.T
    for j in range(D.shape[1]):
        users = np.flatnonzero(codes[:, j])
        if users.size == 0:
            # An unused atom takes the worst-represented sample's direction.
            worst = int(np.argmax(np.sum(residual ** 2, axis=1)))
            norm = np.linalg.norm(residual[worst])
            if norm > 0:
                D[:, j] = residual[worst] / norm
            continue
        error = residual[users] + np.outer(codes[users, j], D[:, j])
        left, singular, right = np.linalg.svd(error, full_matrices=False)
        D[:, j] = right[0]
        codes[users, j] = singular[0] * left[:, 0]
        residual[users] = error - np.outer(codes[users, j], D[:, j])


@register
class KSVD(DictionaryMethod):
    name = "ksvd"
    _parameter_constraints = {"n_components": [positive()], "sparsity": [at_least(1)], "n_iter": [at_least(1)],
                              "random_state": [SEED]}
    _test_params = {"n_components": 4, "sparsity": 2, "n_iter": 2}

    def __init__(self, n_components=150, sparsity=15, n_iter=10, random_state=0):
        self.n_components = n_components
        self.sparsity = sparsity
        self.n_iter = n_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        X = check_expression(X)
        size = n_modules(self.n_components, X.shape[0], X.shape[0])
        # Start from distinct random training samples, scaled to unit norm.
        start = make_rng(self.random_state, "ksvd").choice(X.shape[0], size=size, replace=False)
        D = X[start].T.copy()
        D /= np.where(np.linalg.norm(D, axis=0) > 0, np.linalg.norm(D, axis=0), 1.0)
        for iteration in range(1, self.n_iter + 1):
            codes = omp_codes(X, D, self.sparsity)
            update_atoms(X, D, codes)
            print(f"ksvd iteration {iteration}/{self.n_iter}: fit {fit_fraction(X, codes @ D.T):.4f}",
                  file=sys.stderr)
        self.dictionary_ = D
        self.n_iter_ = self.n_iter
        return self
