"""The ``inference:`` config section: landmark -> target inference tasks.

Keys and defaults are in ``exprbench/inference/schema.yaml``; docs/inference.md
explains them. Each task names a dataset, how landmarks and targets are chosen,
the split, the models (YAML files in ``model_dir``) and the seeds; one job runs
per (task, model, seed).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..config import ConfigError, check_dataset, did_you_mean, load_schema, merge, validate_against, validate_section
from ..params import check_bounds, check_params, translate_renamed
from .models import INFERENCE_MODELS

SCHEMA = "exprbench.inference/schema.yaml"
TASK_DEFAULTS = {
    "landmarks": {"from": "provenance"},
    "targets": {"count": None, "select": "variance"},
    "split": {"fractions": [0.8, 0.1, 0.1], "seed": 0},
    "zscore_fit_on": "all",
    "models": ["lsr", "lsr_l2", "knn", "dgex", "deep_lsmtl"],
    "seeds": [0],
}
#: Sources whose stores list their landmark genes in provenance.
LANDMARK_SOURCES = ("dgex_geo", "dgex_rnaseq", "dgex_npy")


def _schema() -> dict:
    return load_schema(SCHEMA)


def _section_defaults(section: dict) -> dict:
    properties = _schema()["properties"]
    filled = {k: copy.deepcopy(v["default"]) for k, v in properties.items() if "default" in v}
    filled["attribution"] = {k: v["default"] for k, v in properties["attribution"]["properties"].items()}
    fit = properties["resources"]["properties"]["fit"]["properties"]
    filled["resources"] = {"fit": {k: v["default"] for k, v in fit.items()}}
    return merge(filled, section)


def load_model_file(name: str, model_dir: Path, file, key: str = "inference.models") -> dict:
    path = model_dir / f"{name}.yaml"
    if not path.exists():
        available = sorted(p.stem for p in model_dir.glob("*.yaml"))
        raise ConfigError(file, key, f"no inference model file {path}{did_you_mean(name, available)}", available)
    spec = yaml.safe_load(path.read_text()) or {}
    named = spec.get("estimator") if isinstance(spec, dict) else None
    estimator = INFERENCE_MODELS.get(named) if isinstance(named, str) and named in INFERENCE_MODELS.names() else None
    if estimator is not None:  # old parameter names (epochs) become new ones before validation
        known = set(estimator().get_params())
        for key in ("params", "grid"):
            if isinstance(spec.get(key), dict):
                spec[key] = translate_renamed(spec[key], known, path, key)
    schema = _schema()
    validate_against(spec, {**schema["$defs"]["model_file"], "$defs": schema["$defs"]}, path)
    spec = {"params": {}, "grid": {}, "resources": {}, "description": "", **spec, "name": name}
    if estimator is None:
        raise ConfigError(path, "estimator", f"unknown estimator {spec['estimator']!r}", INFERENCE_MODELS.names())
    known = set(estimator().get_params())
    for key in ("params", "grid"):
        for param in spec[key]:
            if param not in known:
                raise ConfigError(path, f"{key}.{param}", f"not a parameter of {spec['estimator']}", sorted(known))
    check_params(estimator, spec["params"], path, "params")
    for param, values in spec["grid"].items():
        check_bounds(estimator, param, values, path, f"grid.{param}")
    return spec


def _check_task(name: str, task: dict, config: dict, file) -> None:
    key = f"inference.tasks.{name}"
    if "/" in name or name.startswith("."):
        raise ConfigError(file, key, "task names may not contain '/' or start with '.'")
    if "dataset" not in task:
        raise ConfigError(file, f"{key}.dataset", "every task needs a dataset")
    check_dataset(config, task["dataset"], file, f"{key}.dataset")
    split = task["split"]
    if "by_column" in split:
        check_dataset(config, task["dataset"], file, f"{key}.split.label", label=split["by_column"])
    elif "fractions" not in split:
        raise ConfigError(file, f"{key}.split", "give fractions: [train, validation, test] or by_column")
    for role in ("validation", "test"):
        if split.get(role):
            check_dataset(config, split[role], file, f"{key}.split.{role}")
    landmarks = task["landmarks"]
    forms = [form for form in ("from", "count", "file") if form in landmarks]
    if len(forms) != 1 or ("seed" in landmarks and "count" not in landmarks):
        raise ConfigError(file, f"{key}.landmarks",
                          "give one of {from: provenance}, {count: N, seed: S} or {file: path}")
    if "file" in landmarks and not Path(landmarks["file"]).is_file():
        raise ConfigError(file, f"{key}.landmarks.file", f"{landmarks['file']}: file not found (relative paths "
                          "resolve against the run's working directory)")
    if landmarks.get("from") == "provenance":
        source = config["datasets"][task["dataset"]]["source"]
        if source not in LANDMARK_SOURCES:
            raise ConfigError(file, f"{key}.landmarks",
                              f"dataset {task['dataset']!r} (source {source}) lists no landmarks; "
                              f"use landmarks: {{count: N, seed: S}}")
    if len(set(task["models"])) != len(task["models"]):
        raise ConfigError(file, f"{key}.models", "a model is listed twice")


def resolve(section: dict, config: dict, file) -> dict:
    validate_section(section, SCHEMA, file, "inference")
    section = _section_defaults(section)
    defaults = merge(TASK_DEFAULTS, section.pop("defaults", {}) or {})
    model_dir = Path(section["model_dir"])
    tasks = {}
    for name, raw in section["tasks"].items():
        task = merge(defaults, raw)
        if "landmarks" in raw:  # the two landmark forms do not mix
            task["landmarks"] = copy.deepcopy(raw["landmarks"])
        if "split" in raw and ("by_column" in raw["split"]):
            task["split"] = copy.deepcopy(raw["split"])
        task["split"].setdefault("seed", 0)
        if "count" in task["landmarks"]:
            task["landmarks"].setdefault("seed", 0)
        _check_task(name, task, config, file)
        used = [task["dataset"]] + [task["split"][r] for r in ("validation", "test") if task["split"].get(r)]
        tasks[name] = {"name": name, **task, "datasets": sorted(set(used))}
    section["models"] = {}
    for name, task in tasks.items():
        for model in task["models"]:
            if model not in section["models"]:
                section["models"][model] = load_model_file(model, model_dir, file, f"inference.tasks.{name}.models")
    section["tasks"] = tasks
    return section


def labels_used(resolved: dict) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for task in resolved["tasks"].values():
        if "by_column" in task["split"]:
            used.setdefault(task["dataset"], []).append(task["split"]["by_column"])
    return {k: sorted(set(v)) for k, v in used.items()}


def jobs(resolved: dict) -> list[dict]:
    return [{"task": t["name"], "model": m, "seed": s}
            for t in resolved["tasks"].values() for m in t["models"] for s in t["seeds"]]
