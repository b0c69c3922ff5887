"""``exprbench plan``: what a config will run and cost, before anything runs.

Jobs come from the same helpers the workflow's rules expand (``config.fit_jobs``
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

import math
import os
from pathlib import Path

from . import config as config_module
from .sources import SOURCES

FAMILY_NAMES = ("classification", *config_module.family_sections())
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


def _manifest(config: dict, task: str) -> dict | None:
    path = Path(config["results_dir"]) / "tasks" / f"{task}.json"
    if not path.is_file():
        return None
    from .tasks import read_manifest

    return read_manifest(path)


def classification_problems(config: dict, task: dict) -> tuple[list[int | None], bool, int]:
    """Samples of each problem of a job, whether the problem count is exact, and
    the classes per problem. Without a manifest, a ``binary_pairs`` task gets
    ``top_n`` choose 2 pairs (fewer if the data hold fewer classes) of equal-sized classes."""
    manifest = _manifest(config, task["name"])
    if manifest is not None:
        counts = manifest["class_counts"]
        if manifest["pairs"]:
            return [sum(counts[c] for c in pair) for pair in manifest["pairs"]], True, 2
        return [len(manifest["rows"])], True, len(manifest["classes"])
    shape = dataset_shape(config, task["dataset"])
    n = shape[0] if shape else None
    if task["kind"] == "binary_pairs":
        top_n = task["top_n"]
        per_pair = None if n is None else 2 * n // top_n
        return [per_pair] * math.comb(top_n, 2), False, 2
    return [n], True, 2


def classification_fit_counts(task: dict, model: dict, n_problems: int) -> dict:
    """Fits of one job: result rows, nested-search fits and pretraining fits."""
    tuning = task["tuning"]
    searches = tuning["n_trials"] * tuning["inner_folds"] if tuning["n_trials"] > 0 and model["search"] else 0
    directions = 2 if task["pretraining"] else 1
    return {"fits": n_problems * len(task["train_fractions"]) * directions,
            "search_fits": n_problems * searches,
            "other_fits": n_problems if task["pretraining"] else 0}


def classification_sample_epochs(task: dict, model: dict, n: int) -> float:
    """Samples passed to ``fit`` times the epoch cap, over every fit of one problem of ``n`` samples."""
    folds, tuning, fractions = task["split"]["folds"], task["tuning"], task["train_fractions"]
    counts = classification_fit_counts(task, model, 1)
    if task["pretraining"]:  # 40/40/20: training, pretraining, validation
        train, pretrain = 0.4 * n, 0.4 * n
        fraction_samples = 2 * train * sum(fractions) + pretrain
    else:
        train = n * (folds - 1) / folds
        fraction_samples = train * sum(fractions)
    search_samples = counts["search_fits"] * train * (tuning["inner_folds"] - 1) / tuning["inner_folds"]
    return (fraction_samples + search_samples) * model["params"].get("max_epochs", 50)


def _n_genes(config: dict, task: dict) -> int | None:
    shape = dataset_shape(config, task["dataset"])
    top = task["preprocessing"]["top_genes"]
    if shape is None:
        return top
    return min(top, shape[1]) if top else shape[1]


def _fit_memory(config: dict, task: dict, model: str) -> tuple[int, str]:
    """The fit rule's mem_mb (attempt 1) and where the dataset size in it came from."""
    store = Path(config["data_dir"]) / f"{task['dataset']}.h5"
    if store.is_file():
        dataset_mb, source = store.stat().st_size / MB, "rules' mem_mb, prepared store's size"
    else:
        shape = dataset_shape(config, task["dataset"])
        if shape is None:
            base = config_module.fit_resources(config, model, 0, 1)["mem_mb"]
            return base, "rules' mem_mb + 8 x store MB, store not prepared"
        # float32, stored compressed about 2x (as config.fit_resources assumes)
        dataset_mb, source = shape[0] * shape[1] * 4 / 2 / MB, "rules' mem_mb, store size modelled from samples x genes"
    return config_module.fit_resources(config, model, dataset_mb, 1)["mem_mb"], source


def _seconds(cost: dict | None, sample_epochs: float, n_fits: int) -> float | None:
    return None if cost is None else cost["sample_epoch"] * sample_epochs + cost["fit"] * n_fits


