"""Recovery quality on planted sparse modules: every method against the mean profile,
and the 2019 study's ordering of the dictionary methods at few measurements.

The leading metric is gene-wise Pearson: the training mean profile does not win it
(its gene-wise Pearson is undefined, read as 0), whereas overall and per-sample
Pearson are dominated by the differences between gene means. Every margin below
holds on planted seeds 0 to 3 (smallest gaps: SMAF - SVD 0.23, sparse NMF - SVD 0.27,
SMAF - top-k SVD 0.06, generative prior 0.13); the test runs seed 0 to stay fast.
"""

import math

import numpy as np
import pytest
import torch

from exprbench.compressed_sensing.measurement import observe, random_measurement_matrix
from exprbench.compressed_sensing.methods import METHODS
from exprbench.compressed_sensing.methods._smaf import u_step
from exprbench.compressed_sensing.metrics import recovery_metrics
from exprbench.compressed_sensing.planted import planted_modules

torch.set_num_threads(1)

MEASUREMENTS = 20
SPARSITY = 15
# Small fits, a few seconds each; everything not listed is the method's default
# (the NN's L2 grid included). Dictionary sizes: the planted 30 modules.
SETTINGS = {
    "ksvd": {"n_components": 30, "n_iter": 5},
    "sparse_nmf": {"n_components": 30},
    "smaf": {"n_components": 30, "n_iter": 5},
    "nn": {"hidden_sizes": [64], "max_epochs": 150, "learning_rates": [1e-2], "device": "cpu"},
    "nn_smaf": {"smaf": {"n_components": 30, "n_iter": 3}, "hidden_sizes": [64], "max_epochs": 150,
                "learning_rates": [1e-2], "device": "cpu"},
    "generative_prior": {"latent_dim": 10, "hidden_sizes": [64], "max_epochs": 200, "batch_size": 64,
                         "learning_rate": 3e-3, "recovery_steps": 100, "device": "cpu"},
}


def build(name):
    cls = METHODS.get(name)
    params = dict(SETTINGS.get(name, {}))
    if "sparsity" in cls().get_params():
        params["sparsity"] = SPARSITY
    return cls(**params)


@pytest.fixture(scope="module")
def planted():
    X, _, _ = planted_modules(300, seed=0)
    train, test = X[:240], X[240:]
    rng = np.random.default_rng(1)
    A = random_measurement_matrix(MEASUREMENTS, X.shape[1], rng)
    return train, test, A, observe(test, A, 2.0, rng)


@pytest.fixture(scope="module")
def scores(planted):
    """Gene-wise Pearson of every registered method at 20 measurements."""
    train, test, A, Y = planted
    result = {}
    for name in METHODS.names():
        method = build(name).fit(train)
        method.fit_measurements(A, 2.0)
        metrics = recovery_metrics(test, method.recover(Y, A), np.random.default_rng(0))
        result[name] = metrics
    return result


def test_mean_profile_has_no_gene_wise_or_distance_correlation(scores):
    # A constant prediction: undefined, not a number computed from rounding noise.
    assert math.isnan(scores["mean_profile"]["gene_pearson"])
    assert math.isnan(scores["mean_profile"]["distance_pearson"])
    assert scores["mean_profile"]["overall_pearson"] > 0.2  # gene means alone score here


def baseline(scores) -> float:
    """The mean profile's gene-wise Pearson, undefined for a constant prediction: 0."""
    return float(np.nan_to_num(scores["mean_profile"]["gene_pearson"], nan=0.0))


def test_nn_beats_the_mean_profile_on_planted_modules(scores):
    assert scores["nn"]["gene_pearson"] > baseline(scores) + 0.4
    assert scores["nn_smaf"]["gene_pearson"] > baseline(scores) + 0.3


def test_nn_with_the_default_network_and_the_studys_l2_learns(planted):
    # The L2 penalty once grew with the network's width (l2 * sum(w^2) / 2n): at the
    # study's l2 = 1.0 the default 500-500-500 network output the training mean.
    train, test, A, Y = planted
    nn = METHODS.get("nn")(l2_values=[1.0], learning_rates=[1e-3], max_epochs=60, device="cpu").fit(train)
    nn.fit_measurements(A, 2.0)
    assert recovery_metrics(test, nn.recover(Y, A), np.random.default_rng(0))["gene_pearson"] > 0.4


@pytest.mark.parametrize("name", sorted(set(METHODS.names()) - {"mean_profile"}))
def test_every_method_beats_the_mean_profile(name, scores):
    assert scores[name]["gene_pearson"] > baseline(scores) + 0.1


def test_smaf_and_sparse_nmf_beat_svd_at_few_measurements(scores):
    # The study's Table 3 at d = 20: SMAF 0.82, sparse NMF 0.83, SVD 0.32.
    svd = scores["svd"]["gene_pearson"]
    assert scores["smaf"]["gene_pearson"] > svd + 0.1
    assert scores["sparse_nmf"]["gene_pearson"] > svd + 0.1


def test_top_k_svd_lies_between_svd_and_smaf(scores):
    # The report: the k-sparsity constraint improves SVD, but its k-SVD stays below SMAF
    # (Table 3 at d = 20: SVD 0.32, k-SVD 0.57, SMAF 0.82).
    top_k = scores["svd_top_k"]["gene_pearson"]
    assert scores["svd"]["gene_pearson"] + 0.05 < top_k < scores["smaf"]["gene_pearson"] - 0.03


@pytest.mark.parametrize("n_samples", [100, 800])
def test_u_step_keeps_planted_module_sizes_at_any_training_size(n_samples):
    # Given the planted activities, SMAF's U-step at its default tolerance finds modules
    # of about the planted 20 genes; a bound that tightens with n made them dense at 800.
    X, modules, activities = planted_modules(n_samples, seed=0)
    learned = u_step(X, activities, METHODS.get("smaf")().tolerance)
    genes_per_module = np.count_nonzero(learned > 0, axis=0)
    assert np.count_nonzero(modules, axis=0)[0] == 20
    assert 15 <= np.median(genes_per_module) <= 30
