"""An experiment's labelled samples from the store: the raw matrix, class codes and
the groups its folds keep whole. Gene selection and scaling happen per fold, on
the training side only (protocol.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ..seeding import make_rng
from ..store import open_dataset

GROUP_COLUMNS = {"study": "study", "donor": "donor", "sample": "sample_id"}  # as the classification family


@dataclass
class LabelledData:
    X: np.ndarray            # samples x genes, as stored
    y: np.ndarray            # class codes into ``classes``
    classes: np.ndarray      # class names, sorted
    groups: np.ndarray       # split groups
    sample_ids: np.ndarray


def load_labelled(path, experiment: dict) -> LabelledData:
    """Samples with a label, classes smaller than ``min_class_size`` left out, then
    at most ``n_samples`` of them (a random subset drawn with ``data_seed``)."""
    label = experiment["label"]
    with open_dataset(path) as reader:
        samples = reader.samples
        if label not in samples:
            raise ValueError(f"{path}: no label column {label!r}; columns: {', '.join(samples.columns)}")
        labels = samples[label]
        keep = labels.notna().to_numpy()
        counts = labels[keep].astype(str).value_counts()
        small = sorted(counts[counts < experiment["min_class_size"]].index)
        if small:
            keep &= ~labels.astype(str).isin(small).to_numpy()
            print(f"classes with fewer than {experiment['min_class_size']} samples left out: {', '.join(small)}",
                  file=sys.stderr)
        rows = np.flatnonzero(keep)
        if experiment["n_samples"] is not None and experiment["n_samples"] < len(rows):
            rows = np.sort(make_rng(experiment["data_seed"], "samples").choice(rows, experiment["n_samples"],
                                                                                replace=False))
        X = reader.read_expression(rows=rows).astype(np.float32)
        chosen = samples.iloc[rows]
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: the expression matrix has missing or infinite values")
    names = chosen[label].astype(str).to_numpy()
    classes = np.unique(names)
    if len(classes) < 2:
        raise ValueError(f"{path}: label {label!r} has {len(classes)} class(es) after filtering; need at least 2")
    groups = chosen[GROUP_COLUMNS[experiment["split"]["by"]]].astype(str).to_numpy()
    return LabelledData(X, np.searchsorted(classes, names), classes, groups, chosen["sample_id"].to_numpy())
