"""The classification tasks of a config (``tasks:`` and ``defaults:``): defaults,
checks, the model files they use, and the fit jobs they expand to."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..config import ConfigError, did_you_mean, load_schema, merge, validate_against
from ..params import check_bounds, check_params, translate_renamed
from ..sources import SOURCES
from .models import MODELS

TASK_DEFAULTS = {
    "split": {"by": "study", "folds": 5},
    "signal_removal": ["none", "limma"],
    "train_fractions": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "preprocessing": {"log2": False, "top_genes": None, "scaling": "standard", "fit_on": "train"},
    "tuning": {"n_trials": 10, "inner_folds": 3},
    "models": ["logistic_regression", "linear_svm", "mlp3", "mlp5"],
    "seeds": [0, 1, 2],
    "top_n": 5,
    "pretraining": False,
}


def load_model_spec(name: str, model_dir: Path, config_file) -> dict:
    path = model_dir / f"{name}.yaml"
    if not path.exists():
        available = sorted(p.stem for p in model_dir.glob("*.yaml"))
        raise ConfigError(config_file, "models", f"no model file {path}{did_you_mean(name, available)}", available)
    spec = yaml.safe_load(path.read_text()) or {}
    named = spec.get("estimator") if isinstance(spec, dict) else None
    estimator = MODELS.get(named) if isinstance(named, str) and named in MODELS.names() else None
    if estimator is not None:  # old parameter names (lr) become new ones before validation
        known = set(estimator().get_params())
        for section in ("params", "search"):
            if isinstance(spec.get(section), dict):
                spec[section] = translate_renamed(spec[section], known, path, section)
    validate_against(spec, load_schema("exprbench.classification/model.schema.yaml"), path)
    spec = {"params": {}, "search": {}, "resources": {}, **spec, "name": name}
    if estimator is None:
        raise ConfigError(path, "estimator", f"unknown estimator {spec['estimator']!r}", MODELS.names())
    known = set(estimator().get_params())
    for section in ("params", "search"):
        for param in spec[section]:
            if param not in known:
                raise ConfigError(path, f"{section}.{param}",
                                  f"not a parameter of {spec['estimator']}{did_you_mean(param, known)}", sorted(known))
    for param, dist in spec["search"].items():
        (kind, bounds), = dist.items()
        if kind != "choice" and bounds[0] > bounds[1]:
            raise ConfigError(path, f"search.{param}.{kind}",
                              f"lower bound {bounds[0]} exceeds upper bound {bounds[1]}")
        check_bounds(estimator, param, bounds, path, f"search.{param}.{kind}")
    check_params(estimator, spec["params"], path, "params")
    return spec


def check_task(name: str, task: dict, config: dict, file) -> None:
    key = f"tasks.{name}"
    if task["dataset"] not in config["datasets"]:
        raise ConfigError(file, f"{key}.dataset", f"unknown dataset {task['dataset']!r}"
                          f"{did_you_mean(task['dataset'], config['datasets'])}", sorted(config["datasets"]))
    entry = config["datasets"][task["dataset"]]
    labels = SOURCES.get(entry["source"]).labels_for(entry["params"])
    if task["label"] not in labels:
        raise ConfigError(file, f"{key}.label",
                          f"{task['label']!r} is not a label of dataset {task['dataset']!r}"
                          f"{did_you_mean(task['label'], labels)}",
                          sorted(labels))
    if task["pretraining"] and task["split"]["folds"] != 5:
        raise ConfigError(file, f"{key}.split.folds",
                          f"pretraining splits 40/40/20 over 5 folds, but folds is {task['split']['folds']}; "
                          "set folds: 5")
    model_dir = Path(config["model_dir"])
    available = sorted(p.stem for p in model_dir.glob("*.yaml"))
    for model in task["models"]:
        if model not in available:
            raise ConfigError(file, f"{key}.models", f"unknown model {model!r}{did_you_mean(model, available)}",
                              available)


def resolve(config: dict, file="config") -> dict:
    """Every task fully specified (``tasks``) and the model specs they use (``models``)."""
    task_defaults = merge(TASK_DEFAULTS, config.get("defaults", {}))
    tasks = {}
    for name, task in config.get("tasks", {}).items():
        if "/" in name or name.startswith("."):
            raise ConfigError(file, f"tasks.{name}", "task names may not contain '/' or start with '.'")
        task = merge(task_defaults, task)
        check_task(name, task, config, file)
        tasks[name] = {"name": name, **task}
    model_names = sorted({m for t in tasks.values() for m in t["models"]})
    return {"tasks": tasks,
            "models": {m: load_model_spec(m, Path(config["model_dir"]), file) for m in model_names}}


def labels_used(config: dict) -> dict[str, list[str]]:
    labels: dict[str, set] = {}
    for task in config["tasks"].values():
        labels.setdefault(task["dataset"], set()).add(task["label"])
    return {dataset: sorted(names) for dataset, names in labels.items()}


def jobs(config: dict) -> list[list[dict]]:
    """The workflow's fit jobs, each the list of fits it runs (``fit_grain``)."""
    return fit_groups(config)


