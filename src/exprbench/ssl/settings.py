"""The ``ssl:`` config section: validation, defaults and the job grid.

Keys and defaults are in ``exprbench/ssl/schema.yaml``; docs/ssl.md explains
where each default comes from. ``resolve`` returns a JSON-serialisable section
with every experiment fully specified, the figures that will be drawn and those
skipped (with the reason).
"""

from __future__ import annotations

import copy

from ..config import ConfigError, check_dataset, load_schema, merge, validate_section
from ..params import check_params, translate_renamed
from ..sources import SOURCES
from .metrics import points_inside

SCHEMA = "exprbench.ssl/schema.yaml"
BASELINE = "baseline"
NO_PRETRAINING = "none"
# Set by the job for every method; a config may not set them in method_params.
JOB_SET_PARAMS = ("depth", "width", "random_state", "device", "verbose")
FIGURES = ("accuracy_vs_p", "spectra", "gain_heatmap", "accuracy_vs_pretrain_size")


def _schema() -> dict:
    return load_schema(SCHEMA)


def _defaults(node: dict, schema: dict):
    """Defaults of a schema node, nested objects filled from their properties."""
    if "$ref" in node and "default" not in node and "properties" not in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "properties" in node:
        filled = {k: _defaults(child, schema) for k, child in node["properties"].items()}
        return merge(node.get("default", {}), {k: v for k, v in filled.items() if v is not None or
                                               "default" in node["properties"][k]})
    return copy.deepcopy(node.get("default"))


def expand_grid(grid) -> list[float]:
    """A grid given as a list, or as {from, to, step} with both ends included."""
    if isinstance(grid, dict):
        n = int(round((grid["to"] - grid["from"]) / grid["step"]))
        values = [grid["from"] + i * grid["step"] for i in range(n + 1)]
    else:
        values = list(grid)
    return sorted({round(float(v), 6) for v in values})


def architecture_name(depth: int, width: int) -> str:
    return f"d{int(depth)}w{int(width)}"


def pretrain_label(q: float) -> str:
    """Path label of a pretraining-set fraction q, e.g. q1, q0.05."""
    return f"q{q:g}"


def _method_classes() -> dict:
    from .methods import SSL_METHODS

    return {name: SSL_METHODS.get(name) for name in SSL_METHODS.names()}


def _resolve_methods(exp: dict, key: str, file) -> dict:
    """Every method's constructor parameters: dropout, then ``pretrain``, then its own."""
    classes = _method_classes()
    for name in [*exp["methods"], *exp["method_params"]]:
        if name not in classes:
            raise ConfigError(file, f"{key}.methods", f"unknown method {name!r} (the baseline always runs)",
                              sorted(classes))
    common = {"dropout": exp["dropout"], **{k: v for k, v in exp["pretrain"].items() if v is not None}}
    params = {}
    for name in exp["methods"]:
        merged = {**common, **exp["method_params"].get(name, {})}
        known = set(classes[name]().get_params()) - set(JOB_SET_PARAMS)
        for param in merged:
            if param not in known:
                raise ConfigError(file, f"{key}.method_params.{name}.{param}",
                                  f"not a parameter of method {name!r} (depth, width, random_state and device are set "
                                  "by the experiment)", sorted(known))
        check_params(classes[name], merged, file, f"{key}.method_params.{name}")
        params[name] = merged
    return params


def _translate_renamed(section: dict, file) -> None:
    """Old parameter names (lr, epochs, seed) in ``pretrain``, ``finetune`` and
    ``method_params`` become the new ones, in place, before validation."""
    schema = _schema()["$defs"]["experiment"]["properties"]
    classes = _method_classes()
    experiments = section.get("experiments")
    places = [("ssl.defaults", section.get("defaults"))]
    places += [(f"ssl.experiments.{name}", exp) for name, exp in (experiments or {}).items()]
    for key, exp in places:
        if not isinstance(exp, dict):
            continue
        for part in ("pretrain", "finetune"):
            if isinstance(exp.get(part), dict):
                exp[part] = translate_renamed(exp[part], schema[part]["properties"], file, f"{key}.{part}")
        for name, params in (exp.get("method_params") or {}).items():
            if name in classes and isinstance(params, dict):
                exp["method_params"][name] = translate_renamed(params, classes[name]().get_params(), file,
                                                               f"{key}.method_params.{name}")


def _check_label(config: dict, dataset: str, label: str, file, key: str) -> None:
    entry = config["datasets"][dataset]
    labels = SOURCES.get(entry["source"]).labels_for(entry["params"])
    if label not in labels:
        raise ConfigError(file, key, f"{label!r} is not a label of dataset {dataset!r}", sorted(labels))


