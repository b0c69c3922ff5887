"""Every registered recovery method on a toy problem, plus method-specific checks."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from exprbench.compressed_sensing.measurement import observe, random_measurement_matrix
from exprbench.compressed_sensing.methods import METHODS

torch.set_num_threads(1)

SMALL = {
    "smaf": {"n_components": 8, "n_iter": 2},
    "ksvd": {"n_components": 8, "n_iter": 2},
    "sparse_nmf": {"n_components": 8, "max_iter": 20},
    "nn": {"hidden_sizes": [16], "max_epochs": 5, "learning_rates": [1e-3, 1e-2], "l2_values": [0.0], "device": "cpu"},
    "nn_smaf": {"smaf": {"n_components": 8, "n_iter": 2}, "hidden_sizes": [16], "max_epochs": 5,
                "learning_rates": [1e-3], "l2_values": [0.0], "device": "cpu"},
    "generative_prior": {"latent_dim": 3, "hidden_sizes": [16], "max_epochs": 3, "recovery_steps": 5, "device": "cpu"},
}


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    modules = rng.random((40, 5)) * (rng.random((40, 5)) < 0.3)
    X = rng.random((60, 5)) @ modules.T + 0.05 * rng.random((60, 40))
    A = random_measurement_matrix(12, 40, rng)
    return X[:45], X[45:], A, observe(X[45:], A, 2.0, rng)


def recover(method, X_train, A, Y):
    method.fit(X_train)
    method.fit_measurements(A, 2.0)
    return method.recover(Y, A)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_fits_recovers_is_deterministic_and_clones(name, toy):
    X_train, X_test, A, Y = toy
    cls = METHODS.get(name)
    method = cls(**SMALL.get(name, {}), sparsity=3) if "sparsity" in cls().get_params() else cls(**SMALL.get(name, {}))
    first = recover(method, X_train, A, Y)
    assert first.shape == X_test.shape and np.all(np.isfinite(first))
    assert hasattr(method, "n_iter_")
    if hasattr(method, "dictionary_"):
        assert method.dictionary_.shape[0] == X_train.shape[1]
    again = recover(clone(method), X_train, A, Y)
    np.testing.assert_array_equal(first, again)
    assert clone(method).get_params() == method.get_params()


def test_every_method_is_registered():
    assert set(METHODS.names()) == {"mean_profile", "svd", "svd_top_k", "ksvd", "sparse_nmf", "smaf", "nn",
                                    "nn_smaf", "generative_prior"}


def test_svd_is_uncentred_and_top_k_keeps_k_components(toy):
    X_train = toy[0]
    svd = METHODS.get("svd")(n_components=0.5).fit(X_train)
    U, _, _ = np.linalg.svd(X_train.T, full_matrices=False)
    np.testing.assert_allclose(np.abs(svd.dictionary_), np.abs(U[:, :22]))
    top = METHODS.get("svd_top_k")(sparsity=4).fit(X_train)
    np.testing.assert_allclose(np.abs(top.dictionary_), np.abs(U[:, :4]))


def test_sparse_nmf_runs_its_fixed_iteration_count(toy):
    nmf = METHODS.get("sparse_nmf")(n_components=5, max_iter=17).fit(toy[0])
    assert nmf.n_iter_ == 17
    assert nmf.dictionary_.min() >= 0
    np.testing.assert_allclose(np.linalg.norm(nmf.dictionary_, axis=0), 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        METHODS.get("sparse_nmf")().fit(toy[0] - 1)


def test_ksvd_atoms_are_unit_norm_and_codes_sparse(toy):
    from exprbench.compressed_sensing.decode import fit_fraction, omp_codes

    X_train = toy[0]
    fits = []
    for n_iter in (1, 5):
        model = METHODS.get("ksvd")(n_components=8, sparsity=2, n_iter=n_iter).fit(X_train)
        np.testing.assert_allclose(np.linalg.norm(model.dictionary_, axis=0), 1.0)
        codes = omp_codes(X_train, model.dictionary_, 2)
        fits.append(fit_fraction(X_train, codes @ model.dictionary_.T))
    assert fits[1] >= fits[0] - 1e-9  # more K-SVD sweeps do not fit worse


def test_measurement_trained_methods_need_their_matrix(toy):
    X_train, _, A, Y = toy
    nn = METHODS.get("nn")(**SMALL["nn"]).fit(X_train)
    with pytest.raises(ValueError, match="fit_measurements"):
        nn.recover(Y, A)
    nn.fit_measurements(A, 2.0)
    assert nn.regressor_.lr_ in (1e-3, 1e-2) and len(nn.regressor_.validation_) == 2
    with pytest.raises(ValueError, match="fit_measurements"):
        nn.recover(Y, A * 2)
