"""Recovery metrics (the reference's ``compare_results``)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import pearsonr, spearmanr

METRICS = ("overall_pearson", "overall_spearman", "gene_pearson", "sample_pearson",
           "distance_pearson", "distance_spearman")


def _rowwise_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of A with the same row of B (NaN for constant rows)."""
    a = A - A.mean(axis=1, keepdims=True)
    b = B - B.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(a * b, axis=1) / np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def distance_correlation(truth: np.ndarray, recovered: np.ndarray, n_samples: int,
                         rng: np.random.Generator) -> tuple[float, float]:
    """Pearson and Spearman between the pairwise Euclidean sample-distance vectors of
    truth and recovery, over a random subset of ``n_samples`` samples (all if fewer).

    This is the reference's "sample-to-sample distance", not Szekely's distance correlation.
    """
    n = truth.shape[0]
    rows = np.sort(rng.choice(n, size=min(n_samples, n), replace=False))
    if rows.size < 3:
        return float("nan"), float("nan")
    d_true, d_rec = pdist(truth[rows]), pdist(recovered[rows])
    return float(pearsonr(d_true, d_rec)[0]), float(spearmanr(d_true, d_rec)[0])


def recovery_metrics(truth: np.ndarray, recovered: np.ndarray, rng: np.random.Generator,
                     distance_samples: int = 200) -> dict[str, float]:
    """All metrics for truth and recovery (both samples x genes)."""
    truth = np.asarray(truth, dtype=float)
    recovered = np.asarray(recovered, dtype=float)
    if truth.shape != recovered.shape:
        raise ValueError(f"truth {truth.shape} and recovery {recovered.shape} differ in shape")
    flat_t, flat_r = truth.ravel(), recovered.ravel()
    dist_p, dist_s = distance_correlation(truth, recovered, distance_samples, rng)
    return {
        "overall_pearson": float(pearsonr(flat_t, flat_r)[0]),
        "overall_spearman": float(spearmanr(flat_t, flat_r)[0]),
        "gene_pearson": _finite_mean(_rowwise_pearson(truth.T, recovered.T)),
        "sample_pearson": _finite_mean(_rowwise_pearson(truth, recovered)),
        "distance_pearson": dist_p,
        "distance_spearman": dist_s,
    }
