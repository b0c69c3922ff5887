"""The matrix of one experiment cell: planted (seeded generator) or from the store.

Store data: the ``n_genes`` most variable genes (all when null), optionally a
seeded cap of ``n_samples``, each gene centred and, with ``standardize``, scaled to
unit variance. Rows are samples, columns genes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..seeding import make_rng
from ..store import open_dataset
from .planted import planted_checkerboard


@dataclass
class CellData:
    X: np.ndarray
    row_truth: np.ndarray | None = None       # planted only
    column_truth: np.ndarray | None = None
    samples: pd.DataFrame | None = None       # store only
    gene_ids: np.ndarray | None = None


def planted_cell(experiment: dict, cell: dict, seed: int) -> CellData:
    planted = experiment["planted"]
    data = planted_checkerboard(cell["n_rows"], cell["n_columns"], planted["n_row_clusters"],
                                planted["n_column_clusters"], cell["noise_features"], cell["noise"],
                                planted["effect"], seed)
    return CellData(data.X, data.row_labels, data.column_labels)


def store_cell(path, experiment: dict, seed: int) -> CellData:
    with open_dataset(path) as reader:
        rows = np.arange(reader.shape[0])
        if experiment["n_samples"] is not None and experiment["n_samples"] < len(rows):
            rows = np.sort(make_rng(seed, "biclustering samples").choice(len(rows), experiment["n_samples"],
                                                                         replace=False))
        X = reader.read_expression(rows=rows).astype(float)
        samples = reader.samples.iloc[rows].reset_index(drop=True)
        gene_ids = reader.genes["gene_id"].to_numpy()
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: the expression matrix has missing or infinite values")
    if experiment["n_genes"] is not None and experiment["n_genes"] < X.shape[1]:
        top = np.sort(np.argsort(-X.var(axis=0), kind="stable")[:experiment["n_genes"]])
        X, gene_ids = X[:, top], gene_ids[top]
    X = X - X.mean(axis=0)
    if experiment["standardize"]:
        spread = X.std(axis=0)
        X = X / np.where(spread > 0, spread, 1.0)
    missing = [label for label in experiment["labels"] if label not in samples]
    if missing:
        raise ValueError(f"{path}: no label column {missing}; the samples table has {list(samples.columns)}")
    return CellData(X, samples=samples, gene_ids=gene_ids)


def planted_grid(experiment: dict) -> list[dict]:
    """Every (size, noise level, number of noise features) cell of a planted experiment."""
    planted = experiment["planted"]
    return [{"n_rows": n_rows, "n_columns": n_columns, "noise": noise, "noise_features": count}
            for n_rows, n_columns in planted["sizes"] for noise in planted["noise"]
            for count in planted["noise_features"]]
