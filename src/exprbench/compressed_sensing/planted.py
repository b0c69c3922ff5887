"""Planted sparse-module expression: a known answer for recovery checks.

Each of ``n_modules`` non-negative modules holds ``genes_per_module`` random genes;
each sample activates ``active_per_sample`` random modules with random positive
weights (the structure SMAF assumes). Small non-negative noise is added and every
gene is scaled to [0, 1], like the experiments' ``scale_01``.
"""

from __future__ import annotations

import numpy as np

from ..seeding import make_rng


def planted_modules(n_samples: int, n_genes: int = 200, n_modules: int = 30, genes_per_module: int = 20,
                    active_per_sample: int = 3, noise: float = 0.02,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (X samples x genes, modules genes x modules, activities samples x modules).

    The modules depend on ``seed`` only, not on ``n_samples``, so data of different
    sizes share their modules."""
    module_rng, sample_rng = make_rng(seed, "planted modules"), make_rng(seed, "planted samples", n_samples)
    modules = np.zeros((n_genes, n_modules))
    for j in range(n_modules):
        genes = module_rng.choice(n_genes, size=genes_per_module, replace=False)
        modules[genes, j] = module_rng.uniform(0.5, 1.5, genes_per_module)
    activities = np.zeros((n_samples, n_modules))
    for i in range(n_samples):
        active = sample_rng.choice(n_modules, size=active_per_sample, replace=False)
        activities[i, active] = sample_rng.uniform(0.5, 2.0, active_per_sample)
    X = activities @ modules.T + noise * sample_rng.random((n_samples, n_genes))
    low, span = X.min(axis=0), np.ptp(X, axis=0)
    return (X - low) / np.where(span > 0, span, 1.0), modules, activities
