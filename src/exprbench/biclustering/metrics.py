"""Accuracy against planted truth, agreement with sample labels, and stability."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, consensus_score, f1_score

PLANTED_METRICS = ("consensus", "row_ari", "column_ari", "noise_f1")


def biclusters(row_labels, column_labels) -> tuple[np.ndarray, np.ndarray]:
    """Every (row cluster, column cluster) pair as boolean indicator rows, as
    scikit-learn's ``biclusters_``; columns labelled -1 are in none."""
    row_labels, column_labels = np.asarray(row_labels), np.asarray(column_labels)
    rows, columns = [], []
    for r in np.unique(row_labels):
        for c in np.unique(column_labels[column_labels >= 0]):
            rows.append(row_labels == r)
            columns.append(column_labels == c)
    n, p = len(row_labels), len(column_labels)
    return np.array(rows, dtype=bool).reshape(-1, n), np.array(columns, dtype=bool).reshape(-1, p)


def planted_metrics(truth_rows, truth_columns, row_labels, column_labels) -> dict:
    """Consensus score of the checkerboards; ARI of rows and of columns (noise
    features, -1, are a class of their own on both sides); F1 of the noise-feature
    selection (a method that sets no feature aside scores 0; NaN without noise)."""
    truth_noise, found_noise = np.asarray(truth_columns) < 0, np.asarray(column_labels) < 0
    found = biclusters(row_labels, column_labels)
    return {
        "consensus": consensus_score(biclusters(truth_rows, truth_columns), found) if found[0].size else 0.0,
        "row_ari": adjusted_rand_score(truth_rows, row_labels),
        "column_ari": adjusted_rand_score(truth_columns, column_labels),
        "noise_f1": f1_score(truth_noise, found_noise, zero_division=0.0) if truth_noise.any() else np.nan,
    }


def label_metrics(samples: pd.DataFrame, labels: list[str], row_labels) -> dict:
    """ARI of the row (sample) clusters against each label column, over the samples
    that have the label."""
    out = {}
    for label in labels:
        known = samples[label].notna().to_numpy()
        out[f"ari_{label}"] = adjusted_rand_score(samples[label].to_numpy()[known].astype(str),
                                                  np.asarray(row_labels)[known])
    return out


def partition_stability(fits: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """Mean pairwise ARI across subsample fits, each (rows used, row labels, column
    labels): rows compared on the rows two subsamples share, columns on all."""
    row_scores, column_scores = [], []
    for (rows_a, labels_a, cols_a), (rows_b, labels_b, cols_b) in combinations(fits, 2):
        shared, in_a, in_b = np.intersect1d(rows_a, rows_b, return_indices=True)
        if len(shared) > 1:
            row_scores.append(adjusted_rand_score(labels_a[in_a], labels_b[in_b]))
        column_scores.append(adjusted_rand_score(cols_a, cols_b))
    nan = float("nan")
    return {"row_stability": float(np.mean(row_scores)) if row_scores else nan,
            "column_stability": float(np.mean(column_scores)) if column_scores else nan}
