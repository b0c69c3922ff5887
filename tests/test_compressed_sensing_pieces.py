"""Compressed sensing building blocks, each on a small hand-checkable case."""

import numpy as np
import pytest

from exprbench.compressed_sensing.data import clip_at_percentile, scale_01, select, split
from exprbench.compressed_sensing.decode import decode_sparsest, fit_fraction, omp_codes
from exprbench.compressed_sensing.measurement import observe, random_measurement_matrix, scaled_noise
from exprbench.compressed_sensing.methods._smaf import min_l1_nonnegative
from exprbench.compressed_sensing.methods.smaf import SMAF
from exprbench.compressed_sensing.metrics import distance_correlation, recovery_metrics


def test_measurement_rows_have_unit_norm_and_low_correlation():
    A = random_measurement_matrix(40, 300, np.random.default_rng(0))
    assert A.shape == (40, 300)
    np.testing.assert_allclose(np.linalg.norm(A, axis=1), 1.0)
    corr = np.corrcoef(A)
    assert np.max(np.abs(corr[~np.eye(40, dtype=bool)])) <= 0.2


def test_measurement_rows_are_redrawn_when_too_correlated():
    # 10 genes: random rows often correlate above 0.2, so redraws must happen and succeed at 0.9.
    A = random_measurement_matrix(3, 10, np.random.default_rng(1), max_abs_corr=0.9)
    assert np.max(np.abs(np.corrcoef(A)[~np.eye(3, dtype=bool)])) <= 0.9
    with pytest.raises(ValueError, match="fewer measurements"):
        random_measurement_matrix(30, 10, np.random.default_rng(1), max_abs_corr=0.01)


@pytest.mark.parametrize("snr", [0.5, 2.0, 10.0])
def test_noise_has_the_requested_amplitude_snr(snr):
    X = np.random.default_rng(0).random((50, 40)) + 3
    noise = scaled_noise(X, snr, np.random.default_rng(1))
    assert np.linalg.norm(X) / np.linalg.norm(noise) == pytest.approx(snr)


def test_observe_mixes_noisy_expression():
    X = np.eye(3)
    A = np.array([[1.0, 0.0, 0.0]])
    Y = observe(X, A, 1e12, np.random.default_rng(0))  # negligible noise
    np.testing.assert_allclose(Y, [[1.0], [0.0], [0.0]], atol=1e-9)
    with pytest.raises(ValueError, match="snr"):
        observe(X, A, 0, np.random.default_rng(0))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_omp_uses_at_most_k_atoms(k):
    rng = np.random.default_rng(0)
    D, Y = rng.standard_normal((20, 30)), rng.standard_normal((8, 20))
    codes = omp_codes(Y, D, k)
    assert codes.shape == (8, 30)
    assert np.all(np.count_nonzero(codes, axis=1) <= k)


def test_omp_recovers_an_exact_sparse_code_and_caps_k():
    D = np.eye(4)
    Y = np.array([[0.0, 2.0, 0.0, -1.0]])
    np.testing.assert_allclose(omp_codes(Y, D, 2), Y)
    np.testing.assert_allclose(omp_codes(Y, D, 1), [[0.0, 2.0, 0.0, 0.0]])
    assert omp_codes(Y, D, 99).shape == (1, 4)  # k above the atom count is capped


def test_decode_sparsest_lowers_k_while_the_fit_holds():
    U = np.eye(5)
    X = np.array([[3.0, 2.0, 0.0, 0.0, 0.0]])
    codes, k = decode_sparsest(X, U, k=4, worst_fit=0.99, min_k=1)
    # k=4, 3 and 2 fit exactly; k=2 is the last try above min_k.
    assert k == 2 and fit_fraction(X, codes @ U.T) == pytest.approx(1.0)
    codes, k = decode_sparsest(X, U, k=4, worst_fit=0.99, min_k=0)
    assert k == 2 and fit_fraction(X, codes @ U.T) == pytest.approx(1.0)  # k=1 fails: the last k that held
    codes, k = decode_sparsest(X, U, k=1, worst_fit=0.99, min_k=0)
    assert k == 1 and np.count_nonzero(codes) == 1  # even the starting k misses: its codes are returned
    with pytest.raises(ValueError):
        decode_sparsest(X, U, k=2, worst_fit=0.5, min_k=2)


