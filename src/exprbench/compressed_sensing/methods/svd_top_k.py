"""The reference's "k-SVD": the SVD dictionary truncated to the top k components.

Not the K-SVD dictionary-learning algorithm (that is ``ksvd``): decoding with k
atoms out of k is least squares on the leading k singular vectors.
"""

from __future__ import annotations

import numpy as np

from ...params import at_least
from . import register
from ._base import DictionaryMethod, check_expression


@register
class SVDTopK(DictionaryMethod):
    name = "svd_top_k"
    _parameter_constraints = {"sparsity": [at_least(1)]}
    _test_params = {"sparsity": 2}

    def __init__(self, sparsity=15):
        self.sparsity = sparsity

    def fit(self, X, y=None):
        X = check_expression(X)
        U, _, _ = np.linalg.svd(X.T, full_matrices=False)
        self.dictionary_ = U[:, : min(self.sparsity, U.shape[1])]
        self.n_iter_ = 0
        return self
