"""The experiment's matrix: a seeded gene subset and sample cap from the store,
split, clipped at a percentile of the training values (the reference clipped at
the percentile of train and test together) and optionally 0-1 scaled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..seeding import make_rng
from ..store import open_dataset


@dataclass
class ExperimentData:
    train: np.ndarray          # samples x genes
    test: np.ndarray           # samples x genes
    gene_ids: np.ndarray
    train_ids: np.ndarray
    test_ids: np.ndarray


def select(shape: tuple[int, int], n_genes, n_samples, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted random sample rows and gene columns (all when the limit is null or larger)."""
    n_total, g_total = shape
    rows = np.arange(n_total)
    if n_samples is not None and n_samples < n_total:
        rows = np.sort(make_rng(seed, "samples").choice(n_total, size=n_samples, replace=False))
    cols = np.arange(g_total)
    if n_genes is not None and n_genes < g_total:
        cols = np.sort(make_rng(seed, "genes").choice(g_total, size=n_genes, replace=False))
    return rows, cols


def clip_at_percentile(train: np.ndarray, test: np.ndarray, percentile) -> tuple[np.ndarray, np.ndarray]:
    """Values above the percentile of all training values set to it, in both parts
    (reference: 99th). The test samples do not move the threshold."""
    if percentile is None:
        return train, test
    ceiling = np.percentile(train, percentile)
    return np.minimum(train, ceiling), np.minimum(test, ceiling)


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = make_rng(seed, "split").permutation(n)
    n_test = int(round(test_fraction * n))
    if n_test < 3 or n - n_test < 3:
        raise ValueError(f"test_fraction {test_fraction} of {n} samples leaves fewer than 3 samples on one side")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def scale_01(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each gene to [0, 1] by the training minimum and range (test may fall slightly outside)."""
    low = train.min(axis=0)
    span = train.max(axis=0) - low
    span[span == 0] = 1.0
    return (train - low) / span, (test - low) / span


def load_experiment(path, experiment: dict, seed: int) -> ExperimentData:
    """Gene/sample selection uses ``experiment['data_seed']`` (fixed across repeats);
    the train/test split uses the repeat's ``seed``."""
    with open_dataset(path) as reader:
        rows, cols = select(reader.shape, experiment["n_genes"], experiment["n_samples"], experiment["data_seed"])
        X = reader.read_expression(rows=rows, columns=cols).astype(float)
        sample_ids = reader.samples["sample_id"].to_numpy()[rows]
        gene_ids = reader.genes["gene_id"].to_numpy()[cols]
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: the expression matrix has missing or infinite values; "
                         "impute them or choose another dataset")
    train_rows, test_rows = split(X.shape[0], experiment["test_fraction"], seed)
    train, test = clip_at_percentile(X[train_rows], X[test_rows], experiment["clip_percentile"])
    if experiment["scale_01"]:
        train, test = scale_01(train, test)
    return ExperimentData(train, test, gene_ids, sample_ids[train_rows], sample_ids[test_rows])