def classification_rows(config: dict, calibration=None, gpu: bool = False) -> list[dict]:
    rows = {}
    starts_r = config.get("signal_removal_backend", "r") == "r"
    # Each workflow job runs the (task, model, signal_removal, seed, fold) cells of one group (fit_grain).
    for group in config_module.fit_groups(config):
        first = group[0]
        task, model = config["tasks"][first["task"]], config["models"][first["model"]]
        key = (first["task"], first["model"])
        if key not in rows:
            problems, exact, n_classes = classification_problems(config, task)
            mem_mb, mem_from = _fit_memory(config, task, first["model"])
            n_genes = _n_genes(config, task)
            cpu = gpu_s = None
            if calibration is not None and n_genes and None not in problems:
                sample_epochs = sum(classification_sample_epochs(task, model, n) for n in problems)
                n_fits = sum(classification_fit_counts(task, model, len(problems)).values())
                cpu = _seconds(calibration.fit_cost(model, n_genes, n_classes, "cpu"), sample_epochs, n_fits)
                if gpu:
                    gpu_s = _seconds(calibration.fit_cost(model, n_genes, n_classes, "cuda"), sample_epochs, n_fits)
            rows[key] = {"family": "classification", "name": first["task"], "model": first["model"], "jobs": 0,
                         "cells": 0, "fits": 0, "search_fits": 0, "other_fits": 0, "exact": exact, "mem_mb": mem_mb,
                         "mem_from": mem_from, "limma_jobs": 0,
                         "per_job": classification_fit_counts(task, model, len(problems)),
                         "cpu_s_per_job": cpu, "gpu_s_per_job": gpu_s}
        row = rows[key]
        row["jobs"] += 1
        row["limma_jobs"] += starts_r and any(cell["signal_removal"] != "none" for cell in group)
        row["cells"] += len(group)
        for name, count in row["per_job"].items():
            row[name] += count * len(group)
    return [_finish(row) for row in rows.values()]


def _finish(row: dict) -> dict:
    """``per_job`` and ``*_s_per_job`` are per cell; a classification job may run several."""
    per_job = row.pop("per_job")
    row.setdefault("cells", row["jobs"])
    for unit in ("cpu", "gpu"):
        seconds = row.pop(f"{unit}_s_per_job", None)
        row[f"{unit}_hours"] = None if seconds is None else seconds * row["cells"] / 3600
    row.setdefault("limma_jobs", 0)
    row["fits_per_job"] = per_job.get("fits", 0)
    return row


def _family_row(family: str, name: str, model: str, jobs: int, per_job: dict, mem_mb: int) -> dict:
    return _finish({"family": family, "name": name, "model": model, "jobs": jobs,
                    **{k: jobs * per_job.get(k, 0) for k in ("fits", "search_fits", "other_fits")},
                    "exact": True, "mem_mb": mem_mb, "mem_from": "rules' mem_mb", "per_job": per_job})


def _grouped(jobs: list[dict], *keys) -> dict:
    groups: dict = {}
    for job in jobs:
        groups.setdefault(tuple(job[k] for k in keys), []).append(job)
    return groups


def ssl_rows(section: dict) -> list[dict]:
    from .ssl import settings

    rows = []
    for (exp, method), jobs in _grouped(settings.pretrain_jobs(section), "experiment", "method").items():
        rows.append(_family_row("ssl", exp, f"{method} pretrain", len(jobs), {"other_fits": 1},
                                section["resources"]["pretrain"]["mem_mb"]))
    for (exp, method), jobs in _grouped(settings.finetune_jobs(section), "experiment", "method").items():
        finetune = section["experiments"][exp]["finetune"]
        rows.append(_family_row("ssl", exp, f"{method} finetune", len(jobs),
                                {"fits": finetune["repeats"] * len(finetune["proportions"])},
                                section["resources"]["finetune"]["mem_mb"]))
    return rows


def inference_rows(section: dict) -> list[dict]:
    from .inference import settings
    from .inference.job import grid_points
    from .inference.workflow import resource

    rows = []
    for (task, model), jobs in _grouped(settings.jobs(section), "task", "model").items():
        points = len(grid_points(section["models"][model]["grid"]))
        rows.append(_family_row("inference", task, model, len(jobs), {"fits": 1, "search_fits": points - 1},
                                resource(section, model, "mem_mb", 1)))
    return rows


def compressed_sensing_rows(section: dict) -> list[dict]:
    from .compressed_sensing import settings

    rows = []
    for (exp, method), jobs in _grouped(settings.jobs(section), "experiment", "method").items():
        measurements = len(section["experiments"][exp]["measurements"])
        rows.append(_family_row("compressed_sensing", exp, method, len(jobs),
                                {"fits": measurements, "other_fits": 1}, section["resources"]["mem_mb"]))
    return rows


FAMILY_ROWS = {"ssl": ssl_rows, "inference": inference_rows, "compressed_sensing": compressed_sensing_rows}


def plan_rows(config: dict, calibration=None, gpu: bool = False) -> list[dict]:
    """One row per (family, task or experiment, model or method) of a resolved config."""
    rows = classification_rows(config, calibration, gpu) if config["tasks"] else []
    for name, make in FAMILY_ROWS.items():
        if name in config:
            rows += make(config[name])
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
    for family in FAMILY_NAMES:
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
