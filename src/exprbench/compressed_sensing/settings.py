"""The ``compressed_sensing:`` config section: validation, defaults and the job list."""

from __future__ import annotations

from ..config import ConfigError, check_dataset, resolve_experiments
from ..params import check_params, translate_renamed

SCHEMA = "exprbench.compressed_sensing/schema.yaml"
SECTION_DEFAULTS = {"device": "auto", "threads": 1, "resources": {"mem_mb": 4000, "runtime": 120}}
# Parameters the job sets itself from the experiment, not from method_params.
JOB_OWNED_PARAMS = ("sparsity", "random_state", "device")


def _settable(method: str) -> list[str]:
    """Parameters a config may set for ``method``: all but those the job owns."""
    from .methods import METHODS

    return sorted(set(METHODS.get(method)().get_params()) - set(JOB_OWNED_PARAMS))


def _check_methods(name: str, experiment: dict, file) -> None:
    from .methods import METHODS

    key = f"compressed_sensing.experiments.{name}"
    for method in experiment["methods"]:
        if method not in METHODS.names():
            raise ConfigError(file, f"{key}.methods", f"unknown method {method!r}", METHODS.names())
    for method, params in list(experiment["method_params"].items()):
        if method in METHODS.names():  # old parameter names (epochs) become new ones
            params = experiment["method_params"][method] = translate_renamed(
                params, METHODS.get(method)().get_params(), file, f"{key}.method_params.{method}")
        if method not in experiment["methods"]:
            raise ConfigError(file, f"{key}.method_params.{method}", "parameters for a method the experiment "
                              "does not run; add it to methods or remove them", experiment["methods"])
        allowed = _settable(method)
        for param, value in params.items():
            if param not in allowed:
                raise ConfigError(file, f"{key}.method_params.{method}.{param}", "unknown or job-owned parameter "
                                  "(sparsity, seeds and device are set at the experiment level)", allowed)
            if param in METHODS.names() and isinstance(value, dict):
                # A nested method's parameters (nn_smaf: {smaf: {...}}).
                inner = _settable(param)
                for inner_param in value:
                    if inner_param not in inner:
                        raise ConfigError(file, f"{key}.method_params.{method}.{param}.{inner_param}",
                                          f"unknown {param} parameter", inner)
                check_params(METHODS.get(param), value, file, f"{key}.method_params.{method}.{param}")
        check_params(METHODS.get(method), params, file, f"{key}.method_params.{method}")


def _resolve_experiment(name: str, experiment: dict, config: dict, file) -> dict:
    key = f"compressed_sensing.experiments.{name}"
    if "/" in name or name.startswith("."):
        raise ConfigError(file, key, "experiment names may not contain '/' or start with '.'")
    check_dataset(config, experiment["dataset"], file, f"{key}.dataset")
    if len(set(experiment["seeds"])) != len(experiment["seeds"]):
        raise ConfigError(file, f"{key}.seeds", "seeds repeat; list each once")
    if len(set(experiment["measurements"])) != len(experiment["measurements"]):
        raise ConfigError(file, f"{key}.measurements", "measurement counts repeat; list each once")
    if experiment["n_genes"] is not None and max(experiment["measurements"]) > experiment["n_genes"]:
        raise ConfigError(file, f"{key}.measurements", f"more measurements ({max(experiment['measurements'])}) "
                          f"than genes ({experiment['n_genes']}); lower them or raise n_genes")
    _check_methods(name, experiment, file)
    experiment["measurements"] = sorted(experiment["measurements"])
    return {"name": name, **experiment}


def resolve(section: dict, config: dict, file) -> dict:
    return resolve_experiments(section, config, file, "compressed_sensing", SCHEMA, SECTION_DEFAULTS,
                               _resolve_experiment)


def labels_used(resolved: dict) -> dict[str, list[str]]:
    return {}  # recovery reads expression only


def jobs(resolved: dict) -> list[dict]:
    """One job per (experiment, method, seed)."""
    return [
        {"experiment": name, "method": method, "seed": seed}
        for name, experiment in resolved["experiments"].items()
        for method in experiment["methods"]
        for seed in experiment["seeds"]
    ]
