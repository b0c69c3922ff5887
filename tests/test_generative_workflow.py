"""A tiny generative run through Snakemake, end to end."""

import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, snakemake

GENERATORS = ["smote"]  # the torch generators are exercised in test_generative_generators


def tiny_config() -> dict:
    return {
        "model_dir": str(ROOT / "config" / "models"),
        "fit_retries": 0,
        "datasets": {"sim": {"source": "simulated", "params": {"n_samples": 60, "n_linear": 10, "n_nonlinear": 10}}},
        "generative": {
            "device": "cpu",
            "experiments": {"tiny": {
                "dataset": "sim", "label": "label", "split": {"by": "sample", "folds": 2},
                "train_fractions": [0.5, 1.0], "top_genes": 15, "generators": GENERATORS,
                "classifier": {"model": "logistic_regression", "params": {"max_epochs": 5}},
            }},
        },
    }


@pytest.mark.slow
def test_generative_runs_end_to_end(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config()))
    snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(cfg),
              "--cores", "2", cwd=tmp_path)

    summary = pd.read_csv(tmp_path / "results" / "generative" / "summary.tsv", sep="\t")
    assert (summary["status"] == "ok").all()
    augmentation = summary[summary["evaluation"] == "augmentation"]
    # folds x fractions x (real + two arms per generator)
    assert len(augmentation) == 2 * 2 * (1 + 2 * len(GENERATORS))
    assert augmentation["balanced_accuracy"].notna().all()
    fidelity = summary[summary["evaluation"] == "fidelity"]
    assert set(fidelity["generator"]) == {"none", *GENERATORS} and fidelity["mmd"].notna().all()
    figures = tmp_path / "figures" / "generative"
    for kind in ("augmentation", "fidelity", "projection", "roc_confusion"):
        for ext in ("png", "svg"):
            assert (figures / f"tiny_{kind}.{ext}").stat().st_size > 0
    assert not list(tmp_path.rglob("*.tmp"))
