"""A tiny self-supervised experiment through Snakemake (the shipped ssl configs are
dry-run by test_workflow.py with every shipped config)."""

import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, snakemake, workflow_args


def tiny_config(tmp_path):
    config = {
        "model_dir": str(ROOT / "config" / "models"),
        "device": "cpu",
        "datasets": {"syn": {"source": "synthetic_compendium",
                             "params": {"n_samples": 300, "n_genes": 40, "n_tissues": 3, "n_programs": 6,
                                        "program_size": 10, "n_studies": 8, "labeled_fraction": 0.3}}},
        "ssl": {
            "defaults": {
                "split": {"pretrain_fraction": 0.0},
                "methods": ["scarf"],
                "architectures": [{"depth": 2, "width": 8}],
                "pretrain": {"max_epochs": 2, "batch_size": 64},
                "finetune": {"proportions": [0.1, 0.3, 1.0], "repeats": 2, "max_epochs": 3, "patience": 2},
            },
            "experiments": {"tiny": {"pretrain_dataset": "syn", "label": "tissue"}},
        },
    }
    path = tmp_path / "ssl_tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_tiny_ssl_experiment_runs_end_to_end(tmp_path):
    config = tiny_config(tmp_path)
    args = workflow_args(tmp_path, config)
    result = snakemake(*args)
    results = tmp_path / "results" / "ssl"
    summary = pd.read_csv(results / "summary.tsv", sep="\t")
    # One pretrained encoder fine-tuned in 2 modes, and the baseline.
    fits_per_job = 3 * 2
    assert len(summary) == fits_per_job * 3
    assert set(summary["method"]) == {"baseline", "scarf"}
    assert summary["accuracy"].between(0, 1).all()
    # Every fit predicted every test sample.
    n_test = summary["n_test"].iloc[0]
    assert (summary["n_test"] == n_test).all() and n_test == 45  # half of 90 labeled samples
    predictions = pd.read_csv(next(results.glob("tiny/finetune/scarf/frozen/d2w8/q1/seed0/predictions.tsv")), sep="\t")
    assert len(predictions) == n_test * fits_per_job
    gains = pd.read_csv(results / "gains.tsv", sep="\t")
    assert len(gains) == 2 * 2  # metrics x modes
    spectra = pd.read_csv(results / "spectra.tsv", sep="\t")
    assert len(spectra) == 8  # one row per embedding dimension
    # One architecture and one pretraining size: the heat map and Fig 5 are skipped, and said so.
    drawn = sorted(p.name for p in (tmp_path / "figures" / "ssl").iterdir())
    assert drawn == ["accuracy_vs_p.png", "accuracy_vs_p.svg", "spectra.png", "spectra.svg"]
    assert all((tmp_path / "figures" / "ssl" / name).stat().st_size > 0 for name in drawn)
    assert "figure gain_heatmap skipped" in (tmp_path / "logs" / "ssl" / "figures.log").read_text()
    assert "results/ssl/summary.tsv" in result.stdout + result.stderr
    assert not list(tmp_path.rglob("*.tmp")), "no temporary files are left behind"
    rerun = snakemake(*args)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
