"""SMAF dictionary (Cleary et al. 2017); the algorithm is in ``_smaf``."""

from __future__ import annotations

from ...params import SEED, Integral, Interval, Real, at_least, positive
from ...seeding import make_rng
from . import register
from ._base import DictionaryMethod, check_expression, n_modules
from ._smaf import smaf


@register
class SMAF(DictionaryMethod):
    """Defaults from the reference's ``direct_vs_distributed.py``: min(1.5 n_train, 150)
    modules, 5 initial non-zeros per sample, 10 iterations, minimum sparsity 3,
    module_lower = n_genes / 10 (``module_lower`` < 1 is a fraction of the genes),
    activity_lower 0. ``sparsity`` is the decoding k at recovery; ``n_jobs``
    processes share the U-step's genes (same result for any value).

    ``tolerance`` 5e-3 bounds each gene's U-step residual relative to its own energy
    (``_smaf``). The reference's 5e-4 was relative to ||X||^2 / n_samples; at its own
    setting (5,000 genes, about 500 training samples) that is about 5e-3 of a gene's
    energy, which this default keeps for any training size. The W-step keeps a global
    fit of at least 1 - tolerance."""

    name = "smaf"
    _parameter_constraints = {
        "n_components": [positive()], "n_components_per_sample": [positive()], "initial_sparsity": [at_least(1)],
        "tolerance": [at_least(0, Real)], "n_iter": [at_least(1)], "min_sparsity": [at_least(1)],
        "module_lower": [at_least(0, Real)], "activity_lower": [at_least(0, Real)], "sparsity": [at_least(1)],
        "n_jobs": [Interval(Integral, None, None, closed="neither")], "random_state": [SEED],
    }
    _test_params = {"n_components": 4, "initial_sparsity": 2, "min_sparsity": 1, "sparsity": 2, "n_iter": 2}

    def __init__(self, n_components=150, n_components_per_sample=1.5, initial_sparsity=5, tolerance=5e-3,
                 n_iter=10, min_sparsity=3, module_lower=0.1, activity_lower=0.0, sparsity=15, n_jobs=1,
                 random_state=0):
        self.n_components = n_components
        self.n_components_per_sample = n_components_per_sample
        self.initial_sparsity = initial_sparsity
        self.tolerance = tolerance
        self.n_iter = n_iter
        self.min_sparsity = min_sparsity
        self.module_lower = module_lower
        self.activity_lower = activity_lower
        self.sparsity = sparsity
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y=None):
        X = check_expression(X)
        size = min(int(self.n_components_per_sample * X.shape[0]), int(self.n_components))
        size = n_modules(size, X.shape[0], 10**9)
        lower = self.module_lower * X.shape[1] if self.module_lower < 1 else self.module_lower
        U, W, history = smaf(X, size, self.initial_sparsity, self.tolerance, self.n_iter, self.min_sparsity,
                             lower, self.activity_lower, make_rng(self.random_state, "smaf"), self.n_jobs)
        self.dictionary_ = U
        self.codes_ = W
        self.history_ = history
        self.n_iter_ = len(history)
        return self
