"""Non-negative dictionary from scikit-learn's NMF with a fixed iteration count.

The reference calls ``spams.nmf(iter=-1)``, which runs for one second: results
depend on machine speed. Here ``max_iter`` is fixed (``tol=0`` so it is not cut
short) and the iterations run are recorded in ``n_iter_``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ...params import SEED, Real, at_least, between, positive
from . import register
from ._base import DictionaryMethod, check_expression, n_modules


@register
class SparseNMF(DictionaryMethod):
    """X_train ~ H @ components_; U = components_.T with unit-norm columns (SPAMS bounds
    atoms to ||d_j|| <= 1). ``alpha``/``l1_ratio`` add sklearn's sparsity penalty on
    the codes (0 = the reference's lambda 0)."""

    name = "sparse_nmf"
    _parameter_constraints = {
        "n_components": [positive()], "sparsity": [at_least(1)], "max_iter": [at_least(1)],
        "alpha": [at_least(0, Real)], "l1_ratio": [between(0, 1)], "random_state": [SEED],
    }
    _test_params = {"n_components": 3, "sparsity": 2, "max_iter": 20}

    def __init__(self, n_components=0.5, sparsity=15, max_iter=200, alpha=0.0, l1_ratio=1.0, random_state=0):
        self.n_components = n_components
        self.sparsity = sparsity
        self.max_iter = max_iter
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import NMF

        X = check_expression(X)
        if X.min() < 0:
            raise ValueError("sparse_nmf needs non-negative expression; set scale_01: true in the experiment")
        size = n_modules(self.n_components, X.shape[0], min(X.shape))
        model = NMF(n_components=size, init="nndsvda", max_iter=self.max_iter, tol=0.0, alpha_W=self.alpha,
                    l1_ratio=self.l1_ratio, random_state=self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # expected: the count is fixed
            model.fit(X)
        U = model.components_.T
        norms = np.linalg.norm(U, axis=0)
        self.dictionary_ = U / np.where(norms > 0, norms, 1.0)
        self.n_iter_ = int(model.n_iter_)
        return self