def test_min_l1_nonnegative_is_soft_thresholding_for_an_orthonormal_design():
    # W = I: the positive lasso path is u = max(x - lambda, 0). With x = (3, 1, -2) and
    # bound 4 + 1.25, the -2 always costs 4, and 2 lambda^2 = 1.25 gives lambda = 0.7906.
    x = np.array([3.0, 1.0, -2.0])
    u = min_l1_nonnegative(np.eye(3), x, float(x @ x), 4 + 1.25, n_samples=3)
    lam = np.sqrt(1.25 / 2)
    np.testing.assert_allclose(u, [3 - lam, 1 - lam, 0.0], atol=1e-9)
    assert np.allclose(min_l1_nonnegative(np.eye(3), x, float(x @ x), 100.0, 3), 0)  # zero already fits


def test_distance_correlation_on_a_hand_example():
    truth = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5
    scaled = 2 * truth + 7                                   # distances 6, 8, 10
    p, s = distance_correlation(truth, scaled, 200, np.random.default_rng(0))
    assert p == pytest.approx(1.0) and s == pytest.approx(1.0)
    swapped = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])  # distances 4, 3, 5
    p, s = distance_correlation(truth, swapped, 200, np.random.default_rng(0))
    # Pearson of (3, 4, 5) and (4, 3, 5) = 0.5; Spearman of ranks (1, 2, 3), (2, 1, 3) = 0.5
    assert p == pytest.approx(0.5) and s == pytest.approx(0.5)


def test_recovery_metrics_are_one_for_a_perfect_recovery():
    X = np.random.default_rng(0).random((30, 12))
    metrics = recovery_metrics(X, X.copy(), np.random.default_rng(0), distance_samples=10)
    assert all(v == pytest.approx(1.0) for v in metrics.values())


