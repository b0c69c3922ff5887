"""What the classification jobs of a config fit and cost, for ``exprbench plan``."""

from __future__ import annotations

import math
from pathlib import Path

from ..plan import MB, dataset_shape, finish
from . import settings


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
            base = settings.fit_resources(config, model, 0, 1)["mem_mb"]
            return base, "rules' mem_mb + 8 x store MB, store not prepared"
        # float32, stored compressed about 2x (as config.fit_resources assumes)
        dataset_mb, source = shape[0] * shape[1] * 4 / 2 / MB, "rules' mem_mb, store size modelled from samples x genes"
    return settings.fit_resources(config, model, dataset_mb, 1)["mem_mb"], source


def _seconds(cost: dict | None, sample_epochs: float, n_fits: int) -> float | None:
    return None if cost is None else cost["sample_epoch"] * sample_epochs + cost["fit"] * n_fits


def rows(config: dict, calibration=None, gpu: bool = False) -> list[dict]:
    rows = {}
    starts_r = config.get("signal_removal_backend", "r") == "r"
    # Each workflow job runs the (task, model, signal_removal, seed, fold) cells of one group (fit_grain).
    for group in settings.fit_groups(config):
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
    return [finish(row) for row in rows.values()]
