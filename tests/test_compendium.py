"""preprocessing.fit_on: all fits gene choice and scaling on the whole store
(as the paper did on its compendium), from statistics streamed over row blocks."""

import json

import numpy as np
import pandas as pd
import pytest

from exprbench.classification.job import FitJob
from exprbench.classification.tasks import read_manifest
from exprbench.cli import main
from exprbench.compendium import compendium_stats, read_stats, write_stats
from exprbench.config import resolve
from exprbench.preprocess import GenePreprocessor
from exprbench.store import ExpressionData, open_dataset, write_dataset


def tpm_store(path, n_per_class=12, n_genes=9) -> np.ndarray:
    """A TPM-like store with classes a, b, c; class c lifts genes 1-3 far above
    the others, so statistics over all samples differ from those over a and b."""
    rng = np.random.default_rng(3)
    labels = np.repeat(["a", "b", "c"], n_per_class)
    expression = rng.gamma(2.0, 1.0, (labels.size, n_genes)) * np.linspace(1, 40, n_genes)
    expression[labels == "c", 1:4] *= 200
    expression[labels == "a", 0] += 50  # some signal for the a|b problem
    ids = [f"s{i:03d}" for i in range(labels.size)]
    samples = pd.DataFrame({"sample_id": ids, "study": [f"study{i % 6}" for i in range(labels.size)],
                            "donor": ids, "tissue": labels})
    genes = pd.DataFrame({"gene_id": [f"g{j}" for j in range(n_genes)], "symbol": [f"G{j}" for j in range(n_genes)]})
    write_dataset(path, ExpressionData(expression.astype(np.float32), samples, genes,
                                       {"source": "test", "source_version": "1"}))
    with open_dataset(path) as reader:
        return reader.read_expression()


@pytest.mark.parametrize("block_rows", [1, 5, 1000])
def test_streamed_statistics_equal_the_in_memory_ones(tmp_path, block_rows):
    matrix = tpm_store(tmp_path / "d.h5").astype(np.float64)
    with open_dataset(tmp_path / "d.h5") as reader:
        stats = compendium_stats(reader, block_rows=block_rows)
    assert int(stats["n_samples"]) == matrix.shape[0]
    for scale, values in (("raw", matrix), ("log2", np.log2(matrix + 1))):
        np.testing.assert_allclose(stats[f"{scale}_min"], values.min(axis=0), rtol=1e-12)
        np.testing.assert_allclose(stats[f"{scale}_max"], values.max(axis=0), rtol=1e-12)
        np.testing.assert_allclose(stats[f"{scale}_mean"], values.mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(stats[f"{scale}_var"], values.var(axis=0), rtol=1e-10)


def test_statistics_file_round_trips_and_a_store_with_negatives_has_no_log2(tmp_path):
    tpm_store(tmp_path / "d.h5")
    with open_dataset(tmp_path / "d.h5") as reader:
        stats = compendium_stats(reader, block_rows=4)
    write_stats(tmp_path / "d.npz", stats, tmp_path / "d.h5")
    back = read_stats(tmp_path / "d.npz")
    assert set(back) == set(stats)
    for name in stats:
        np.testing.assert_array_equal(back[name], stats[name])

    data = ExpressionData(-np.ones((4, 2), dtype=np.float32),
                          pd.DataFrame({"sample_id": list("wxyz"), "study": list("wxyz"), "donor": list("wxyz")}),
                          pd.DataFrame({"gene_id": ["g0", "g1"], "symbol": ["G0", "G1"]}))
    write_dataset(tmp_path / "centred.h5", data)
    with open_dataset(tmp_path / "centred.h5") as reader:
        centred = compendium_stats(reader)
    assert "raw_var" in centred and "log2_var" not in centred
    with pytest.raises(ValueError, match="log2 needs non-negative"):
        GenePreprocessor(log2=True).fit_stats(centred)


@pytest.mark.parametrize("settings", [
    {"top_genes": 4, "scaling": "minmax", "log2": False},
    {"top_genes": 4, "scaling": "standard", "log2": True},
    {"top_genes": None, "scaling": "none", "log2": True},
])
def test_fit_on_statistics_equals_fit_on_the_whole_matrix(tmp_path, settings):
    matrix = tpm_store(tmp_path / "d.h5")
    with open_dataset(tmp_path / "d.h5") as reader:
        stats = compendium_stats(reader, block_rows=5)
    from_stats = GenePreprocessor(**settings).fit_stats(stats)
    from_matrix = GenePreprocessor(**settings).fit(matrix)
    np.testing.assert_array_equal(from_stats.genes_, from_matrix.genes_)
    np.testing.assert_allclose(from_stats.offset_, from_matrix.offset_, rtol=1e-5)
    np.testing.assert_allclose(from_stats.scale_, from_matrix.scale_, rtol=1e-5)
    np.testing.assert_allclose(from_stats.transform(matrix), from_matrix.transform(matrix), rtol=1e-4, atol=1e-5)


def test_fit_on_all_uses_the_whole_store_not_the_task_samples(tmp_path, monkeypatch):
    """Through the workflow's steps: compendium-stats, manifest, fit job."""
    matrix = tpm_store(tmp_path / "d.h5")
    assert main(["compendium-stats", "--dataset-file", str(tmp_path / "d.h5"), "--out", str(tmp_path / "d.npz")]) == 0
    config = resolve({
        "datasets": {"d": {"source": "simulated"}},
        "defaults": {"split": {"folds": 2}, "train_fractions": [1.0], "tuning": {"n_trials": 0, "inner_folds": 2},
                     "models": ["logistic_regression"], "seeds": [0]},
        "tasks": {"t": {"dataset": "d", "label": "label", "kind": "binary", "classes": ["a", "b"],
                        "preprocessing": {"top_genes": 4, "scaling": "minmax", "fit_on": "all"}}},
    }, "test.yaml")
    task = {**config["tasks"]["t"], "label": "tissue"}
    assert main(["manifest", "--task", json.dumps(task), "--dataset-file", str(tmp_path / "d.h5"),
                 "--compendium-stats", str(tmp_path / "d.npz"), "--out", str(tmp_path / "t.json")]) == 0
    manifest = read_manifest(tmp_path / "t.json")
    assert manifest["compendium_stats"] == str(tmp_path / "d.npz")

    used = []
    transform = GenePreprocessor.transform

    def recording_transform(self, X):
        used.append(self)
        return transform(self, X)

    monkeypatch.setattr(GenePreprocessor, "transform", recording_transform)
    model = {**config["models"]["logistic_regression"]}
    model["params"] = {**model["params"], "max_epochs": 2}
    FitJob(task=task, manifest=manifest, model=model, signal_removal="none", seed=0, fold=0,
           dataset="d", device="cpu").run()

    whole_store = GenePreprocessor(top_genes=4, scaling="minmax").fit(matrix)
    task_only = GenePreprocessor(top_genes=4, scaling="minmax").fit(matrix[manifest["rows"]])
    assert used, "the job transforms its sets with the fitted preprocessor"
    for preprocessor in used:
        np.testing.assert_array_equal(preprocessor.genes_, whole_store.genes_)
        np.testing.assert_allclose(preprocessor.offset_, whole_store.offset_, rtol=1e-5)
        np.testing.assert_allclose(preprocessor.scale_, whole_store.scale_, rtol=1e-5)
    # Class c, outside the task, moves the genes chosen and their range.
    assert not np.array_equal(task_only.genes_, whole_store.genes_)
