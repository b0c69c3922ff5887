"""The Snakemake workflow itself: a real run of a tiny config, dry-runs of every
shipped config, the lint, and bad configs stopping before any job."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHIPPED_CONFIGS = sorted([*(ROOT / "config").glob("*.yaml"), *(ROOT / "config" / "experiments").glob("*.yaml")])
SUMMARY_COLUMNS = ["task", "dataset", "model", "signal_removal", "seed", "fold", "train_fraction",
                   "n_train", "n_val", "accuracy", "balanced_accuracy"]


def snakemake(*args, cwd=ROOT, check=True):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def tiny_config(tmp_path, **overrides) -> Path:
    config = {
        "model_dir": str(ROOT / "config" / "models"),
        "datasets": {"sim": {"source": "simulated", "params": {"n_samples": 60, "n_linear": 10, "n_nonlinear": 10}}},
        "defaults": {"split": {"folds": 2}, "train_fractions": [0.5, 1.0], "tuning": {"n_trials": 1, "inner_folds": 2},
                     "models": ["logistic_regression", "mlp3"], "seeds": [0], "signal_removal": ["none", "limma"]},
        "tasks": {"sim": {"dataset": "sim", "label": "label", "kind": "binary"}},
        **overrides,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def workflow_args(workdir, config) -> tuple:
    """The repository's workflow, run in ``workdir`` on ``config`` with 2 cores."""
    return ("--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(config),
            "--cores", "2")


def run_workflow(workdir, config, *extra, check=True):
    return snakemake(*workflow_args(workdir, config), *extra, check=check)


@pytest.mark.slow
def test_tiny_config_runs_end_to_end(tmp_path):
    config = tiny_config(tmp_path)
    result = run_workflow(tmp_path, config)
    summary = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t")
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)
    assert len(summary) == 2 * 2 * 2 * 2  # models x signal removals x folds x fractions
    for stem in ("learning_curves", "binary_pairs"):
        for ext in ("png", "svg"):
            assert (tmp_path / "figures" / f"{stem}.{ext}").stat().st_size > 0
    assert "results/summary.tsv" in result.stdout + result.stderr
    assert not list(tmp_path.rglob("*.tmp")), "no temporary files are left behind"

    # A second run has nothing to do, and rerunning from scratch gives the same numbers.
    rerun = run_workflow(tmp_path, config)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    first = summary.drop(columns="fit_seconds")
    shutil.rmtree(tmp_path / "results")
    run_workflow(tmp_path, config)
    again = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t").drop(columns="fit_seconds")
    pd.testing.assert_frame_equal(first, again)


@pytest.mark.parametrize("config", SHIPPED_CONFIGS, ids=lambda p: p.relative_to(ROOT / "config").as_posix())
def test_dry_run_of_every_shipped_config(config, tmp_path):
    """Works without any data, and names every download it would do."""
    (tmp_path / "config").symlink_to(ROOT / "config")
    result = snakemake("-n", "--configfile", str(config), "--directory", str(tmp_path),
                       "--snakefile", str(ROOT / "Snakefile"))
    assert "Job stats" in result.stdout or "jobs" in result.stdout.lower()
    for dataset in yaml.safe_load(config.read_text())["datasets"].values():
        if "definition" in dataset:
            files = yaml.safe_load((ROOT / dataset["definition"]).read_text())["files"]
            first_url = next(iter(files.values()))["urls"][0]
            assert first_url in result.stdout


def test_missing_manual_labels_stop_the_first_job_before_any_download(tmp_path):
    (tmp_path / "config").symlink_to(ROOT / "config")
    config = tmp_path / "sex.yaml"
    config.write_text(yaml.safe_dump({
        "datasets": {"recount3": {"definition": "config/datasets/recount3_sra.yaml"}},
        "tasks": {"sex": {"dataset": "recount3", "label": "sex", "kind": "binary"}},
    }))
    result = snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(config), "--cores", "1", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "download" / "recount3.log").read_text()
    assert "data/manual/combined_human_mouse_meta_v2.csv" in log and "figshare" in log
    assert not list((tmp_path / "downloads").rglob("*.gz")), "nothing may be downloaded first"


