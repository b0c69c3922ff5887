"""SVD dictionary: left singular vectors of the uncentred training matrix."""

from __future__ import annotations

import numpy as np

from ...params import at_least, positive
from . import register
from ._base import DictionaryMethod, check_expression, n_modules


@register
class SVD(DictionaryMethod):
    """U = the first ``n_components`` left singular vectors of X_train (genes x samples),
    without centring, as the reference; ``n_components`` < 1 is a fraction of the
    training samples (reference default 0.5)."""

    name = "svd"
    _parameter_constraints = {"n_components": [positive()], "sparsity": [at_least(1)]}
    _test_params = {"n_components": 3, "sparsity": 2}

    def __init__(self, n_components=0.5, sparsity=15):
        self.n_components = n_components
        self.sparsity = sparsity

    def fit(self, X, y=None):
        X = check_expression(X)
        U, _, _ = np.linalg.svd(X.T, full_matrices=False)
        size = n_modules(self.n_components, X.shape[0], U.shape[1])
        self.dictionary_ = U[:, :size]
        self.n_iter_ = 0
        return self
