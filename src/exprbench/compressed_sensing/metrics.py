"""Recovery metrics (the reference's ``compare_results``)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

# Leading metrics first: gene-wise Pearson and the sample-distance correlation are not
# won by predicting the training mean profile; overall and per-sample Pearson are
# dominated by differences between gene means and are.
LEADING_METRICS = ("gene_pearson", "distance_pearson")
METRICS = (*LEADING_METRICS, "distance_spearman", "overall_pearson", "sample_pearson", "overall_spearman")
# A row whose spread is below this fraction of its magnitude is constant up to rounding.
CONSTANT_RELATIVE_SPREAD = 1e-9


def _constant_rows(A: np.ndarray) -> np.ndarray:
    spread = np.ptp(A, axis=1)
    return spread <= CONSTANT_RELATIVE_SPREAD * np.max(np.abs(A), axis=1)


def _rowwise_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of A with the same row of B.

    NaN where either row is constant: the centred values of a constant row are
    rounding noise, whose correlation would read as a number near 0."""
    a = A - A.mean(axis=1, keepdims=True)
    b = B - B.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(a * b, axis=1) / np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
    r[_constant_rows(A) | _constant_rows(B)] = np.nan
    return r


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two vectors, NaN when either is constant."""
    return float(_rowwise_pearson(a[None, :], b[None, :])[0])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if _constant_rows(np.stack([a, b])).any():
        return float("nan")
    return float(spearmanr(a, b)[0])


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
    return _pearson(d_true, d_rec), _spearman(d_true, d_rec)


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
        "gene_pearson": _finite_mean(_rowwise_pearson(truth.T, recovered.T)),
        "distance_pearson": dist_p,
        "distance_spearman": dist_s,
        "overall_pearson": _pearson(flat_t, flat_r),
        "sample_pearson": _finite_mean(_rowwise_pearson(truth, recovered)),
        "overall_spearman": _spearman(flat_t, flat_r),
    }
