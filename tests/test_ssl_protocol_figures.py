"""Summary tables, AUPC gains and figures from hand-made job outputs (no training)."""

import json

import numpy as np
import pandas as pd
import pytest

from exprbench import config as config_module
from exprbench.cli import main

PROPORTIONS = [0.05, 0.1, 0.3, 1.0]


def section(**experiment):
    raw = {"datasets": {"syn": {"source": "synthetic_compendium"}},
           "ssl": {"experiments": {"e": {"pretrain_dataset": "syn", "label": "tissue", "methods": ["scarf", "vime"],
                                         "finetune": {"proportions": PROPORTIONS, "repeats": 2}, **experiment}}}}
    return config_module.resolve(raw, "cfg.yaml")["ssl"]


def fake_outputs(tmp_path, ssl):
    """Score and spectrum files as the jobs write them: methods beat the baseline by a known margin."""
    from exprbench.ssl.settings import finetune_jobs, pretrain_jobs

    exp = ssl["experiments"]["e"]
    sizes = {run["pretrain"]: run["pretrain_size"] for run in exp["pretrain_runs"]}
    shapes = {a["name"]: a for a in exp["architectures"]}
    score_files, spectrum_files = [], []
    for i, job in enumerate(finetune_jobs(ssl)):
        lift = {"baseline": 0.0, "scarf": 0.1, "vime": 0.05}[job["method"]]
        rows = [{**job, "pretrain_dataset": "syn", "finetune_dataset": "syn",
                 "depth": shapes[job["architecture"]]["depth"], "width": shapes[job["architecture"]]["width"],
                 "pretrain_size": sizes.get(job["pretrain"], np.nan),
                 "proportion": p, "repeat": r, "n_train": 10, "n_val": 5, "n_test": 20,
                 "accuracy": min(1.0, 0.5 + p / 2 + lift), "balanced_accuracy": 0.5, "epochs": 3, "best_epoch": 1,
                 "hit_epoch_cap": job["method"] == "baseline" and p == PROPORTIONS[-1] and r == 0,
                 "fit_seconds": 0.1}
                for p in PROPORTIONS for r in range(2)]
        path = tmp_path / f"scores{i}.tsv"
        pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
        score_files.append(path)
    for i, job in enumerate(pretrain_jobs(ssl)):
        values = np.logspace(1, -8, 16)
        table = pd.DataFrame({**job, "rank": np.arange(1, 17), "singular_value": values,
                              "log10_singular_value": np.log10(values), "collapsed": values < 1e-5})
        path = tmp_path / f"spectrum{i}.tsv"
        table.to_csv(path, sep="\t", index=False)
        spectrum_files.append(path)
    return score_files, spectrum_files


def run_steps(tmp_path, ssl):
    scores, spectra = fake_outputs(tmp_path, ssl)
    results, figures = tmp_path / "results", tmp_path / "figures"
    assert main(["ssl-summarize", "--section", json.dumps(ssl), "--scores", *map(str, scores),
                 "--spectra", *map(str, spectra), "--out-dir", str(results)]) == 0
    assert main(["ssl-figures", "--section", json.dumps(ssl), "--results-dir", str(results),
                 "--out-dir", str(figures)]) == 0
    return results, figures


def test_gains_equal_the_known_margin_and_all_figures_are_drawn(tmp_path):
    ssl = section(architectures=[{"depth": 2, "width": 16}, {"depth": 4, "width": 16}, {"depth": 2, "width": 32}],
                  pretrain_sizes=[0.5, 1.0])
    results, figures = run_steps(tmp_path, ssl)
    gains = pd.read_csv(results / "gains.tsv", sep="\t")
    accuracy = gains[gains["metric"] == "accuracy"]
    # Curves differ by a constant, so the normalised gain is that constant and the raw one
    # that constant times the width covered by the grid inside [0.02, 0.3] (0.05 .. 0.3).
    scarf = accuracy[accuracy["method"] == "scarf"]
    assert scarf["gain_normalized"].to_numpy() == pytest.approx(0.1)
    assert scarf["gain"].to_numpy() == pytest.approx(0.1 * 0.25)
    assert (accuracy["p_low"] == 0.05).all() and (accuracy["p_high"] == 0.3).all()
    summary = pd.read_csv(results / "summary.tsv", sep="\t")
    assert len(summary) == len(PROPORTIONS) * 2 * (3 + 2 * 2 * 4)  # baselines + methods x modes x runs
    for name in ("accuracy_vs_p", "gain_heatmap", "spectra", "accuracy_vs_pretrain_size"):
        for ext in ("png", "svg"):
            assert (figures / f"{name}.{ext}").stat().st_size > 0
    assert not list(tmp_path.rglob("*.tmp"))


def test_figures_a_config_cannot_support_are_skipped_and_said(tmp_path, capsys):
    ssl = section()
    _, figures = run_steps(tmp_path, ssl)
    err = capsys.readouterr().err
    assert "figure gain_heatmap skipped" in err and "figure accuracy_vs_pretrain_size skipped" in err
    # The summary step counts the fits that ran out of epochs (one baseline fit here).
    n_fits = len(pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t"))
    assert f"1 of {n_fits} fine-tuning fits hit the epoch cap" in err and "baseline unfrozen: 1 of" in err
    assert sorted(p.stem for p in figures.glob("*.png")) == ["accuracy_vs_p", "spectra"]