def test_lint_is_clean():
    result = snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"tasks": {"sim": {"dataset": "sim", "label": "label", "kind": "binary", "models": ["forest"]}}},
         "tasks.sim.models: unknown model 'forest'"),
        ({"tasks": {"sim": {"dataset": "sim", "label": "colour", "kind": "binary"}}}, "tasks.sim.label"),
        ({"tasks": {"sim": {"dataset": "sim", "label": "label", "kind": "binary", "train_fractions": [2]}}},
         "tasks.sim.train_fractions.0"),
        ({"tasks": {"sim": {"dataset": "sim", "label": "label", "kind": "binary", "splt": {}}}},
         "tasks.sim.splt: unknown key; did you mean 'split'?"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, overrides, expected):
    config = tiny_config(tmp_path, **overrides)
    result = snakemake("-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(config), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert str(config) in output and expected in output
    assert any(hint in output for hint in ("(allowed:", "did you mean", "must be"))
    assert not (tmp_path / "data").exists()


def test_bad_labels_fail_in_the_manifest_before_any_fit(tmp_path):
    config = tiny_config(tmp_path,
                         datasets={"sim": {"source": "simulated", "params": {"n_samples": 60, "n_linear": 5}}},
                         tasks={"sim": {"dataset": "sim", "label": "label", "kind": "binary", "split": {"folds": 99}}})
    result = snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(config), "--cores", "1", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "manifest" / "sim.log").read_text()
    assert "tasks.sim.split.folds" in log and "lower folds" in log
    assert not (tmp_path / "results" / "runs").exists()


@pytest.mark.slow
def test_failing_fit_is_retried_then_recorded_without_sinking_the_run(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(ROOT / "config" / "models" / "logistic_regression.yaml", models)
    # Valid to check-config, fails in the fit: the loss is never finite at this rate.
    broken = {"estimator": "mlp3", "params": {"learning_rate": 1.0e30, "max_epochs": 2}}
    (models / "broken.yaml").write_text(yaml.safe_dump(broken))
    config = tiny_config(tmp_path, model_dir=str(models), fit_retries=1)
    config_data = yaml.safe_load(config.read_text())
    config_data["defaults"].update(models=["logistic_regression", "broken"], signal_removal=["none"])
    config.write_text(yaml.safe_dump(config_data))

    run_workflow(tmp_path, config)  # exits 0: the failure is recorded, not fatal
    summary = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t")
    failed = summary[summary["status"] == "failed"]
    assert sorted(failed["fold"]) == [0, 1] and set(failed["model"]) == {"broken"}
    assert failed["error"].str.contains("loss was never finite").all()
    ok = summary[summary["status"] == "ok"]
    assert set(ok["model"]) == {"logistic_regression"} and ok["balanced_accuracy"].notna().all()
    log = (tmp_path / "results" / "../logs/summarize.log").read_text()
    assert "2 failed fits" in log
    assert (tmp_path / "figures" / "learning_curves.png").exists()


def test_a_user_config_replaces_the_default_instead_of_merging_into_it(tmp_path):
    result = snakemake("-n", "--configfile", str(tiny_config(tmp_path)))  # run from the repo, default present
    assert "sim_linear_nonlinear" not in result.stdout, "the default config's tasks leaked into a user config"
    assert "task=sim," in result.stdout


def test_local_runs_cap_gpu_jobs_at_the_local_gpu_count(tmp_path):
    """No GPU here: even a config asking for GPU fits must not schedule GPU jobs."""
    result = snakemake("-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(tiny_config(tmp_path)), "--config", "gpus_per_fit=1", "--cores", "2")
    fits = [line for line in result.stdout.splitlines() if "fit_attempt=" in line]
    assert fits and all("gpu=0" in line for line in fits)
