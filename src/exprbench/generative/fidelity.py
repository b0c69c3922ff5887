"""Fidelity of generated samples against held-out real samples of the same class.

Every metric compares a candidate set (generated samples, or for the baseline the
other half of the real held-out samples) with a reference set of real held-out
samples. Distribution metrics are computed per class and averaged, weighted by
the reference class sizes; the real-vs-generated classifier sees all classes at
once, with the same class counts on both sides.

- ``mmd``: squared maximum mean discrepancy, RBF kernel, unbiased estimate; the
  bandwidth is the median heuristic (median squared distance of the pooled sets).
  Lower is better, 0 for matching distributions (the unbiased estimate can dip
  below 0).
- ``energy``: energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'|. Lower is better.
- ``precision`` / ``recall``: k-NN precision and recall (Kynkäänniemi et al.
  2019): the share of candidates inside the k-NN balls of the reference, and of
  the reference inside the candidates' balls. Higher is better.
- ``discriminator_auc``: cross-validated ROC AUC of a logistic regression told to
  tell reference from candidate. 0.5 is perfect; 1 means fully separable.
- ``mean_corr``, ``var_corr``, ``corr_corr``: Pearson correlation between the two
  sets' per-gene means, per-gene variances and gene-gene correlations (upper
  triangle). Higher is better.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

METRICS = ("mmd", "energy", "precision", "recall", "discriminator_auc", "mean_corr", "var_corr", "corr_corr")
LOWER_IS_BETTER = ("mmd", "energy")
MIN_PER_SIDE = 2  # per class and side; fewer and the class is left out


def mmd_rbf(X: np.ndarray, Y: np.ndarray) -> float:
    both = np.vstack([X, Y])
    squared = cdist(both, both, "sqeuclidean")
    bandwidth = np.median(squared[np.triu_indices(len(both), 1)])
    kernel = np.exp(-squared / max(bandwidth, 1e-12))
    n = len(X)
    kxx, kyy, kxy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    off = lambda k: (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.mean())


def energy_distance(X: np.ndarray, Y: np.ndarray) -> float:
    within = lambda A: cdist(A, A).sum() / (len(A) * (len(A) - 1))  # noqa: E731
    return float(2 * cdist(X, Y).mean() - within(X) - within(Y))


def knn_precision_recall(reference: np.ndarray, candidate: np.ndarray, k: int = 3) -> tuple[float, float]:
    def radii(A):
        distances = np.sort(cdist(A, A), axis=1)
        return distances[:, min(k, len(A) - 1)]  # column 0 is the point itself

    between = cdist(candidate, reference)  # candidates x reference
    precision = np.mean((between <= radii(reference)[None, :]).any(axis=1))
    recall = np.mean((between.T <= radii(candidate)[None, :]).any(axis=1))
    return float(precision), float(recall)


def discriminator_auc(reference: np.ndarray, candidate: np.ndarray, seed: int, folds: int = 5) -> float:
    X = np.vstack([reference, candidate])
    y = np.r_[np.zeros(len(reference)), np.ones(len(candidate))]
    folds = min(folds, len(reference), len(candidate))
    if folds < 2:
        return float("nan")
    model = LogisticRegression(C=1.0, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on separable sets
        scores = cross_val_predict(model, X, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                                   method="decision_function")
    return float(roc_auc_score(y, scores))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _gene_correlations(X: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(X, rowvar=False)
    return corr[np.triu_indices(X.shape[1], 1)]


def class_metrics(reference: np.ndarray, candidate: np.ndarray, k: int = 3) -> dict:
    precision, recall = knn_precision_recall(reference, candidate, k)
    return {
        "mmd": mmd_rbf(reference, candidate),
        "energy": energy_distance(reference, candidate),
        "precision": precision,
        "recall": recall,
        "mean_corr": _pearson(reference.mean(0), candidate.mean(0)),
        "var_corr": _pearson(reference.var(0, ddof=1), candidate.var(0, ddof=1)),
        "corr_corr": _pearson(_gene_correlations(reference), _gene_correlations(candidate)),
    }


def fidelity(reference, reference_y, candidate, candidate_y, seed: int, k: int = 3) -> dict:
    """Per-class metrics averaged with the reference class sizes as weights, and
    the pooled real-vs-candidate AUC over the classes both sides hold."""
    reference, candidate = np.asarray(reference, float), np.asarray(candidate, float)
    reference_y, candidate_y = np.asarray(reference_y), np.asarray(candidate_y)
    classes = [c for c in np.unique(reference_y)
               if (reference_y == c).sum() >= MIN_PER_SIDE and (candidate_y == c).sum() >= MIN_PER_SIDE]
    if not classes:
        return {**{m: float("nan") for m in METRICS}, "n_classes": 0, "n_reference": 0, "n_candidate": 0}
    weights, rows = [], []
    for c in classes:
        rows.append(class_metrics(reference[reference_y == c], candidate[candidate_y == c], k))
        weights.append((reference_y == c).sum())
    result = {m: float(np.average([r[m] for r in rows], weights=weights)) if all(np.isfinite(r[m]) for r in rows)
              else float(np.nanmean([r[m] for r in rows])) for m in rows[0]}
    in_ref, in_cand = np.isin(reference_y, classes), np.isin(candidate_y, classes)
    result["discriminator_auc"] = discriminator_auc(reference[in_ref], candidate[in_cand], seed)
    result.update({"n_classes": len(classes), "n_reference": int(in_ref.sum()), "n_candidate": int(in_cand.sum())})
    return {m: result[m] for m in (*METRICS, "n_classes", "n_reference", "n_candidate")}


def split_halves(y, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of two halves of a labelled set, split within each class (the
    real-vs-real baseline compares them); an odd sample goes to the first half."""
    y = np.asarray(y)
    first, second = [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        cut = (len(rows) + 1) // 2
        first.append(rows[:cut])
        second.append(rows[cut:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))
