"""Planted biclusters: a seeded checkerboard with pure-noise features, the truth kept.

Rows (samples) fall into ``n_row_clusters`` groups and the signal columns (features)
into ``n_column_clusters`` groups, all of near-equal size; every (row group, column
group) cell has a mean drawn uniformly from [-effect, effect]. ``n_noise_features``
further columns have mean zero. Gaussian noise of standard deviation ``noise`` is
added everywhere, and rows and columns are shuffled so order carries no signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..seeding import make_rng


@dataclass
class PlantedBiclusters:
    X: np.ndarray               # rows x columns
    row_labels: np.ndarray      # 0..n_row_clusters-1
    column_labels: np.ndarray   # 0..n_column_clusters-1; -1 for a noise feature
    means: np.ndarray           # n_row_clusters x n_column_clusters

    @property
    def noise_features(self) -> np.ndarray:
        return self.column_labels < 0


def _balanced(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % k)


def planted_checkerboard(n_rows: int = 100, n_columns: int = 50, n_row_clusters: int = 3,
                         n_column_clusters: int = 3, n_noise_features: int = 0, noise: float = 1.0,
                         effect: float = 3.0, seed: int = 0) -> PlantedBiclusters:
    """``n_columns`` signal features plus ``n_noise_features`` noise ones."""
    if n_row_clusters > n_rows or n_column_clusters > n_columns:
        raise ValueError(f"{n_row_clusters} x {n_column_clusters} clusters do not fit {n_rows} rows x "
                         f"{n_columns} signal columns")
    rng = make_rng(seed, "planted biclusters")
    means = rng.uniform(-effect, effect, size=(n_row_clusters, n_column_clusters))
    rows = _balanced(n_rows, n_row_clusters, rng)
    columns = np.concatenate([_balanced(n_columns, n_column_clusters, rng), np.full(n_noise_features, -1)])
    columns = columns[rng.permutation(len(columns))]
    signal = np.zeros((n_rows, len(columns)))
    signal[:, columns >= 0] = means[rows][:, columns[columns >= 0]]
    X = signal + noise * rng.standard_normal(signal.shape)
    return PlantedBiclusters(X, rows, columns, means)
