"""``exprbench plan``: its job counts are the workflow's, its fit counts are the
fits and result rows a run produces, and its calibration is cached."""

import json
import re

import pytest
import yaml
from test_workflow import ROOT, snakemake

from exprbench import config as config_module
from exprbench import plan, plan_calibration
from exprbench.classification import settings as classification_settings
from exprbench.classification.job import FitJob
from exprbench.classification.models import MODELS
from exprbench.classification.tasks import build_manifest, read_manifest, write_manifest
from exprbench.cli import main
from exprbench.sources import SOURCES
from exprbench.store import open_dataset

# Snakemake rule -> the plan's family whose jobs it runs.
RULE_FAMILY = {"fit": "classification", "ssl_pretrain": "ssl", "ssl_finetune": "ssl",
               "inference_fit": "inference", "compressed_sensing_fit": "compressed_sensing"}


def _jobs_by_family(rows):
    counts = {}
    for row in rows:
        counts[row["family"]] = counts.get(row["family"], 0) + row["jobs"]
    return counts


def test_plan_job_counts_are_the_dry_run_job_stats_of_the_default_config(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the config's model_dir is relative to the repository
    config = config_module.load(ROOT / "config" / "config.yaml")
    rows = plan.plan_rows(config)
    (tmp_path / "config").symlink_to(ROOT / "config")
    dry = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), "--directory", str(tmp_path),
                    "--snakefile", str(ROOT / "Snakefile")).stdout
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", dry.split("Job stats:")[1].split("\n\n")[0], re.M))
    expected = {}
    for rule, count in stats.items():
        # fit, or fit_group* when the config's fit_grain runs several cells per job
        family = "classification" if rule.startswith("fit_group") else RULE_FAMILY.get(rule)
        if family is None and rule.endswith("_fit"):  # a newer family's heavy rule: <family>_fit
            family = rule.removesuffix("_fit")
        if family:
            expected[family] = expected.get(family, 0) + int(count)
    assert _jobs_by_family(rows) == expected
    cells = sum(r["cells"] for r in rows if r["family"] == "classification")
    # 6 tasks x 4 models x 2 removals x 2 seeds x 3 folds
    assert cells == len(classification_settings.fit_jobs(config)) == 288


