"""fit_grain: several fits per workflow job give the same per-fit files as one fit per job."""

import re
import shutil

import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, run_workflow, snakemake, tiny_config

from exprbench import config as config_module
from exprbench.classification import fit_group
from exprbench.classification import settings as classification_settings


def per_fit_files(workdir) -> dict:
    """Every per-fit file of a run, fit_seconds dropped from the metrics (it is a timing)."""
    files = {}
    for path in sorted((workdir / "results" / "runs").rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t", keep_default_na=False)
        if path.name == "metrics.tsv":
            table = table.drop(columns="fit_seconds")
        files[path.relative_to(workdir).as_posix()] = table.to_csv(sep="\t", index=False)
    return files


@pytest.mark.slow
def test_grouped_fits_write_the_same_files_as_one_fit_per_job(tmp_path):
    config = seeds_0_and_1(tiny_config(tmp_path))
    data = yaml.safe_load(config.read_text())
    # torch and limma (R) are what could carry state from one fit of a process to the next
    data["defaults"].update(models=["mlp3"], signal_removal=["limma"])
    config.write_text(yaml.safe_dump(data))
    run_workflow(tmp_path, config, "--config", "fit_grain=fold")
    by_fold = per_fit_files(tmp_path)
    assert len(by_fold) == 2 * 2 * 2  # seeds x folds x (metrics, predictions)
    fold_summary = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t").drop(columns="fit_seconds")

    shutil.rmtree(tmp_path / "results" / "runs")
    result = run_workflow(tmp_path, config)  # the default grain: one job per (task, model, signal_removal)
    assert re.search(r"^fit_group\s+1$", result.stdout + result.stderr, re.MULTILINE)
    assert per_fit_files(tmp_path) == by_fold
    model_summary = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t").drop(columns="fit_seconds")
    pd.testing.assert_frame_equal(model_summary, fold_summary)
    assert (tmp_path / "logs" / "fit" / "sim" / "mlp3" / "limma.log").stat().st_size > 0


def seeds_0_and_1(config):
    data = yaml.safe_load(config.read_text())
    data["defaults"]["seeds"] = [0, 1]
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.mark.parametrize("grain, jobs", [("fold", 16), ("seed", 8), ("model", 4)])
def test_each_grain_batches_the_fits_into_its_jobs(tmp_path, grain, jobs):
    config = config_module.load(seeds_0_and_1(tiny_config(tmp_path, fit_grain=grain)))
    groups = classification_settings.fit_groups(config)
    assert len(groups) == jobs and {len(group) for group in groups} == {16 // jobs}
    assert [job for group in groups for job in group] == classification_settings.fit_jobs(config)


def test_the_seed_grain_plans_one_job_per_seed(tmp_path):
    config = seeds_0_and_1(tiny_config(tmp_path, fit_grain="seed"))
    result = snakemake("-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(config), "--cores", "2")
    assert re.search(r"^fit_group\s+8$", result.stdout, re.MULTILINE), result.stdout[-2000:]
    assert "--cells 1:0 1:1" in result.stdout or "logs/fit/sim/mlp3/limma/seed1.log" in result.stdout


def test_a_grouped_job_asks_for_the_memory_of_one_fit_and_the_runtime_of_all(tmp_path):
    config = config_module.load(tiny_config(tmp_path, resources={"fit": {"mem_mb": 1000, "runtime": 10}}))
    one = classification_settings.fit_resources(config, "mlp3", 50, attempt=2)
    four = classification_settings.fit_resources(config, "mlp3", 50, attempt=2, n_fits=4)
    assert one == {"mem_mb": 2 * 1400, "runtime": 20}
    assert four == {"mem_mb": 2 * 1400, "runtime": 80}


def test_a_task_with_other_folds_gets_a_rule_of_its_own(tmp_path):
    config = tiny_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["tasks"]["sim3"] = {**data["tasks"]["sim"], "split": {"folds": 3}}
    config.write_text(yaml.safe_dump(data))
    result = snakemake("-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(config), "--cores", "2")
    assert re.search(r"^fit_group\s+4$", result.stdout, re.MULTILINE)
    assert re.search(r"^fit_group_2\s+4$", result.stdout, re.MULTILINE)
    assert "results/runs/sim3/mlp3/limma/seed0/fold2/metrics.tsv" in result.stdout


class FailsOnFold1:
    """Stands in for FitJob: fold 1 raises, the others return one metrics row."""

    def __init__(self, task, model, dataset, signal_removal, seed, fold):
        self.task, self.model, self.dataset, self.signal_removal = task, model, dataset, signal_removal
        self.seed, self.fold = seed, fold

    def log(self, message):
        pass

    def run(self):
        if self.fold == 1:
            raise ValueError("line one\nfold 1 cannot be fitted")
        return pd.DataFrame([{"fold": self.fold, "accuracy": 1.0}]), pd.DataFrame([{"sample_id": "s1"}])


def test_a_failing_fit_fails_its_group_until_the_last_attempt_then_only_itself(tmp_path, monkeypatch):
    monkeypatch.setattr("exprbench.classification.job.FitJob", FailsOnFold1)
    settings = {"task": {"name": "t", "kind": "binary"}, "model": {"name": "m"}, "dataset": "d",
                "signal_removal": "none"}
    cells = [fit_group.FitCell(0, fold, tmp_path / f"f{fold}.metrics.tsv", tmp_path / f"f{fold}.predictions.tsv")
             for fold in range(3)]

    with pytest.raises(ValueError, match="fold 1 cannot be fitted"):
        fit_group.run_fit_cells(settings, cells, attempt=1, attempts=2)

    assert fit_group.run_fit_cells(settings, cells, attempt=2, attempts=2) == 1
    for fold in (0, 2):
        assert pd.read_csv(cells[fold].metrics, sep="\t")["accuracy"].tolist() == [1.0]
    failed = pd.read_csv(cells[1].metrics, sep="\t")
    assert failed[["status", "error", "fold"]].values.tolist() == [["failed", "ValueError: fold 1 cannot be fitted", 1]]
    assert pd.read_csv(cells[1].predictions, sep="\t").empty


def test_a_group_killed_on_its_last_attempt_keeps_its_finished_fits(tmp_path):
    from exprbench.cli import main

    files = {fold: (tmp_path / f"f{fold}.metrics.tsv", tmp_path / f"f{fold}.predictions.tsv") for fold in range(3)}
    pd.DataFrame([{"fold": 0, "accuracy": 1.0}]).to_csv(files[0][0], sep="\t", index=False)
    log = tmp_path / "group.log"
    log.write_text("fit 0 done\nKilled\n")
    args = ["record-failure", "--task", '{"name": "t", "kind": "binary"}', "--model", "m", "--dataset", "d",
            "--signal-removal", "none", "--cells", "0:0", "0:1", "0:2", "--log", str(log),
            "--metrics", *(str(m) for m, _ in files.values()), "--predictions", *(str(p) for _, p in files.values())]

    assert main([*args, "--attempt", "1", "--attempts", "2"]) == 1  # retried: nothing recorded yet
    assert not files[1][0].exists()
    assert main([*args, "--attempt", "2", "--attempts", "2"]) == 0
    assert pd.read_csv(files[0][0], sep="\t")["accuracy"].tolist() == [1.0]
    for fold in (1, 2):
        failed = pd.read_csv(files[fold][0], sep="\t")
        assert failed[["status", "error", "fold"]].values.tolist() == [["failed", "Killed", fold]]
