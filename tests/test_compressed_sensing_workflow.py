"""A tiny compressed sensing run through Snakemake, end to end."""

import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, snakemake

from exprbench.compressed_sensing.metrics import METRICS

# Every method is exercised in test_compressed_sensing_methods; here one of each kind
# (closed form, iterative dictionary, measurement-trained) keeps the job count low.
METHODS = ["svd_top_k", "smaf", "nn"]


def tiny_config() -> dict:
    tiny_nn = {"hidden_sizes": [16], "max_epochs": 5, "learning_rates": [1e-3], "l2_values": [0.0]}
    return {
        "model_dir": str(ROOT / "config" / "models"),
        "datasets": {"sim": {"source": "simulated", "params": {"n_samples": 50, "n_linear": 20, "n_nonlinear": 20}}},
        "compressed_sensing": {
            "device": "cpu",
            "experiments": {"tiny": {
                "dataset": "sim", "n_genes": 30, "measurements": [5, 10], "sparsity": 3, "seeds": [0],
                "distance_samples": 8, "methods": METHODS,
                "method_params": {"smaf": {"n_components": 6, "n_iter": 2}, "nn": tiny_nn},
            }},
        },
    }


@pytest.mark.slow
def test_compressed_sensing_runs_end_to_end(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config()))
    snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(cfg),
              "--cores", "2", cwd=tmp_path)

    summary = pd.read_csv(tmp_path / "results" / "compressed_sensing" / "summary.tsv", sep="\t")
    assert len(summary) == len(METHODS) * 2  # one row per (method, d, seed)
    assert set(summary["method"]) == set(METHODS) and set(summary["measurements"]) == {5, 10}
    assert {*METRICS, "fit_seconds", "recover_seconds", "n_iter", "n_train", "n_test"} <= set(summary.columns)
    assert summary[list(METRICS)].notna().all().all()
    assert (summary["n_genes"] == 30).all() and (summary["n_test"] == 10).all()
    figures = tmp_path / "figures" / "compressed_sensing"
    for kind in ("correlation", "distance"):
        for ext in ("png", "svg"):
            assert (figures / f"tiny_{kind}.{ext}").stat().st_size > 0
    assert not list(tmp_path.rglob("*.tmp"))