def _resolve_experiment(name: str, exp: dict, config: dict, file) -> dict:
    key = f"ssl.experiments.{name}"
    if "/" in name or name.startswith("."):
        raise ConfigError(file, key, "experiment names may not contain '/' or start with '.'")
    exp["finetune_dataset"] = exp["finetune_dataset"] or exp["pretrain_dataset"]
    exp["pretrain_label"] = exp["pretrain_label"] or exp["label"]
    check_dataset(config, exp["pretrain_dataset"], file, f"{key}.pretrain_dataset")
    check_dataset(config, exp["finetune_dataset"], file, f"{key}.finetune_dataset", exp["label"])
    exp["shared_genes"] = exp["pretrain_dataset"] != exp["finetune_dataset"]
    if exp["shared_genes"]:
        _check_label(config, exp["pretrain_dataset"], exp["pretrain_label"], file, f"{key}.pretrain_label")
    split = exp["split"]
    if split["finetune_dataset_pretrain_fraction"] is None:
        split["finetune_dataset_pretrain_fraction"] = split["pretrain_fraction"]

    exp["pretrain_sizes"] = expand_grid(exp["pretrain_sizes"])
    finetune = exp["finetune"]
    finetune["proportions"] = expand_grid(finetune["proportions"])
    if exp["aupc"]["low"] >= exp["aupc"]["high"]:
        raise ConfigError(file, f"{key}.aupc", f"low ({exp['aupc']['low']}) must be below high ({exp['aupc']['high']})")
    exp["architectures"] = [{"name": architecture_name(a["depth"], a["width"]), **a} for a in exp["architectures"]]
    exp["method_params"] = _resolve_methods(exp, key, file)
    main_q = max(exp["pretrain_sizes"])
    runs = [(a["name"], main_q) for a in exp["architectures"]]
    runs += [(exp["architectures"][0]["name"], q) for q in exp["pretrain_sizes"] if q != main_q]
    # The architecture sweep runs on the whole pretraining set, the size sweep on the main architecture.
    exp["pretrain_runs"] = [{"architecture": a, "pretrain_size": q, "pretrain": pretrain_label(q)} for a, q in runs]
    exp["main_pretrain"] = pretrain_label(main_q)
    return {"name": name, **exp}


def _figure_plan(experiments: dict, figures: dict) -> tuple[list[str], dict[str, str]]:
    """Figures the results will support, and why the others are skipped."""
    skipped = {}
    heatmap_ready = [
        e for e in experiments.values()
        if len(e["architectures"]) > 1 and figures["heatmap_mode"] in e["finetune"]["modes"]
        and len(points_inside(e["finetune"]["proportions"], e["aupc"]["low"], e["aupc"]["high"])) >= 2
    ]
    if not heatmap_ready:
        skipped["gain_heatmap"] = (f"needs an experiment with more than one architecture, mode "
                                   f"{figures['heatmap_mode']!r} and two proportions inside the AUPC interval")
    if not any(len(e["pretrain_sizes"]) > 1 for e in experiments.values()):
        skipped["accuracy_vs_pretrain_size"] = "needs an experiment with more than one pretrain_sizes value"
    return [f for f in FIGURES if f not in skipped], skipped


def resolve(section: dict, config: dict, file) -> dict:
    section = copy.deepcopy(section)
    _translate_renamed(section, file)
    validate_section(section, SCHEMA, file, "ssl")
    schema = _schema()
    top = {k: _defaults(v, schema) for k, v in schema["properties"].items() if k not in ("defaults", "experiments")}
    resolved = merge(top, {k: v for k, v in section.items() if k not in ("defaults", "experiments")})
    resolved["device"] = resolved["device"] or config.get("device", "auto")
    base = merge(_defaults(schema["$defs"]["experiment"], schema), section.get("defaults", {}))
    experiments = {name: _resolve_experiment(name, merge(base, raw), config, file)
                   for name, raw in section["experiments"].items()}
    resolved["experiments"] = experiments
    make, skipped = _figure_plan(experiments, resolved["figures"])
    resolved["figures"] = {**resolved["figures"], "make": make, "skipped": skipped}
    return resolved


def labels_used(resolved: dict) -> dict[str, list[str]]:
    used: dict[str, set] = {}
    for exp in resolved["experiments"].values():
        used.setdefault(exp["finetune_dataset"], set()).add(exp["label"])
        used.setdefault(exp["pretrain_dataset"], set()).add(exp["pretrain_label"])
    return {dataset: sorted(labels) for dataset, labels in used.items()}


def pretrain_jobs(resolved: dict) -> list[dict]:
    return [
        {"experiment": exp["name"], "method": method, "architecture": run["architecture"],
         "pretrain": run["pretrain"], "seed": seed}
        for exp in resolved["experiments"].values()
        for seed in exp["seeds"]
        for method in exp["methods"]
        for run in exp["pretrain_runs"]
    ]


def finetune_jobs(resolved: dict) -> list[dict]:
    """Every pretraining job in every mode, plus the baseline per architecture.

    The baseline (random initialisation, all layers trained) does not depend on the
    pretraining set, so it runs once per architecture and seed and is the reference
    of both the frozen and the unfrozen comparisons, as in the paper.
    """
    jobs = []
    for exp in resolved["experiments"].values():
        for seed in exp["seeds"]:
            for arch in exp["architectures"]:
                jobs.append({"experiment": exp["name"], "method": BASELINE, "mode": "unfrozen",
                             "architecture": arch["name"], "pretrain": NO_PRETRAINING, "seed": seed})
    for job in pretrain_jobs(resolved):
        for mode in resolved["experiments"][job["experiment"]]["finetune"]["modes"]:
            jobs.append({**job, "mode": mode})
    return jobs


def jobs(resolved: dict) -> list[dict]:
    return ([{"step": "pretrain", **j} for j in pretrain_jobs(resolved)]
            + [{"step": "finetune", **j} for j in finetune_jobs(resolved)])


def architecture(exp: dict, name: str) -> dict:
    for arch in exp["architectures"]:
        if arch["name"] == name:
            return arch
    raise ValueError(f"experiment {exp['name']!r} has no architecture {name!r}; "
                     f"allowed: {', '.join(a['name'] for a in exp['architectures'])}")


def pretrain_size(exp: dict, label: str) -> float:
    for run in exp["pretrain_runs"]:
        if run["pretrain"] == label:
            return run["pretrain_size"]
    raise ValueError(f"experiment {exp['name']!r} has no pretraining size {label!r}")