def _tiny_config(tmp_path):
    config = {
        "model_dir": str(ROOT / "config" / "models"),
        "data_dir": str(tmp_path / "data"),
        "results_dir": str(tmp_path / "results"),
        "datasets": {"sim": {"source": "simulated", "params": {"n_samples": 100, "n_linear": 10, "n_nonlinear": 10}}},
        "defaults": {"split": {"folds": 2}, "train_fractions": [0.5, 1.0], "tuning": {"n_trials": 2, "inner_folds": 2},
                     "models": ["logistic_regression"], "seeds": [0], "signal_removal": ["none"]},
        "tasks": {
            "plain": {"dataset": "sim", "label": "label", "kind": "binary"},
            "pairs": {"dataset": "sim", "label": "label", "kind": "binary_pairs", "top_n": 2},
            "pretrained": {"dataset": "sim", "label": "label", "kind": "binary", "pretraining": True,
                           "split": {"by": "sample", "folds": 5}, "train_fractions": [1.0]},
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_plan_fit_counts_are_the_fits_and_result_rows_of_a_run(tmp_path, monkeypatch):
    """Every fit job of a tiny config, run in process: the plan's fits are its
    result rows, and fits + search fits + other fits are every call to fit."""
    path = _tiny_config(tmp_path)
    config = config_module.load(path)
    planned_before = {(r["name"], r["model"]): r for r in plan.plan_rows(config)}

    spec = config["datasets"]["sim"]
    store = tmp_path / "data" / "sim.h5"
    store.parent.mkdir()
    SOURCES.get(spec["source"])(files=spec.get("files"), **spec["params"]).write(store, {})
    for name, task in config["tasks"].items():
        with open_dataset(store) as reader:
            write_manifest(tmp_path / "results" / "tasks" / f"{name}.json", build_manifest(reader, task, path))
    planned = {(r["name"], r["model"]): r for r in plan.plan_rows(config)}

    estimator = MODELS.get("logistic_regression")
    original_fit, calls = estimator.fit, []

    def counted_fit(self, *args, **kwargs):
        calls.append(1)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(estimator, "fit", counted_fit)
    done = {}
    for job in classification_settings.fit_jobs(config):
        task = config["tasks"][job["task"]]
        calls.clear()
        metrics, _ = FitJob(task=task, manifest=read_manifest(tmp_path / "results" / "tasks" / f"{job['task']}.json"),
                            model=config["models"][job["model"]], signal_removal=job["signal_removal"],
                            seed=job["seed"], fold=job["fold"], dataset=task["dataset"], device="cpu").run()
        counts = done.setdefault((job["task"], job["model"]), {"jobs": 0, "rows": 0, "calls": 0})
        counts["jobs"] += 1
        counts["rows"] += len(metrics)
        counts["calls"] += len(calls)

    assert set(planned) == set(done)
    for key, run in done.items():
        row = planned[key]
        assert (row["cells"], row["fits"], row["fits"] + row["search_fits"] + row["other_fits"]) == \
               (run["jobs"], run["rows"], run["calls"]), key
        before = planned_before[key]
        counts = ("cells", "fits", "search_fits")
        assert [before[k] for k in counts] == [row[k] for k in counts]
    assert planned[("pretrained", "logistic_regression")]["other_fits"] == 5  # one pretraining fit per job


class FixedRate:
    """A calibration that measures nothing."""

    def __init__(self, seconds):
        self.seconds = seconds

    def fit_cost(self, model, n_genes, n_classes, device="cpu"):
        return {"sample_epoch": self.seconds, "fit": 0.5}

    def startup_seconds(self):
        return {"process": 4.0, "r": 0.5}


def test_plan_cpu_time_is_the_calibrated_rate_times_the_sample_epochs_of_every_fit(tmp_path):
    config = config_module.load(_tiny_config(tmp_path))
    row = next(r for r in plan.plan_rows(config, FixedRate(1e-3)) if r["name"] == "plain")
    # 100 samples, 2 folds: 50 training; fractions 0.5 + 1.0 -> 75; 2 trials x 2 inner folds on 25 each -> 100;
    # 50 epochs each (the epoch cap); 2 + 4 fits at 0.5 s each; 2 cells.
    assert row["cpu_hours"] == pytest.approx(2 * ((75 + 100) * 50 * 1e-3 + 6 * 0.5) / 3600)
    text = plan.format_plan(plan.plan_rows(config, FixedRate(1e-3)), FixedRate(0).startup_seconds(), None, "tiny.yaml")
    assert "GPU time: no GPU here; not estimated" in text
    assert "4.00 s measured" in text
    with_gpu = plan.plan_rows(config, FixedRate(1e-4), gpu=True)
    assert next(r for r in with_gpu if r["name"] == "plain")["gpu_hours"] == \
        pytest.approx(2 * ((75 + 100) * 50 * 1e-4 + 6 * 0.5) / 3600)
    assert "classification GPU time on H200:" in plan.format_plan(with_gpu, None, "H200", "tiny.yaml")


def test_plan_without_calibration_says_what_it_did_not_estimate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["plan", str(_tiny_config(tmp_path)), "--no-calibrate"]) == 0
    out = capsys.readouterr().out
    assert "start-up per job process: not measured" in out
    # fits: plain and pairs 2 folds x 2 fractions; pretrained 5 folds x 1 fraction x (direct, fine-tuned).
    # search: 9 cells x 2 trials x 2 inner folds
    assert "18 fits, 36 search fits, 5 other fits" in out
    assert not (tmp_path / "cache").exists(), "--no-calibrate writes no cache"


def test_calibration_is_measured_once_and_cached(tmp_path):
    cache = tmp_path / "calibration.json"
    model = {"estimator": "logistic_regression", "params": {"batch_size": 16}}
    measured = plan_calibration.Calibration(cache).fit_cost(model, 10, 2)
    assert measured["sample_epoch"] > 0 and measured["fit"] >= 0
    cached = plan_calibration.Calibration(cache, measure=False)
    assert cached.fit_cost(model, 10, 2) == measured
    assert cached.fit_cost(model, 11, 2) is None, "another shape is not measured without measure"
    (key,) = json.loads(cache.read_text())
    assert "logistic_regression genes=10 classes=2 batch=16" in key and plan_calibration.cpu_model() in key
