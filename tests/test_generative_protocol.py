"""The generative family's augmentation protocol and job, without Snakemake."""

import numpy as np
import pandas as pd
import pytest

from exprbench.generative.fidelity import fidelity, split_halves
from exprbench.generative.job import KEY, run_job
from exprbench.generative.protocol import scores, synthetic_labels
from exprbench.store import ExpressionData, write_dataset


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch and one BLAS thread, as a workflow job has (see test_generative_generators)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


def test_synthetic_labels_follow_the_training_mix_or_equal_shares():
    y = np.array([0] * 6 + [1] * 3 + [2])
    proportional = synthetic_labels(y, 1.0, "proportional")
    assert np.bincount(proportional).tolist() == [6, 3, 1]
    assert np.bincount(synthetic_labels(y, 2.0, "proportional")).tolist() == [12, 6, 2]
    uniform = synthetic_labels(y, 1.5, "uniform")
    assert len(uniform) == 15 and np.bincount(uniform).tolist() == [5, 5, 5]


def test_halves_split_each_class():
    y = np.array([0] * 5 + [1] * 4)
    first, second = split_halves(y, np.random.default_rng(0))
    assert np.bincount(y[first]).tolist() == [3, 2] and np.bincount(y[second]).tolist() == [2, 2]
    assert not set(first) & set(second)


def test_real_against_itself_is_perfect_and_a_shift_is_seen():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 8)), np.arange(60) % 2
    same = fidelity(X, y, X, y, seed=0)
    assert abs(same["mmd"]) < 0.05 and same["precision"] == 1 and same["recall"] == 1
    assert same["mean_corr"] == pytest.approx(1) and same["corr_corr"] == pytest.approx(1)
    shifted = fidelity(X, y, X + 3, y, seed=0)
    assert shifted["mmd"] > 0.5 and shifted["discriminator_auc"] > 0.95 and shifted["precision"] < 0.2


def test_scores_of_a_perfect_classifier():
    y = np.array([0, 1, 2, 0, 1, 2])
    probabilities = np.eye(3)[y]
    assert scores(y, y, probabilities, np.arange(3)) == {"accuracy": 1, "balanced_accuracy": 1, "macro_f1": 1,
                                                         "roc_auc": 1}


def planted_store(path, n=90, n_genes=20):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    means = rng.standard_normal((3, n_genes))
    X = (rng.standard_normal((n, n_genes)) + means[y]).astype(np.float32)
    ids = [f"s{i}" for i in range(n)]
    samples = pd.DataFrame({"sample_id": ids, "study": ids, "donor": ids, "label": np.array(["a", "b", "c"])[y]})
    genes = pd.DataFrame({"gene_id": [f"g{j}" for j in range(n_genes)], "symbol": [f"G{j}" for j in range(n_genes)]})
    write_dataset(path, ExpressionData(X, samples, genes, {"source": "test", "source_version": "1",
                                                           "preprocessing": ["none"]}))
    return path


EXPERIMENT = {
    "name": "tiny", "dataset": "planted", "label": "label", "split": {"by": "sample", "folds": 2},
    "train_fractions": [0.4, 1.0], "top_genes": 15, "log2": False, "n_samples": None, "data_seed": 0,
    "min_class_size": 2, "augmentation": {"factor": 1.0, "class_balance": "proportional"},
    "generator_params": {}, "classifier": {"estimator": "logistic_regression", "params": {"max_epochs": 20}},
    "fidelity": {"k": 3},
}


def test_job_rows_for_real_only_and_a_generator(tmp_path):
    store = planted_store(tmp_path / "planted.h5")
    real, real_predictions, real_points = run_job(store, EXPERIMENT, "none", 0, "cpu")
    smote, smote_predictions, smote_points = run_job(store, EXPERIMENT, "smote", 0, "cpu")
    table = pd.concat([real, smote])
    assert not table.duplicated(KEY).any()
    augmentation = table[table["evaluation"] == "augmentation"]
    assert set(zip(augmentation["generator"], augmentation["arm"], strict=False)) == {
        ("none", "real"), ("smote", "real+synthetic"), ("smote", "synthetic")}
    assert len(augmentation) == 2 * 2 * 3  # folds x fractions x arms
    rows = augmentation[augmentation["arm"] == "real+synthetic"]
    assert (rows["n_synthetic"] == rows["n_train_real"]).all()  # factor 1 doubles the training set
    assert augmentation[["accuracy", "balanced_accuracy", "macro_f1", "roc_auc"]].notna().all().all()
    assert augmentation["balanced_accuracy"].mean() > 0.5  # chance is 1/3
    fid = table[table["evaluation"] == "fidelity"]
    assert set(fid["arm"]) == {"real_vs_real", "generated"} and fid["mmd"].notna().all()
    # The same folds for every generator: the same held-out samples.
    assert set(real_predictions["sample_id"]) == set(smote_predictions["sample_id"])
    assert {"p_a", "p_b", "p_c"} <= set(smote_predictions.columns)
    assert set(real_points["source"]) == {"real"} and set(smote_points["source"]) == {"generated"}
    again, _, _ = run_job(store, EXPERIMENT, "smote", 0, "cpu")
    metrics = ["balanced_accuracy", "mmd", "energy", "discriminator_auc"]
    pd.testing.assert_frame_equal(again[metrics], smote[metrics])  # seeded
