"""Sparse decoding with orthogonal matching pursuit (the reference's ``sparse_decode``)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import orthogonal_mp


def omp_codes(Y: np.ndarray, D: np.ndarray, k: int) -> np.ndarray:
    """Codes (samples x atoms) with at most ``k`` non-zeros each, Y (samples x m) ~ codes @ D.T.

    D is m x atoms and is used as given (no atom normalisation, no intercept), like
    SPAMS OMP in the reference. ``k`` is capped at the number of atoms and of rows
    of D: beyond either the extra atoms are linearly dependent.
    """
    Y = np.asarray(Y, dtype=float)
    D = np.asarray(D, dtype=float)
    if Y.shape[1] != D.shape[0]:
        raise ValueError(f"observations have {Y.shape[1]} entries but the dictionary has {D.shape[0]} rows")
    k = int(min(k, D.shape[0], D.shape[1]))
    if k < 1:
        raise ValueError(f"sparsity must be >= 1 (got k={k} for a {D.shape[0]} x {D.shape[1]} dictionary)")
    with warnings.catch_warnings():
        # Zero atoms or exhausted residuals end OMP early; the codes are still valid.
        warnings.simplefilter("ignore", RuntimeWarning)
        codes = orthogonal_mp(D, Y.T, n_nonzero_coefs=k, precompute=True)
    # orthogonal_mp squeezes single-sample output; restore samples x atoms.
    return np.reshape(codes, (D.shape[1], Y.shape[0])).T


def fit_fraction(X: np.ndarray, X_hat: np.ndarray) -> float:
    """1 - ||X - X_hat||_F^2 / ||X||_F^2."""
    return 1.0 - float(np.sum((X - X_hat) ** 2) / np.sum(X ** 2))


def decode_sparsest(X: np.ndarray, U: np.ndarray, k: int, worst_fit: float, min_k: int) -> tuple[np.ndarray, int]:
    """SMAF's adaptive W-step: lower k while the fit stays >= ``worst_fit``.

    Returns the codes of the sparsest k above ``min_k`` whose global fit holds, or
    the starting k's codes when even that misses. The reference returned the codes
    of the first k that failed; keeping the last that held is what the step intends.
    Returns (codes, k used).
    """
    if k <= min_k:
        raise ValueError(f"the starting sparsity ({k}) must exceed the minimum ({min_k})")
    codes = omp_codes(X, U, k)
    if fit_fraction(X, codes @ U.T) < worst_fit:
        return codes, k
    while k - 1 > min_k:
        sparser = omp_codes(X, U, k - 1)
        if fit_fraction(X, sparser @ U.T) < worst_fit:
            break
        codes, k = sparser, k - 1
    return codes, k
