"""A task's label encoding and sample selection, fitted once per task.

Every fit job of a task reads this manifest, so all folds, models and seeds use
the same class order and the same samples.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd

from ..atomic import write_text
from ..store import DatasetReader

GROUP_COLUMNS = {"study": "study", "donor": "donor", "sample": "sample_id"}


class TaskError(ValueError):
    pass


def build_manifest(reader: DatasetReader, task: dict, config_file="config") -> dict:
    samples = reader.samples
    label, key = task["label"], f"{config_file}: tasks.{task['name']}"
    if label not in samples.columns:
        labels = [c for c in samples.columns if c not in GROUP_COLUMNS.values()]
        raise TaskError(f"{key}.label: {label!r} is not a column of {reader.path} (allowed: {', '.join(labels)})")
    values = samples[label]
    present = values.notna().to_numpy()
    if task.get("classes"):
        observed = set(values[present].astype(str))
        absent = sorted(set(task["classes"]) - observed)
        if absent:
            raise TaskError(f"{key}.classes: {', '.join(map(repr, absent))} never occur in {label!r} of "
                            f"{reader.path} (values: {', '.join(sorted(observed))})")
        present = present & values.astype(str).isin(task["classes"]).to_numpy()
    rows = np.flatnonzero(present)
    classes, counts = np.unique(values[present].astype(str).to_numpy(), return_counts=True)
    pair_classes = []
    if task["kind"] == "binary_pairs":
        # The top_n most common classes in this store (ties in name order), taken from
        # the data at manifest time rather than from a list fixed in the config.
        pair_classes = sorted(str(c) for c in classes[np.argsort(-counts, kind="stable")[: task["top_n"]]])

    kind = task["kind"]
    if kind == "binary" and len(classes) != 2:
        raise TaskError(
            f"{key}.kind: 'binary' needs exactly 2 classes in {label!r} but {reader.path} has {len(classes)} "
            f"({', '.join(classes)}); use kind: multiclass or binary_pairs"
        )
    if len(classes) < 2:
        raise TaskError(f"{key}.label: {label!r} has fewer than 2 classes in {reader.path}")
    pairs = [list(pair) for pair in itertools.combinations(pair_classes, 2)]

    group_column = GROUP_COLUMNS[task["split"]["by"]]
    n_groups = samples.loc[present, group_column].nunique()
    if n_groups < task["split"]["folds"]:
        raise TaskError(
            f"{key}.split.folds: {task['split']['folds']} folds need at least as many "
            f"{task['split']['by']} groups, but {reader.path} has {n_groups}; lower folds or split by a finer grouping"
        )
    return {
        "task": task["name"],
        "dataset_file": str(reader.path),
        "label": label,
        "kind": kind,
        "classes": classes.tolist(),
        "class_counts": dict(zip(classes.tolist(), counts.tolist(), strict=False)),
        # binary_pairs: the top_n classes by class_counts, the pairs' classes.
        "pair_classes": pair_classes,
        "pairs": pairs,
        "rows": rows.tolist(),
        "n_dropped_missing_label": int(values.isna().sum()),
        "n_dropped_other_classes": int((values.notna() & ~pd.Series(present)).sum()),
    }


def write_manifest(path, manifest: dict) -> None:
    write_text(path, json.dumps(manifest, indent=1) + "\n")


def read_manifest(path) -> dict:
    with open(path) as handle:
        return json.load(handle)


def dropped_samples_report(manifest_paths) -> list[str]:
    """One line per task that left samples out for a missing label."""
    lines = []
    for path in manifest_paths:
        try:
            manifest = read_manifest(path)
        except OSError:
            continue
        if manifest["n_dropped_missing_label"]:
            lines.append(f"{manifest['task']}: {manifest['n_dropped_missing_label']} samples without a "
                         f"{manifest['label']!r} label were left out")
    return lines
