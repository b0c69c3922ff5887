"""Loading and validating the workflow config before any job runs.

Every error names the file, the key and what would be accepted, e.g.
``config/config.yaml: tasks.sex.label: 'sexx' is not a label of dataset 'all'
(allowed: lineage, sex)``.
"""

from __future__ import annotations

import copy
import difflib
import functools
from importlib import resources
from pathlib import Path

import yaml

from .family import family as family_named
from .family import section_families
from .models import MODELS
from .sources import SOURCES
from .tracking import BACKEND_SPEC_KEYS

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


JOB_RESOURCE_DEFAULTS = {
    "prepare": {"mem_mb": 4000, "runtime": 30},
    "manifest": {"mem_mb": 2000, "runtime": 10},
    "fit": {"mem_mb": 2000, "runtime": 30},
}


class ConfigError(ValueError):
    def __init__(self, file, key: str, problem: str, allowed=None):
        self.file, self.key, self.problem, self.allowed = str(file), key, problem, allowed
        message = f"{file}: {key or '<top level>'}: {problem}"
        if allowed:
            message += f" (allowed: {', '.join(map(str, allowed))})"
        super().__init__(message)


@functools.lru_cache(maxsize=None)
def _parsed_schema(name: str) -> dict:
    if "/" in name:  # a family's own schema: "exprbench.<family>/schema.yaml"
        package, file_name = name.split("/", 1)
        return yaml.safe_load(resources.files(package).joinpath(file_name).read_text())
    schema = yaml.safe_load(resources.files("exprbench").joinpath("schema", name).read_text())
    if name == "config.schema.yaml":
        # Each family's section is checked by its own schema, in its own resolve().
        for fam in section_families():
            schema["properties"][fam.name] = {"type": "object", "description": f"{fam.title}; keys in "
                                              f"src/exprbench/{fam.name}/schema.yaml"}
    return schema


def load_schema(name: str) -> dict:
    """A schema file of ``exprbench/schema``, or a family's (``exprbench.<family>/schema.yaml``),
    parsed once per process; callers get a copy."""
    return copy.deepcopy(_parsed_schema(name))


def _key_path(path) -> str:
    return ".".join(str(p) for p in path)


