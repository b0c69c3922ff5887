"""``exprbench plan``: what a config will run and cost, before anything runs.

Jobs come from the same helpers the workflow's rules expand (classification's ``fit_jobs``
and each family's ``jobs``); fits per job follow the job code:

* classification (``job.py``, ``tuning.py``): per job and problem (the task, or
  each class pair), one nested search of ``n_trials x inner_folds`` fits, then one
  fit per training fraction, twice (direct and fine-tuned) with pretraining, plus
  one pretraining fit per problem;
* ssl (``ssl/job.py``): a pretraining job fits one encoder; a fine-tuning job fits
  ``repeats x proportions`` classifiers;
* inference (``inference/job.py``): every grid point is fitted, the best one
  gives the job's result row;
* compressed_sensing (``compressed_sensing/job.py``): one training fit, then one
  recovery per measurement count, each a result row.

CPU and GPU time are estimated for the classification fits only, from a
calibration of a few epochs per model shape (``plan_calibration``), at one thread
per fit and every fit running to its epoch cap (an upper bound: early stopping
usually ends fits sooner).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import config as config_module
from .family import families
from .sources import SOURCES

MB = 1024 * 1024


def dataset_shape(config: dict, name: str) -> tuple[int, int] | None:
    """(samples, genes) of a dataset: its prepared store, else a simulated source's
    parameters; None when only preparing it would tell."""
    store = Path(config["data_dir"]) / f"{name}.h5"
    if store.is_file():
        from .store import open_dataset

        with open_dataset(store) as reader:
            return tuple(reader.shape)
    entry = config["datasets"][name]
    if entry["source"] == "simulated":  # the only source whose size the config alone fixes
        params = {**SOURCES.get("simulated").defaults, **entry["params"]}
        return int(params["n_samples"]), sum(int(params[k]) for k in ("n_linear", "n_nonlinear", "n_noise"))
    return None


def finish(row: dict) -> dict:
    """``per_job`` and ``*_s_per_job`` are per cell; a classification job may run several."""
    per_job = row.pop("per_job")
    row.setdefault("cells", row["jobs"])
    for unit in ("cpu", "gpu"):
        seconds = row.pop(f"{unit}_s_per_job", None)
        row[f"{unit}_hours"] = None if seconds is None else seconds * row["cells"] / 3600
    row.setdefault("limma_jobs", 0)
    row["fits_per_job"] = per_job.get("fits", 0)
    return row


def family_row(family: str, name: str, model: str, jobs: int, per_job: dict, mem_mb: int) -> dict:
    return finish({"family": family, "name": name, "model": model, "jobs": jobs,
                    **{k: jobs * per_job.get(k, 0) for k in ("fits", "search_fits", "other_fits")},
                    "exact": True, "mem_mb": mem_mb, "mem_from": "rules' mem_mb", "per_job": per_job})


def grouped(jobs: list[dict], *keys) -> dict:
    groups: dict = {}
    for job in jobs:
        groups.setdefault(tuple(job[k] for k in keys), []).append(job)
    return groups


def plan_rows(config: dict, calibration=None, gpu: bool = False) -> list[dict]:
    """One row per (family, task or experiment, model or method) of a resolved config:
    each family's ``plan.py`` says what its jobs fit (``rows(section_or_config, ...)``);
    a family without one gets a row per job list with no fit counts."""
    rows = []
    for fam in families():
        if fam.config_keys:
            if config[fam.keys[0]]:
                rows += fam.plan().rows(config, calibration, gpu)
        elif fam.name in config:
            plan = fam.plan()
            if plan is not None:
                rows += plan.rows(config[fam.name])
            else:
                rows.append(family_row(fam.name, "all", "all", len(fam.settings().jobs(config[fam.name])), {}, 0))
    return rows


def _hours(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def format_plan(rows: list[dict], startup: dict | None, gpu_name: str | None, config_file) -> str:
    lines = [f"Plan for {config_file}",
             "fits: result rows' fits; search: nested-search fits (classification) or grid points not kept "
             "(inference); other: pretraining fits and compressed-sensing training fits. '<=' marks counts "
             "that data may lower (pairs from top_n before the manifest exists)."]
    header = f"{'family':<19} {'task/experiment':<22} {'model/method':<22} {'jobs':>5} {'fits':>7} {'search':>7} " \
             f"{'other':>6} {'mem_mb':>7} {'CPU-h':>8} {'GPU-h':>8}"
    lines += ["", header, "-" * len(header)]
    for row in rows:
        mark = "" if row["exact"] else "<="
        mem = (">=" if "not prepared" in row["mem_from"] else "") + str(row["mem_mb"])
        lines.append(f"{row['family']:<19} {row['name']:<22} {row['model']:<22} {row['jobs']:>5} "
                     f"{mark + str(row['fits']):>7} {mark + str(row['search_fits']):>7} {row['other_fits']:>6} "
                     f"{mem:>7} {_hours(row['cpu_hours']):>8} {_hours(row['gpu_hours']):>8}")
    lines.append("")
    for family in [fam.name for fam in families()]:
        part = [r for r in rows if r["family"] == family]
        if part:
            jobs, cells = sum(r["jobs"] for r in part), sum(r["cells"] for r in part)
            grouped = f" running {cells} (task, model, signal_removal, seed, fold) cells" if cells != jobs else ""
            lines.append(f"{family}: {jobs} jobs{grouped}, {sum(r['fits'] for r in part)} fits, "
                         f"{sum(r['search_fits'] for r in part)} search fits, {sum(r['other_fits'] for r in part)} "
                         f"other fits; peak memory per job {max(r['mem_mb'] for r in part)} MB")
    jobs = sum(r["jobs"] for r in rows)
    lines.append("")
    if startup is None:
        lines.append("start-up per job process: not measured (--no-calibrate and nothing cached)")
        startup_hours = None
    else:
        limma_jobs = sum(r.get("limma_jobs", 0) for r in rows)
        startup_hours = (jobs * startup["process"] + limma_jobs * startup["r"]) / 3600
        lines.append(f"start-up per job process: {startup['process']:.2f} s measured (imports, first torch ops), "
                     f"+{startup['r']:.2f} s R for the {limma_jobs} jobs with limma through R: "
                     f"{startup_hours:.3g} CPU-h over {jobs} jobs")
    classification = [r for r in rows if r["family"] == "classification"]
    known = [r for r in classification if r["cpu_hours"] is not None]
    unknown = sorted({r["name"] for r in classification} - {r["name"] for r in known})
    if known:
        fit_hours = sum(r["cpu_hours"] for r in known)
        total = fit_hours + (startup_hours or 0)
        cores = os.cpu_count() or 1
        lines.append(f"classification CPU time: {fit_hours:.3g} CPU-h of fits at their epoch cap (upper bound; early "
                     f"stopping usually ends fits sooner) + start-up = {total:.3g} CPU-h; at best "
                     f"{total / cores:.3g} h wall on this machine's {cores} cores")
    if unknown:
        lines.append(f"classification CPU time {'also ' if known else ''}not estimated for: {', '.join(unknown)} "
                     "(not calibrated, or the dataset's size is known only once prepared: run its prepare_dataset "
                     "and task_manifest jobs first)")
    others = [name for name in config_module.family_sections() if any(r["family"] == name for r in rows)]
    if others:
        lines.append(f"{', '.join(others)} CPU/GPU time: not estimated (no calibration of their models)")
    gpu_known = [r for r in classification if r["gpu_hours"] is not None]
    if gpu_name is None:
        lines.append("GPU time: no GPU here; not estimated")
    elif gpu_known:
        lines.append(f"classification GPU time on {gpu_name}: {sum(r['gpu_hours'] for r in gpu_known):.3g} GPU-h "
                     f"of fits at their epoch cap, one fit at a time, for the tasks with a CPU estimate")
    else:
        lines.append(f"GPU time on {gpu_name}: not estimated (not calibrated, or no dataset's size is known)")
    lines.append("peak memory per job: each rule's mem_mb for attempt 1 (retries scale it); for classification "
                 "fits it includes 8 x the dataset store's MB:")
    for source in sorted({r["mem_from"] for r in rows}):
        lines.append(f"  {source}: {', '.join(sorted({r['name'] for r in rows if r['mem_from'] == source}))}")
    return "\n".join(lines)


def run(config_file, calibrate: bool = True, recalibrate: bool = False, cache=None) -> str:
    """The plan of a config file as text; ``calibrate=False`` uses cached measurements
    only, ``recalibrate`` measures again what the plan needs."""
    from .plan_calibration import Calibration, device_name

    config = config_module.load(config_file)
    calibration = Calibration(cache, measure=calibrate or recalibrate, refresh=recalibrate)
    import torch

    gpu_name = device_name("cuda") if torch.cuda.is_available() else None
    rows = plan_rows(config, calibration, gpu=gpu_name is not None)
    return format_plan(rows, calibration.startup_seconds(), gpu_name, config_file)