def describe(config: dict) -> str:
    fits = fit_jobs(config)
    return f"{len(config['tasks'])} tasks, {len(fits)} fits in {len(fit_groups(config))} fit jobs " \
           f"(fit_grain: {config['fit_grain']})"


def fit_resources(config: dict, model: str, dataset_mb: float, attempt: int, n_fits: int = 1) -> dict:
    """Memory and runtime of a fit job of ``n_fits`` fits: the model's own or the config's,
    plus room for the dataset held in memory, all scaled by the attempt number. Its fits
    run one after another on the same data: the memory of one, the runtime of all."""
    base = {**config["resources"]["fit"], **config["models"][model]["resources"]}
    # The store is compressed about 2x; the job holds the raw matrix and a few copies.
    mem_mb = base["mem_mb"] + 8 * dataset_mb
    return {"mem_mb": int(mem_mb * attempt), "runtime": int(base["runtime"] * n_fits * attempt)}


def fit_jobs(config: dict) -> list[dict]:
    """One entry per (task, model, signal_removal, seed, fold): the workflow's job grain."""
    return [
        {"task": t["name"], "model": m, "signal_removal": s, "seed": seed, "fold": fold}
        for t in config["tasks"].values()
        for m in t["models"]
        for s in t["signal_removal"]
        for seed in t["seeds"]
        for fold in range(t["split"]["folds"])
    ]


# The fields one fit job of each grain holds fixed; the rest vary over its cells.
FIT_GRAIN_KEYS = {
    "model": ("task", "model", "signal_removal"),
    "seed": ("task", "model", "signal_removal", "seed"),
    "fold": ("task", "model", "signal_removal", "seed", "fold"),
}


def fit_groups(config: dict) -> list[list[dict]]:
    """The fit jobs batched by ``fit_grain``: each inner list runs in one workflow job."""
    keys = FIT_GRAIN_KEYS[config["fit_grain"]]
    groups: dict[tuple, list[dict]] = {}
    for job in fit_jobs(config):
        groups.setdefault(tuple(job[k] for k in keys), []).append(job)
    return list(groups.values())


def fit_group_layouts(config: dict) -> list[tuple[tuple[tuple[tuple[str, int], ...], ...], list[str]]]:
    """For a grouped grain: each distinct set of cells a job covers, as ((field, value), ...)
    per cell over the fields its grain leaves free, with the tasks whose jobs cover it.
    Tasks with other seeds or folds need a rule of their own; usually there is one layout."""
    keys = FIT_GRAIN_KEYS[config["fit_grain"]]
    layouts: dict[tuple, list[str]] = {}
    for group in fit_groups(config):
        cells = tuple(tuple((k, v) for k, v in job.items() if k not in keys) for job in group)
        tasks = layouts.setdefault(cells, [])
        if group[0]["task"] not in tasks:
            tasks.append(group[0]["task"])
    return list(layouts.items())
