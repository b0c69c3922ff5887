"""A tiny biclustering run through Snakemake, end to end."""

import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, snakemake

METHODS = ["spacobi", "convex_biclustering", "kmeans_rows_cols"]


def tiny_config() -> dict:
    return {"datasets": {"sim": {"source": "simulated"}}, "biclustering": {"device": "cpu", "experiments": {"tiny": {
        "planted": {"sizes": [[24, 12]], "noise": [0.3], "noise_features": [0, 6]},
        "methods": METHODS, "method_params": {"spacobi": {"sparsities": [0.2], "n_subsamples": 2}},
    }}}}


@pytest.mark.slow
def test_biclustering_runs_end_to_end(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config()))
    snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(cfg),
              "--cores", "2", cwd=tmp_path)
    summary = pd.read_csv(tmp_path / "results" / "biclustering" / "summary.tsv", sep="\t")
    assert len(summary) == len(METHODS) * 2 and (summary["status"] == "ok").all()
    noisy = summary[summary["noise_features"] == 6].set_index("method")
    assert noisy.loc["spacobi", "noise_f1"] == 1.0 and noisy.loc["convex_biclustering", "noise_f1"] == 0.0
    for kind in ("accuracy", "time", "heatmap"):
        for ext in ("png", "svg"):
            assert (tmp_path / "figures" / "biclustering" / f"tiny_{kind}.{ext}").stat().st_size > 0
    assert not list(tmp_path.rglob("*.tmp"))
