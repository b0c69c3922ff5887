"""Scores of the self-supervised benchmark: AUPC, the gain g(m1, m2) and the
singular-value spectrum of embeddings (dimensional collapse).

AUPC (area under the performance curve) integrates accuracy over the fine-tuning
proportion p with the trapezoidal rule, on the grid points inside ``[low, high]``
(the paper: [0.02, 0.3], equation 3). The paper does not say whether the area is
divided by the interval width; both are reported: ``normalize=True`` divides by
the width actually covered, which turns the area into a mean accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def aupc(proportions, scores, low: float = 0.02, high: float = 0.3, normalize: bool = False) -> float:
    """Trapezoidal area under ``scores`` against ``proportions`` over [low, high].

    Only grid points inside the interval count (no extrapolation); with fewer than
    two such points the area is undefined and NaN is returned.
    """
    p = np.asarray(proportions, dtype=float)
    s = np.asarray(scores, dtype=float)
    order = np.argsort(p)
    p, s = p[order], s[order]
    inside = (p >= low - 1e-9) & (p <= high + 1e-9)
    p, s = p[inside], s[inside]
    if p.size < 2:
        return float("nan")
    area = float(np.sum((p[1:] - p[:-1]) * (s[1:] + s[:-1]) / 2))
    return area / float(p[-1] - p[0]) if normalize else area


def aupc_gain(proportions, scores_1, scores_2, low: float = 0.02, high: float = 0.3, normalize: bool = False) -> float:
    """g(m1, m2) = AUPC(m1) - AUPC(m2) on the same grid; > 0 when m1 is better on average."""
    return (aupc(proportions, scores_1, low, high, normalize)
            - aupc(proportions, scores_2, low, high, normalize))


def points_inside(proportions, low: float, high: float) -> np.ndarray:
    p = np.sort(np.asarray(proportions, dtype=float))
    return p[(p >= low - 1e-9) & (p <= high + 1e-9)]


def singular_value_spectrum(embeddings) -> np.ndarray:
    """Singular values, sorted descending, of the covariance of ``embeddings`` (n x d).

    C = (1/N) sum (z_i - mean)(z_i - mean)^T, as in Jing et al. (2022); computed in
    float64 so that values near zero are not float32 rounding noise. Only the first
    min(N - 1, d) values are returned: N centred samples span at most N - 1
    dimensions, so the rest are zero whatever the encoder does and would read as collapse.
    """
    Z = np.asarray(embeddings, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ValueError(f"embeddings must be a matrix with at least 2 rows, got shape {Z.shape}")
    centred = Z - Z.mean(axis=0)
    covariance = centred.T @ centred / Z.shape[0]
    spectrum = np.sort(np.linalg.svd(covariance, compute_uv=False))[::-1]
    return spectrum[: min(Z.shape[0] - 1, Z.shape[1])]


def collapsed_dimensions(spectrum, tolerance: float = 1e-6) -> int:
    """How many singular values fall below ``tolerance`` x the largest one."""
    spectrum = np.asarray(spectrum, dtype=float)
    if spectrum.size == 0 or spectrum[0] <= 0:
        return int(spectrum.size)
    return int(np.sum(spectrum < tolerance * spectrum[0]))


def spectrum_table(spectrum, tolerance: float = 1e-6) -> pd.DataFrame:
    """One row per singular value: its rank, value, log10 and whether it collapsed."""
    spectrum = np.asarray(spectrum, dtype=float)
    top = spectrum[0] if spectrum.size else 0.0
    with np.errstate(divide="ignore"):
        log10 = np.log10(np.maximum(spectrum, np.finfo(float).tiny))
    return pd.DataFrame({
        "rank": np.arange(1, spectrum.size + 1),
        "singular_value": spectrum,
        "log10_singular_value": log10,
        "collapsed": spectrum < tolerance * top if top > 0 else np.ones(spectrum.size, dtype=bool),
    })
