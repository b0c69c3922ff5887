import numpy as np
import pytest
from conftest import separable_problem

from exprbench.classification.models import MODELS
from exprbench.classification.tuning import nested_search, sample_space

SPACE = {"learning_rate": {"log_uniform": [1e-4, 1e-1]}, "batch_size": {"choice": [8, 16]},
         "weight_decay": {"uniform": [0, 0.1]}}


def test_sampling_is_seeded_and_within_bounds():
    first = sample_space(SPACE, 20, np.random.default_rng(0))
    assert first == sample_space(SPACE, 20, np.random.default_rng(0))
    assert all(1e-4 <= t["learning_rate"] <= 1e-1 and t["batch_size"] in (8, 16) and 0 <= t["weight_decay"] <= 0.1
               for t in first)
    with pytest.raises(ValueError, match="distribution"):
        sample_space({"learning_rate": {"normal": [0, 1]}}, 1, np.random.default_rng(0))


def test_nested_search_prefers_a_learning_rate_that_trains():
    X, y = separable_problem(n=60)
    model = MODELS.get("logistic_regression")(max_epochs=5, device="cpu")
    space = {"learning_rate": {"choice": [1e-9, 5e-2]}}
    best, trials = nested_search(model, space, X, y, np.arange(60), np.array([0, 1]),
                                 n_trials=6, inner_folds=2, rng=np.random.default_rng(0))
    assert best == {"learning_rate": 5e-2}
    assert len(trials) == 6 and all("score" in t for t in trials)


def test_no_trials_keeps_the_configured_parameters():
    X, y = separable_problem(n=20)
    model = MODELS.get("logistic_regression")()
    assert nested_search(model, SPACE, X, y, np.arange(20), np.array([0, 1]),
                         n_trials=0, inner_folds=2, rng=np.random.default_rng(0)) == ({}, [])


def test_correction_reaches_each_inner_validation_fold_and_each_fit_on_its_own():
    """Signal removal runs per inner part: the data come uncorrected, each inner
    validation fold is corrected alone, and each fit gets the correction for its
    own fit part and early-stopping holdout."""
    X, y = separable_problem(n=60)
    sizes = []

    def record(X_part, y_part):
        sizes.append(len(y_part))
        return X_part

    model = MODELS.get("logistic_regression")(max_epochs=1, device="cpu")
    nested_search(model, {"learning_rate": {"choice": [1e-2]}}, X, y, np.arange(60), np.array([0, 1]),
                  n_trials=2, inner_folds=3, rng=np.random.default_rng(0), correct=record)
    # Per trial and inner fold: the fit part and holdout of 40 samples, then the 20 validation samples.
    assert sizes == [32, 8, 20] * 6
