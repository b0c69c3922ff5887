"""The execution profiles: every profile plans a tiny config without a cluster, and a real
run through sbatch on a one-node local Slurm cluster (scripts/local_slurm.sh) gives the
same results as a local run."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_workflow import tiny_config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROFILES = ROOT / "profiles"
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
SLURM_RUN_ID = re.compile(r"SLURM run ID: (\S+)")
# A job here takes 15-30 s; the plugin's default first status check after 40 s (then
# 10 s more each time) would leave the cluster idle for much of the run.
FIRST_STATUS_CHECK_S = 10
RUN_TIMEOUT_S = 600
# prepare_dataset + task_manifest + 2 models x 2 signal removals x 2 folds; summarize
# and figures are local rules and never go to Slurm.
SUBMITTED_JOBS = 1 + 1 + 8
SUMMARY_ROWS = 2 * 2 * 2 * 2  # models x signal removals x folds x training fractions


def snakemake_env() -> dict:
    # The rules call `exprbench`, and Slurm jobs inherit this PATH (sbatch --export=ALL).
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SNAKEMAKE_PROFILE", None)  # only the profile under test
    return env


def snakemake_args(workdir, config, *extra) -> list:
    return [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(config), *extra]


@pytest.mark.parametrize("profile", ["workstation", "slurm", "slurm-grouped"])
def test_every_profile_plans_the_tiny_config_without_a_cluster(profile, tmp_path):
    config = tiny_config(tmp_path)
    result = subprocess.run(snakemake_args(tmp_path / "run", config, "-n", "--profile", str(PROFILES / profile)),
                            cwd=tmp_path, env=snakemake_env(), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert f"Using profile {PROFILES / profile}" in output
    if profile == "workstation":  # fit_grain: model, one job per (task, model, signal_removal)
        assert re.search(r"^fit_group\s+4$", output, re.MULTILINE), "the job stats list the 4 grouped fit jobs"
    else:  # the Slurm profiles set fit_grain: fold
        assert re.search(r"^fit\s+8$", output, re.MULTILINE), "the job stats list the 8 fit jobs"
    if profile.startswith("slurm"):
        assert "slurm_partition=debug" in output
    if profile == "slurm-grouped":
        assert "Group job fits" in output


def rule_resources(dry_run_output, rule) -> list:
    """The `resources:` line of every job of `rule` in a dry-run's job listing."""
    found, in_rule = [], False
    for line in dry_run_output.splitlines():
        if re.match(r"\s*rule \S+:$", line):
            in_rule = line.strip() == f"rule {rule}:"
        elif in_rule and line.strip().startswith("resources:"):
            found.append(line.strip())
            in_rule = False
    return found


def test_gpu_fits_ask_slurm_for_a_gpu(tmp_path):
    """The submit host has no GPU; the cluster's fit jobs must still ask for one."""
    config = tiny_config(tmp_path)
    result = subprocess.run(snakemake_args(tmp_path / "run", config, "-n", "--profile", str(PROFILES / "slurm"),
                                           "--config", "gpus_per_fit=1", "fit_grain=fold"),
                            cwd=tmp_path, env=snakemake_env(), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    fits = rule_resources(output, "fit")
    assert len(fits) == 8
    assert all(re.search(r"\bgpu=1\b", line) and "cpus_per_gpu=" in line for line in fits), fits[0]


@contextlib.contextmanager
def snakemake_in_background(args, log_path, cwd):
    """Runs Snakemake in its own process group. If the test leaves the block before it has
    finished, the group is interrupted (Snakemake then cancels its Slurm jobs), killed if
    it lingers, and any job of its Slurm run that is left is cancelled."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, cwd=cwd, env=snakemake_env(), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            run_id = SLURM_RUN_ID.search(log_path.read_text())
            if run_id and shutil.which("scancel"):
                subprocess.run(["scancel", "--name", run_id.group(1)], capture_output=True)


def wait_for_success(process, log_path, what):
    try:
        returncode = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} did not finish within {RUN_TIMEOUT_S} s:\n{log_path.read_text()[-5000:]}")
    assert returncode == 0, f"{what} failed:\n{log_path.read_text()[-5000:]}"
    return log_path.read_text()


def slurm_states(job_ids) -> dict:
    listing = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%T", f"--jobs={','.join(job_ids)}"],
                             capture_output=True, text=True, check=True).stdout
    return dict(line.split("|", 1) for line in listing.split())


@pytest.mark.slow
def test_slurm_profile_runs_jobs_through_sbatch_with_the_same_results_as_a_local_run(slurm_cluster, tmp_path):
    config = tiny_config(tmp_path)
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    slurm_log, local_log = tmp_path / "slurm.log", tmp_path / "local.log"
    slurm_run = snakemake_args(slurm_dir, config, "--profile", str(PROFILES / "slurm"),
                               "--slurm-init-seconds-before-status-checks", str(FIRST_STATUS_CHECK_S))
    local_run = snakemake_args(local_dir, config, "--cores", "2")

    # The local reference run goes alongside, on the CPU time the Slurm run leaves idle
    # (one job at a time at first, then waits between status checks).
    with snakemake_in_background(slurm_run, slurm_log, tmp_path) as slurm_process, \
            snakemake_in_background(local_run, local_log, tmp_path) as local_process:
        slurm_output = wait_for_success(slurm_process, slurm_log, "the Slurm run")
        wait_for_success(local_process, local_log, "the local run")

    # Every non-local job was submitted with sbatch, ran on the cluster and kept its log.
    job_ids = SUBMITTED.findall(slurm_output)
    assert len(job_ids) == SUBMITTED_JOBS, slurm_output[-5000:]
    states = slurm_states(job_ids)
    assert states == {job_id: "COMPLETED" for job_id in job_ids}, states
    slurm_logs = {path.stem: path for path in (slurm_dir / "logs" / "slurm").rglob("*.log")}
    assert set(job_ids) <= set(slurm_logs), f"job ids {job_ids}, logs {sorted(slurm_logs)}"
    assert sum(slurm_logs[job_id].parent.parent.name == "rule_fit" for job_id in job_ids) == 8

    slurm_summary = pd.read_csv(slurm_dir / "results" / "summary.tsv", sep="\t")
    local_summary = pd.read_csv(local_dir / "results" / "summary.tsv", sep="\t")
    assert len(slurm_summary) == SUMMARY_ROWS
    # Same numbers wherever the jobs ran; only the measured time differs.
    pd.testing.assert_frame_equal(slurm_summary.drop(columns="fit_seconds"), local_summary.drop(columns="fit_seconds"))
