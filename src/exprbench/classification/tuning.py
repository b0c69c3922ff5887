"""Hyper-parameter search by nested, group-wise cross-validation over the
training folds, with a seeded random search (the reference pipeline built a
seeded sampler but never passed it, so its searches were not reproducible)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import clone

from ..metrics import balanced_accuracy
from ..splits import group_kfold

DISTRIBUTIONS = ("log_uniform", "uniform", "choice")


def sample_space(space: dict, n_trials: int, rng: np.random.Generator) -> list[dict]:
    """Draw ``n_trials`` parameter sets from a YAML search space such as
    ``{"lr": {"log_uniform": [1e-5, 1e-2]}, "batch_size": {"choice": [16, 32]}}``."""
    trials = []
    for _ in range(n_trials):
        params = {}
        for name in sorted(space):
            (kind, bounds), = space[name].items()
            if kind == "log_uniform":
                low, high = math.log(bounds[0]), math.log(bounds[1])
                params[name] = float(math.exp(rng.uniform(low, high)))
            elif kind == "uniform":
                params[name] = float(rng.uniform(bounds[0], bounds[1]))
            elif kind == "choice":
                params[name] = bounds[int(rng.integers(len(bounds)))]
            else:
                raise ValueError(f"search distribution {kind!r} is not one of {DISTRIBUTIONS}")
        trials.append(params)
    return trials


def nested_search(estimator, space, X, y, groups, classes, *, n_trials, inner_folds, rng,
                  correct=None, stacked=False, compile_steps=False) -> tuple[dict, list]:
    """Return the best parameter set by mean inner balanced accuracy, and all trials.

    Inner folds whose training part holds fewer than two classes are skipped.
    With no trials, or no usable inner fold, the estimator's own parameters win.
    ``correct(X_part, y_part)``, e.g. signal removal, is applied to each inner
    validation fold on its own and passed to ``fit`` for the inner training part,
    so ``X`` must come uncorrected.

    ``stacked``: train all (trial, inner fold) fits at once as one stacked model
    (``classification.stacked``; faster on a GPU, equal to float rounding) when the
    estimator stacks; ``compile_steps`` compiles its fixed-shape steps.
    """
    if n_trials <= 0 or not space:
        return {}, []
    candidates = sample_space(space, n_trials, rng)
    folds = group_kfold(groups, inner_folds, rng)
    usable = [k for k in range(inner_folds) if len(np.unique(y[folds != k])) >= 2]
    if not usable:
        return {}, []
    models = {(i, k): clone(estimator).set_params(**params) for i, params in enumerate(candidates) for k in usable}
    if stacked:
        from .stacked import fit_stacked, stackable

        stacked = stackable(estimator) is None
    if stacked:
        fit_stacked(list(models.values()), X, y, [np.flatnonzero(folds != k) for _, k in models],
                    groups=groups, classes=classes, correct=correct, compile_steps=compile_steps)
    results = []
    for i, params in enumerate(candidates):
        scores = []
        for k in usable:
            train, val = folds != k, folds == k
            model = models[i, k]
            if not stacked:
                model.fit(X[train], y[train], classes=classes, groups=groups[train], correct=correct)
            X_val = X[val] if correct is None else correct(X[val], y[val])
            scores.append(balanced_accuracy(y[val], model.predict(X_val)))
        results.append({**params, "score": float(np.mean(scores))})
    best = max(range(len(results)), key=lambda i: results[i]["score"])
    return candidates[best], results