def did_you_mean(word, options) -> str:
    """'; did you mean X?' for the closest option, or '' when none is close."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _explain(error, file, prefix: str = "") -> ConfigError:
    """Turn the most specific schema error into a message a user can act on."""
    key = ".".join(p for p in (prefix, _key_path(error.absolute_path)) if p)
    schema = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        full = f"{key}.{extra[0]}" if key else extra[0]
        return ConfigError(file, full, f"unknown key{did_you_mean(extra[0], allowed)}", allowed)
    if error.validator == "enum":
        return ConfigError(file, key, f"{error.instance!r} is not allowed{did_you_mean(error.instance, schema['enum'])}",
                           schema["enum"])
    if error.validator == "required":
        return ConfigError(file, key, error.message.replace("'", "", 0))
    if error.validator in ("exclusiveMinimum", "minimum", "maximum"):
        bounds = {"exclusiveMinimum": "> {}", "minimum": ">= {}", "maximum": "<= {}"}
        limit = bounds[error.validator].format(error.validator_value)
        return ConfigError(file, key, f"{error.instance!r} is out of range; it must be {limit}")
    return ConfigError(file, key, error.message)


def _validate(instance, schema_name: str, file, prefix: str = "") -> None:
    validate_against(instance, load_schema(schema_name), file, prefix)


def validate_against(instance, schema: dict, file, prefix: str = "") -> None:
    import jsonschema  # slow to import; only configs need it, not fit jobs

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        deepest = max(errors, key=lambda e: len(e.absolute_path))
        raise _explain(deepest, file, prefix)


def validate_section(section, schema_name: str, file, prefix: str) -> None:
    """Validate one config section against ``exprbench/schema/<schema_name>``;
    error keys start with ``prefix`` (the section's key in the config)."""
    _validate(section, schema_name, file, prefix)


def schema_defaults(schema_name: str, definition: str) -> dict:
    """The ``default`` of every property of ``$defs[definition]`` in a schema file."""
    properties = load_schema(schema_name)["$defs"][definition]["properties"]
    return {k: copy.deepcopy(v["default"]) for k, v in properties.items() if "default" in v}


def check_dataset(config: dict, dataset: str, file, key: str, label: str | None = None) -> None:
    """A family's experiment names a configured dataset, and the label it needs, if any."""
    if dataset not in config["datasets"]:
        raise ConfigError(file, key, f"unknown dataset {dataset!r}{did_you_mean(dataset, config['datasets'])}",
                          sorted(config["datasets"]))
    if label is None:
        return
    entry = config["datasets"][dataset]
    labels = SOURCES.get(entry["source"]).labels_for(entry["params"])
    if label not in labels:
        raise ConfigError(file, key.rsplit(".", 1)[0] + ".label",
                          f"{label!r} is not a label of dataset {dataset!r}{did_you_mean(label, labels)}", sorted(labels))


def merge(base: dict, override: dict) -> dict:
    """``override`` laid over ``base``, recursively for nested mappings."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _with_tracker_defaults(tracker: dict, properties: dict, results_dir: str, file="config") -> dict:
    """The tracker block with the defaults of its own backend's keys only; MLflow's
    store defaults to a file store inside the results folder, so it works offline."""
    backend = tracker.get("backend", properties["backend"]["default"])
    keys = BACKEND_SPEC_KEYS[backend]
    foreign = sorted(set(tracker) - set(keys))
    if foreign:
        raise ConfigError(file, f"tracker.{foreign[0]}", f"not read by backend {backend!r}; remove it", keys)
    filled = {k: properties[k]["default"] for k in keys if "default" in properties[k]}
    if backend == "mlflow":
        filled["tracking_uri"] = f"{results_dir}/mlruns"
    return merge(filled, tracker)


def _with_schema_defaults(config: dict, file="config") -> dict:
    top = load_schema("config.schema.yaml")["properties"]
    filled = {k: copy.deepcopy(v["default"]) for k, v in top.items() if "default" in v}
    filled = merge(filled, config)
    filled["tracker"] = _with_tracker_defaults(filled["tracker"], top["tracker"]["properties"], filled["results_dir"],
                                               file)
    filled["resources"] = merge(JOB_RESOURCE_DEFAULTS, filled["resources"])
    download_defaults = {k: v["default"] for k, v in top["download"]["properties"].items()}
    filled["download"] = merge(download_defaults, filled["download"])
    return filled


def _with_definition(name: str, entry: dict, file) -> dict:
    """Merge a dataset entry over the definition file it names, if any."""
    if "definition" not in entry:
        return {"params": {}, "files": {}, **entry}
    path = Path(entry["definition"])
    key = f"datasets.{name}.definition"
    if not path.exists():
        raise ConfigError(file, key, f"dataset definition {path} not found")
    definition = yaml.safe_load(path.read_text()) or {}
    dataset_schema = {**load_schema("config.schema.yaml")["$defs"]["dataset"], "required": ["source"]}
    dataset_schema.pop("anyOf")
    validate_against(definition, dataset_schema, path)
    merged = merge(definition, {k: v for k, v in entry.items() if k != "definition"})
    return {"params": {}, "files": {}, **merged, "definition": str(path)}


def load_model_spec(name: str, model_dir: Path, config_file) -> dict:
    path = model_dir / f"{name}.yaml"
    if not path.exists():
        available = sorted(p.stem for p in model_dir.glob("*.yaml"))
        raise ConfigError(config_file, "models", f"no model file {path}{did_you_mean(name, available)}", available)
    spec = yaml.safe_load(path.read_text()) or {}
    _validate(spec, "model.schema.yaml", path)
    spec = {"params": {}, "search": {}, "resources": {}, **spec, "name": name}
    try:
        estimator = MODELS.get(spec["estimator"])
    except KeyError:
        raise ConfigError(path, "estimator", f"unknown estimator {spec['estimator']!r}", MODELS.names()) from None
    known = set(estimator().get_params())
    for section in ("params", "search"):
        for param in spec[section]:
            if param not in known:
                raise ConfigError(path, f"{section}.{param}", f"not a parameter of {spec['estimator']}{did_you_mean(param, known)}",
                                  sorted(known))
    for param, dist in spec["search"].items():
        (kind, bounds), = dist.items()
        if kind != "choice" and bounds[0] > bounds[1]:
            raise ConfigError(path, f"search.{param}.{kind}", f"lower bound {bounds[0]} exceeds upper bound {bounds[1]}")
    return spec


def _check_dataset(name: str, entry: dict, file) -> None:
    key = f"datasets.{name}"
    try:
        source = SOURCES.get(entry["source"])
    except KeyError:
        raise ConfigError(file, f"{key}.source", f"unknown source {entry['source']!r}", SOURCES.names()) from None
    unknown = sorted(set(entry["params"]) - set(source.defaults))
    if unknown:
        raise ConfigError(file, f"{key}.params.{unknown[0]}", f"not a parameter of source {source.name!r}",
                          sorted(source.defaults))


def _check_task(name: str, task: dict, config: dict, file) -> None:
    key = f"tasks.{name}"
    if task["dataset"] not in config["datasets"]:
        raise ConfigError(file, f"{key}.dataset", f"unknown dataset {task['dataset']!r}"
                          f"{did_you_mean(task['dataset'], config['datasets'])}", sorted(config["datasets"]))
    entry = config["datasets"][task["dataset"]]
    labels = SOURCES.get(entry["source"]).labels_for(entry["params"])
    if task["label"] not in labels:
        raise ConfigError(file, f"{key}.label",
                          f"{task['label']!r} is not a label of dataset {task['dataset']!r}{did_you_mean(task['label'], labels)}",
                          sorted(labels))
    if task["pretraining"] and task["split"]["folds"] != 5:
        raise ConfigError(file, f"{key}.split.folds",
                          f"pretraining splits 40/40/20 over 5 folds, but folds is {task['split']['folds']}; set folds: 5")
    model_dir = Path(config["model_dir"])
    available = sorted(p.stem for p in model_dir.glob("*.yaml"))
    for model in task["models"]:
        if model not in available:
            raise ConfigError(file, f"{key}.models", f"unknown model {model!r}{did_you_mean(model, available)}", available)


def family_sections() -> list[str]:
    """Config sections of the families beside the classification tasks (see family.py)."""
    return [fam.name for fam in section_families()]


def family(name: str):
    """The settings module of a family: resolve(section, config, file), labels_used, jobs."""
    return family_named(name).settings()


def resolve(config: dict, file="config") -> dict:
    """Validate a parsed config and return it with defaults filled and every
    task fully specified (``tasks``) plus the model specs it uses (``models``).
    Each family section present (``ssl``, ...) is resolved by its own module."""
    if not isinstance(config, dict):
        raise ConfigError(file, "", "the config must be a mapping of keys to values")
    _validate(config, "config.schema.yaml", file)
    sections = family_sections()
    if not any(key in config for key in ("tasks", *sections)):
        raise ConfigError(file, "", "nothing to run: add tasks or a family section", ["tasks", *sections])
    config = _with_schema_defaults(config, file)
    config["datasets"] = {name: _with_definition(name, entry, file) for name, entry in config["datasets"].items()}
    for name, entry in config["datasets"].items():
        _check_dataset(name, entry, file)
    task_defaults = merge(TASK_DEFAULTS, config.get("defaults", {}))
    tasks = {}
    for name, task in config.get("tasks", {}).items():
        if "/" in name or name.startswith("."):
            raise ConfigError(file, f"tasks.{name}", "task names may not contain '/' or start with '.'")
        task = merge(task_defaults, task)
        _check_task(name, task, config, file)
        tasks[name] = {"name": name, **task}
    model_names = sorted({m for t in tasks.values() for m in t["models"]})
    config["tasks"] = tasks
    config["models"] = {m: load_model_spec(m, Path(config["model_dir"]), file) for m in model_names}
    for name in sections:
        if name in config:
            config[name] = family(name).resolve(config[name], config, file)
    return config


def load(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, "", "config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(path, "", f"not valid YAML: {err}") from None
    return resolve(raw, path)


def fit_resources(config: dict, model: str, dataset_mb: float, attempt: int, n_fits: int = 1) -> dict:
    """Memory and runtime of a fit job of ``n_fits`` fits: the model's own or the config's,
    plus room for the dataset held in memory, all scaled by the attempt number. Its fits
    run one after another on the same data: the memory of one, the runtime of all."""
    base = {**config["resources"]["fit"], **config["models"][model]["resources"]}
    # The store is compressed about 2x; the job holds the raw matrix and a few copies.
    mem_mb = base["mem_mb"] + 8 * dataset_mb
    return {"mem_mb": int(mem_mb * attempt), "runtime": int(base["runtime"] * n_fits * attempt)}


def labels_used(config: dict, dataset: str) -> list[str]:
    """Labels the tasks read from ``dataset``; its first job checks it can provide them."""
    labels = {t["label"] for t in config["tasks"].values() if t["dataset"] == dataset}
    for name in family_sections():
        if name in config:
            labels |= set(family(name).labels_used(config[name]).get(dataset, ()))
    return sorted(labels)


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