def test_data_helpers():
    rows, cols = select((10, 20), n_genes=5, n_samples=None, seed=0)
    assert list(rows) == list(range(10)) and len(cols) == 5 and np.all(np.diff(cols) > 0)
    X = np.arange(100.0).reshape(10, 10)
    train, test = clip_at_percentile(X[:5], X[5:], 90)
    ceiling = np.percentile(X[:5], 90)
    assert train.max() == pytest.approx(ceiling) and test.max() == pytest.approx(ceiling)
    train, test = split(10, 0.3, seed=0)
    assert len(test) == 3 and not set(train) & set(test)
    a, b = scale_01(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(a, [[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(b, [[0.5, 1.0]])


def unit_columns(M):
    return M / np.maximum(np.linalg.norm(M, axis=0), 1e-12)


def planted_problem(seed=2, n_genes=80, n_samples=300, n_modules=6):
    """Non-negative modules of 12 genes; each sample uses 2 modules."""
    rng = np.random.default_rng(seed)
    U = np.zeros((n_genes, n_modules))
    for j in range(n_modules):
        U[rng.choice(n_genes, 12, replace=False), j] = rng.uniform(0.5, 1.5, 12)
    W = np.zeros((n_samples, n_modules))
    for i in range(n_samples):
        W[i, rng.choice(n_modules, 2, replace=False)] = rng.uniform(0.5, 2.0, 2)
    return U, W


def test_smaf_recovers_planted_modules_and_codes():
    U, W = planted_problem(seed=3)
    X = W @ U.T
    # SMAF starts from a random W and can stall in a local optimum (here restart 0 does):
    # keep the best of three restarts by fit, as one would in practice.
    fits = [SMAF(n_components=6, initial_sparsity=2, min_sparsity=1, tolerance=1e-2, n_iter=20, module_lower=0,
                 random_state=restart).fit(X) for restart in range(3)]
    model = max(fits, key=lambda m: m.history_[-1]["fit"])
    learned = model.dictionary_
    assert learned.min() >= 0
    overlap = unit_columns(U).T @ unit_columns(learned)  # cosine between planted and learned modules
    match = overlap.argmax(axis=1)
    assert overlap.max(axis=1).min() > 0.95 and len(set(match)) == 6  # every module, distinct matches
    for j in range(6):  # the same genes
        assert set(np.flatnonzero(U[:, j])) == set(np.flatnonzero(learned[:, match[j]] > 0.05))
    codes = np.abs(model.codes_[:, match])
    same_support = np.all((codes > 0.05 * codes.max()) == (W > 0), axis=1)
    assert same_support.mean() > 0.95  # the same active modules per sample


def test_u_step_gives_the_same_rows_in_parallel():
    from exprbench.compressed_sensing.methods._smaf import u_step

    rng = np.random.default_rng(0)
    X, W = rng.random((30, 12)), rng.random((30, 4))
    np.testing.assert_array_equal(u_step(X, W, 0.5, n_jobs=1), u_step(X, W, 0.5, n_jobs=2))


def test_job_threads_become_smaf_processes_unless_the_config_sets_them():
    from exprbench.compressed_sensing.job import build_method

    experiment = {"method_params": {}, "sparsity": 15}
    assert build_method(experiment, "smaf", 0, "cpu", threads=4).n_jobs == 4
    experiment["method_params"] = {"smaf": {"n_jobs": 2}}
    assert build_method(experiment, "smaf", 0, "cpu", threads=4).n_jobs == 2


def test_figures_are_identical_when_drawn_again(tmp_path):
    import pandas as pd

    from exprbench.compressed_sensing.figures import make_figures
    from exprbench.compressed_sensing.metrics import METRICS

    rows = [{"experiment": "e", "method": method, "seed": seed, "measurements": d,
             **{metric: 0.1 * d / 20 + 0.01 * seed for metric in METRICS}}
            for method in ("svd", "smaf") for seed in (0, 1) for d in (20, 50)]
    summary = tmp_path / "summary.tsv"
    pd.DataFrame(rows).to_csv(summary, sep="\t", index=False)
    first = {p.name: p.read_bytes() for p in make_figures(summary, tmp_path / "a", "e")}
    second = {p.name: p.read_bytes() for p in make_figures(summary, tmp_path / "b", "e")}
    assert sorted(first) == ["e_correlation.png", "e_correlation.svg", "e_distance.png", "e_distance.svg"]
    assert first == second


def test_clip_threshold_comes_from_the_training_samples_only(tmp_path):
    # Test samples 100 times larger must not move the clip applied to the training samples.
    from conftest import make_data

    from exprbench.compressed_sensing.data import load_experiment
    from exprbench.store import write_dataset

    experiment = {"n_genes": None, "n_samples": None, "data_seed": 0, "clip_percentile": 90,
                  "test_fraction": 0.25, "scale_01": False}
    data = make_data(n_samples=40, n_genes=12)
    write_dataset(tmp_path / "plain.h5", data)
    plain = load_experiment(tmp_path / "plain.h5", experiment, seed=0)
    is_test = np.isin(data.samples["sample_id"], plain.test_ids)
    ceiling = np.percentile(data.expression[~is_test], 90)
    data.expression[is_test] = 100 * np.abs(data.expression[is_test])
    write_dataset(tmp_path / "loud.h5", data)
    loud = load_experiment(tmp_path / "loud.h5", experiment, seed=0)
    np.testing.assert_array_equal(plain.train, loud.train)
    assert loud.train.max() == pytest.approx(ceiling) and loud.test.max() == pytest.approx(ceiling)


def test_summary_log_leads_with_gene_and_distance_pearson():
    import pandas as pd

    from exprbench.compressed_sensing.summary import leading_metrics_text

    rows = [{"experiment": "e", "method": method, "seed": 0, "measurements": 20,
             "gene_pearson": value, "distance_pearson": value, "overall_pearson": 0.5}
            for method, value in (("mean_profile", np.nan), ("smaf", 0.4))]
    text = leading_metrics_text(pd.DataFrame(rows))
    assert text.index("gene_pearson") < text.index("distance_pearson") and "overall" not in text
    assert "undefined" in text and "0.4" in text
