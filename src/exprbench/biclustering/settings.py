"""The ``biclustering:`` config section: validation, defaults and the job list."""

from __future__ import annotations

import copy

from ..config import ConfigError, check_dataset, merge, validate_against
from . import FAMILY
from .job import JOB_OWNED_PARAMS

SECTION_DEFAULTS = {"device": "cpu", "threads": 1, "resources": {"mem_mb": 4000, "runtime": 60}}


def _defaults(schema: dict, definition: str) -> dict:
    out = {}
    for key, spec in schema["$defs"][definition]["properties"].items():
        if "default" in spec:
            out[key] = copy.deepcopy(spec["default"])
    return out


def _check_methods(key: str, experiment: dict, file) -> None:
    from .methods import METHODS

    for method in experiment["methods"]:
        if method not in METHODS.names():
            raise ConfigError(file, f"{key}.methods", f"unknown method {method!r}", METHODS.names())
    for method, params in experiment["method_params"].items():
        if method not in experiment["methods"]:
            raise ConfigError(file, f"{key}.method_params.{method}", "parameters for a method the experiment "
                              "does not run", experiment["methods"])
        allowed = sorted(set(METHODS.get(method)().get_params()) - set(JOB_OWNED_PARAMS))
        for param in params:
            if param not in allowed:
                raise ConfigError(file, f"{key}.method_params.{method}.{param}", "unknown or job-owned parameter "
                                  "(cluster counts, seeds and device are set at the experiment level)", allowed)


def _resolve_experiment(name: str, experiment: dict, config: dict, file, schema: dict) -> dict:
    key = f"biclustering.experiments.{name}"
    if "/" in name or name.startswith("."):
        raise ConfigError(file, key, "experiment names may not contain '/' or start with '.'")
    if (experiment["dataset"] is None) == (experiment["planted"] is None):
        raise ConfigError(file, key, "give exactly one of dataset (store data) and planted (a checkerboard grid)")
    if experiment["planted"] is not None:
        planted = merge(_defaults({"$defs": {"p": schema["$defs"]["experiment_settings"]["properties"]["planted"]}},
                                  "p"), experiment["planted"])
        for n_rows, n_columns in planted["sizes"]:
            if planted["n_row_clusters"] > n_rows or planted["n_column_clusters"] > n_columns:
                raise ConfigError(file, f"{key}.planted.sizes", f"size [{n_rows}, {n_columns}] is smaller than "
                                  f"the {planted['n_row_clusters']} x {planted['n_column_clusters']} clusters")
        experiment["planted"] = planted
        # The planted truth fixes the counts every method is given.
        experiment["n_row_clusters"], experiment["n_column_clusters"] = (planted["n_row_clusters"],
                                                                           planted["n_column_clusters"])
        experiment["labels"] = []
    else:
        check_dataset(config, experiment["dataset"], file, f"{key}.dataset")
        for label in experiment["labels"]:
            check_dataset(config, experiment["dataset"], file, f"{key}.labels", label)
    if len(set(experiment["seeds"])) != len(experiment["seeds"]):
        raise ConfigError(file, f"{key}.seeds", "seeds repeat; list each once")
    _check_methods(key, experiment, file)
    return {"name": name, **experiment}


def resolve(section: dict, config: dict, file) -> dict:
    schema = _load_schema()
    validate_against(section, schema, file, "biclustering")
    resolved = merge(SECTION_DEFAULTS, {k: v for k, v in section.items() if k not in ("experiments", "defaults")})
    base = merge(_defaults(schema, "experiment_settings"), section.get("defaults", {}))
    resolved["experiments"] = {
        name: _resolve_experiment(name, merge(base, copy.deepcopy(experiment)), config, file, schema)
        for name, experiment in section["experiments"].items()
    }
    return resolved


def _load_schema() -> dict:
    from ..config import load_schema

    return load_schema(FAMILY.schema_name)


def labels_used(resolved: dict) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for experiment in resolved["experiments"].values():
        if experiment["dataset"] is not None:
            used.setdefault(experiment["dataset"], [])
            used[experiment["dataset"]] += [x for x in experiment["labels"] if x not in used[experiment["dataset"]]]
    return used


def jobs(resolved: dict) -> list[dict]:
    """One job per (experiment, method, seed)."""
    return [{"experiment": name, "method": method, "seed": seed}
            for name, experiment in resolved["experiments"].items()
            for method in experiment["methods"] for seed in experiment["seeds"]]
