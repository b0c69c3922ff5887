"""The ``local`` source through Snakemake: one planted matrix in every input format, each a
dataset with a classification task and a compressed sensing experiment."""

import time

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, snakemake, workflow_args

from exprbench.compressed_sensing.metrics import METRICS
from exprbench.h5ad import export_h5ad
from exprbench.store import ExpressionData, open_dataset, write_dataset

N_SAMPLES, N_GENES = 40, 24
FORMATS = {  # dataset -> (file, orientation)
    "tsv": ("inputs/matrix.tsv", "genes_by_samples"),
    "csv_gz": ("inputs/matrix.csv.gz", "samples_by_genes"),
    "parquet": ("inputs/matrix.parquet", "genes_by_samples"),
    "h5ad": ("inputs/matrix.h5ad", None),
}


def planted():
    """Two classes that differ in the first 6 genes; 8 studies of 5 samples, each with both classes."""
    rng = np.random.default_rng(7)
    labels = np.array(["a", "b"])[np.arange(N_SAMPLES) % 2]
    X = rng.standard_normal((N_SAMPLES, N_GENES)).astype(np.float32)
    X[:, :6] += 3.0 * (labels == "a")[:, None]
    samples = pd.DataFrame({"sample": [f"s{i:02d}" for i in range(N_SAMPLES)], "kind": labels,
                            "cohort": [f"c{i // 5}" for i in range(N_SAMPLES)]})
    return X, samples, [f"g{j:02d}" for j in range(N_GENES)]


def write_inputs(folder):
    X, samples, genes = planted()
    inputs = folder / "inputs"
    inputs.mkdir()
    samples.to_csv(inputs / "samples.tsv", sep="\t", index=False)
    by_gene = pd.DataFrame(X.T, index=pd.Index(genes, name="gene"), columns=samples["sample"])
    by_gene.to_csv(inputs / "matrix.tsv", sep="\t", float_format="%.9g")
    by_gene.reset_index().to_parquet(inputs / "matrix.parquet")
    by_gene.T.rename_axis("sample").to_csv(inputs / "matrix.csv.gz", float_format="%.9g")
    store = ExpressionData(X, samples.rename(columns={"sample": "sample_id"}).assign(study=samples["cohort"],
                                                                                   donor=samples["sample"]),
                           pd.DataFrame({"gene_id": genes, "symbol": genes}), {"source": "planted"})
    write_dataset(inputs / "planted.h5", store)
    export_h5ad(inputs / "planted.h5", inputs / "matrix.h5ad")
    return X


def config_for(folder):
    datasets = {}
    for name, (path, orientation) in FORMATS.items():
        params = {"expression": path, "samples": "inputs/samples.tsv", "study_column": "cohort"}
        if orientation:
            params["orientation"] = orientation
        datasets[name] = {"source": "local", "params": params}
    config = {
        "model_dir": str(ROOT / "config" / "models"),
        "datasets": datasets,
        "defaults": {"split": {"by": "study", "folds": 2}, "train_fractions": [1.0],
                     "tuning": {"n_trials": 1, "inner_folds": 2},
                     "models": ["logistic_regression"], "seeds": [0], "signal_removal": ["none"]},
        "tasks": {f"{name}_kind": {"dataset": name, "label": "kind", "kind": "binary"} for name in FORMATS},
        "compressed_sensing": {"device": "cpu", "experiments": {
            f"{name}_cs": {"dataset": name, "n_genes": N_GENES, "measurements": [6], "sparsity": 3, "seeds": [0],
                           "distance_samples": 6, "methods": ["svd_top_k"]} for name in FORMATS}},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_every_input_format_runs_a_task_and_compressed_sensing(tmp_path):
    X = write_inputs(tmp_path)
    config = config_for(tmp_path)
    args = workflow_args(tmp_path, config)
    snakemake(*args, cwd=tmp_path)

    for name in FORMATS:  # the same store from every format (relative paths resolved in the run directory)
        with open_dataset(tmp_path / "data" / f"{name}.h5") as reader:
            np.testing.assert_array_equal(reader.read_expression(), X)
            assert reader.samples["study"].tolist() == [f"c{i // 5}" for i in range(N_SAMPLES)]
            assert reader.provenance["source"] == "local"
    summary = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t")
    assert sorted(summary["dataset"]) == sorted([*FORMATS] * 2)  # 2 folds each
    assert summary["balanced_accuracy"].between(0, 1).all()
    recovered = pd.read_csv(tmp_path / "results" / "compressed_sensing" / "summary.tsv", sep="\t")
    assert len(recovered) == len(FORMATS) and recovered[list(METRICS)].notna().all().all()
    # Same store and seeds, so the same recovery from every format.
    assert (recovered[list(METRICS)].nunique() == 1).all()
    assert not list(tmp_path.rglob("*.tmp"))

    # The input files are rule inputs: a changed matrix rebuilds its store (Snakemake
    # compares the content of small files, so the values change, not only the date).
    assert "prepare_dataset" not in snakemake("-n", *args, cwd=tmp_path).stdout
    time.sleep(1)
    matrix = tmp_path / "inputs" / "matrix.tsv"
    lines = matrix.read_text().splitlines()
    lines[1] = lines[1].split("\t", 1)[0] + "\t0.5\t" + lines[1].split("\t", 2)[2]
    matrix.write_text("\n".join(lines) + "\n")
    dry = snakemake("-n", *args, cwd=tmp_path).stdout
    assert "Updated input files: inputs/matrix.tsv" in dry
    assert "dataset=tsv" in dry and "dataset=parquet" not in dry


def test_shipped_example_config_dry_runs(tmp_path):
    (tmp_path / "config").symlink_to(ROOT / "config")
    config = ROOT / "config" / "examples" / "own_data.yaml"
    result = snakemake("-n", "--configfile", str(config), "--directory", str(tmp_path), "--snakefile",
                       str(ROOT / "Snakefile"))
    for rule in ("prepare_dataset", "fit", "compressed_sensing_fit", "inference_fit", "ssl_pretrain"):
        assert rule in result.stdout
