"""A run killed at any moment is finished by the plain rerun a user would type:
no --unlock, no --rerun-incomplete, the same results and no litter."""

import os
import random
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml
from test_workflow import BIN, ROOT, run_workflow, snakemake, tiny_config

PROFILE = ROOT / "profiles" / "workstation"


def _start(workdir, config):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    command = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--profile", str(PROFILE), "--configfile", str(config), "--cores", "2"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _results(workdir) -> dict:
    summary = pd.read_csv(workdir / "results" / "summary.tsv", sep="\t").drop(columns="fit_seconds")
    figures = sorted(p.name for p in (workdir / "figures").iterdir())
    return {"summary": summary, "figures": figures}


def _litter(workdir) -> list[str]:
    return [str(p.relative_to(workdir)) for p in workdir.rglob(".*")
            if p.name.endswith((".tmp", ".scratch")) and ".snakemake" not in p.parts]


def _tiny(tmp_path):
    config = tiny_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["defaults"]["models"] = ["logistic_regression"]
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.mark.slow
def test_kills_at_random_moments_then_a_plain_rerun_gives_the_uninterrupted_results(tmp_path):
    clean_dir, killed_dir = tmp_path / "clean", tmp_path / "killed"
    clean_dir.mkdir()
    killed_dir.mkdir()
    config = _tiny(tmp_path)
    started = time.monotonic()
    run_workflow(clean_dir, config)
    clean_seconds = time.monotonic() - started
    expected = _results(clean_dir)

    # Kill the whole process group (Snakemake and its jobs) at seeded random
    # moments; each restart is the plain command, and must not stop on a lock.
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        run = _start(killed_dir, config)
        try:
            run.wait(timeout=rng.uniform(1.5, max(2.0, 0.6 * clean_seconds)))
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            kills += 1
            continue
        output = run.stdout.read()
        assert run.returncode == 0, f"a rerun after a kill failed:\n{output[-3000:]}"
        break
    assert kills >= 3, "the kills came too late to interrupt anything"

    final = _start(killed_dir, config)
    output, _ = final.communicate(timeout=600)
    assert final.returncode == 0, output[-3000:]
    assert "LockException" not in output and "IncompleteFilesException" not in output

    got = _results(killed_dir)
    pd.testing.assert_frame_equal(expected["summary"], got["summary"])
    assert expected["figures"] == got["figures"]
    assert _litter(killed_dir) == []
    assert "Nothing to be done" in snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(killed_dir),
                                             "--configfile", str(config), "-n").stdout


@pytest.mark.slow
def test_a_task_whose_every_fit_failed_ends_the_run_with_an_error(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    # Valid to check-config, fails in the fit: the loss is never finite at this rate.
    broken = {"estimator": "mlp3", "params": {"learning_rate": 1.0e30, "max_epochs": 2}}
    (models / "broken.yaml").write_text(yaml.safe_dump(broken))
    config = tiny_config(tmp_path, model_dir=str(models), fit_retries=0)
    data = yaml.safe_load(config.read_text())
    data["defaults"].update(models=["broken"], signal_removal=["none"])
    config.write_text(yaml.safe_dump(data))

    result = run_workflow(tmp_path, config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "task sim: every fit failed, so it has no result (first error:" in output
    assert "loss was never finite" in output
    assert (tmp_path / "results" / "summary.tsv").exists(), "the summary is still written"


def test_a_partial_run_up_to_the_manifests_ends_without_error(tmp_path):
    """`--until task_manifest` (sizing a run before fitting) has no summary to report on."""
    result = run_workflow(tmp_path, _tiny(tmp_path), "--until", "task_manifest", check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "results" / "tasks" / "sim.json").exists()
    assert not (tmp_path / "results" / "summary.tsv").exists()
