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

from .family import families, section_families
from .family import family as family_named
from .sources import SOURCES
from .tracking import BACKEND_SPEC_KEYS

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


@functools.cache
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
        return ConfigError(file, key,
                           f"{error.instance!r} is not allowed{did_you_mean(error.instance, schema['enum'])}",
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


def resolve_experiments(section: dict, config: dict, file, family: str, schema_name: str, section_defaults: dict,
                        resolve_experiment) -> dict:
    """A family section of named experiments that inherit its ``defaults:``: validated
    against ``schema_name`` (whose ``$defs.experiment_settings`` holds the defaults),
    each experiment completed by ``resolve_experiment(name, experiment, config, file)``."""
    validate_section(section, schema_name, file, family)
    resolved = merge(section_defaults, {k: v for k, v in section.items() if k not in ("experiments", "defaults")})
    base = merge(schema_defaults(schema_name, "experiment_settings"), section.get("defaults", {}))
    resolved["experiments"] = {
        name: resolve_experiment(name, merge(base, copy.deepcopy(experiment)), config, file)
        for name, experiment in section["experiments"].items()
    }
    return resolved


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
                          f"{label!r} is not a label of dataset {dataset!r}{did_you_mean(label, labels)}",
                          sorted(labels))


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
    # Families whose keys sit at the top level (classification: tasks, defaults).
    for fam in families():
        if fam.config_keys:
            config.update(fam.settings().resolve(config, file))
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


def labels_used(config: dict, dataset: str) -> list[str]:
    """Labels the families read from ``dataset``; its first job checks it can provide them."""
    labels = set()
    for fam in families():
        if fam.config_keys:
            labels |= set(fam.settings().labels_used(config).get(dataset, ()))
        elif fam.name in config:
            labels |= set(fam.settings().labels_used(config[fam.name]).get(dataset, ()))
    return sorted(labels)
