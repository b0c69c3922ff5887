"""The ``generative:`` config section: validation, defaults and the job list."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..config import ConfigError, check_dataset, resolve_experiments
from ..params import translate_renamed

SCHEMA = "exprbench.generative/schema.yaml"
SECTION_DEFAULTS = {"device": "auto", "threads": 1, "resources": {"mem_mb": 4000, "runtime": 120}}
JOB_OWNED_PARAMS = ("random_state", "device")
REAL_ONLY = "none"  # the job that trains on real samples only (job.REAL_ONLY; no torch import here)


def _classifier(name: str, experiment: dict, config: dict, file) -> dict:
    """{"estimator", "params"}: mlp2, or a model file's estimator and params under the experiment's."""
    from .classifiers import BUILTIN, settable_params

    key = f"generative.experiments.{name}.classifier"
    model = experiment["classifier"].get("model", BUILTIN)
    params = {}
    if model != BUILTIN:
        path = Path(config.get("model_dir", "config/models")) / f"{model}.yaml"
        if not path.exists():
            available = [BUILTIN, *sorted(p.stem for p in path.parent.glob("*.yaml"))]
            raise ConfigError(file, f"{key}.model", f"no model file {path}", available)
        spec = yaml.safe_load(path.read_text()) or {}
        model, params = spec["estimator"], dict(spec.get("params", {}))
    try:
        allowed = settable_params(model)
    except KeyError as error:
        raise ConfigError(file, f"{key}.model", str(error)) from None
    for param in experiment["classifier"].get("params", {}):
        if param not in allowed:
            raise ConfigError(file, f"{key}.params.{param}", "unknown parameter", allowed)
    return {"name": experiment["classifier"].get("model", BUILTIN), "estimator": model,
            "params": {**params, **experiment["classifier"].get("params", {})}}


def _check_generators(name: str, experiment: dict, file) -> None:
    from .generators import GENERATORS

    key = f"generative.experiments.{name}"
    for generator in experiment["generators"]:
        if generator not in GENERATORS.names():
            raise ConfigError(file, f"{key}.generators", f"unknown generator {generator!r}", GENERATORS.names())
    if len(set(experiment["generators"])) != len(experiment["generators"]):
        raise ConfigError(file, f"{key}.generators", "generators repeat; list each once")
    for generator, params in list(experiment["generator_params"].items()):
        if generator in GENERATORS.names():  # old parameter names (lr, epochs) become new ones
            params = experiment["generator_params"][generator] = translate_renamed(
                params, GENERATORS.get(generator)().get_params(), file, f"{key}.generator_params.{generator}")
        if generator not in experiment["generators"]:
            raise ConfigError(file, f"{key}.generator_params.{generator}", "parameters for a generator the "
                              "experiment does not run", experiment["generators"])
        allowed = sorted(set(GENERATORS.get(generator)().get_params()) - set(JOB_OWNED_PARAMS))
        for param in params:
            if param not in allowed:
                raise ConfigError(file, f"{key}.generator_params.{generator}.{param}",
                                  "unknown or job-owned parameter (seeds and device are set by the job)", allowed)


def _resolve_experiment(name: str, experiment: dict, config: dict, file) -> dict:
    key = f"generative.experiments.{name}"
    if "/" in name or name.startswith("."):
        raise ConfigError(file, key, "experiment names may not contain '/' or start with '.'")
    check_dataset(config, experiment["dataset"], file, f"{key}.dataset", experiment["label"])
    for field in ("seeds", "train_fractions"):
        if len(set(experiment[field])) != len(experiment[field]):
            raise ConfigError(file, f"{key}.{field}", f"{field} repeat; list each once")
    _check_generators(name, experiment, file)
    experiment["train_fractions"] = sorted(experiment["train_fractions"])
    experiment["classifier"] = _classifier(name, experiment, config, file)
    return {"name": name, **experiment}


def resolve(section: dict, config: dict, file) -> dict:
    return resolve_experiments(section, config, file, "generative", SCHEMA, SECTION_DEFAULTS, _resolve_experiment)


def labels_used(resolved: dict) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for experiment in resolved["experiments"].values():
        labels = used.setdefault(experiment["dataset"], [])
        if experiment["label"] not in labels:
            labels.append(experiment["label"])
    return used


def jobs(resolved: dict) -> list[dict]:
    """One job per (experiment, generator, seed), and the real-only job ``none`` per seed."""
    return [
        {"experiment": name, "generator": generator, "seed": seed}
        for name, experiment in resolved["experiments"].items()
        for generator in (REAL_ONLY, *experiment["generators"])
        for seed in experiment["seeds"]
    ]
