"""Random composite measurements (the reference's ``random_phi`` and ``get_observations``)."""

from __future__ import annotations

import numpy as np

MAX_DRAWS_PER_ROW = 1000


def random_measurement_matrix(n_measurements: int, n_genes: int, rng: np.random.Generator,
                              max_abs_corr: float = 0.2) -> np.ndarray:
    """Gaussian rows scaled to unit L2 norm (measurements x genes).

    As in the reference, a new row is redrawn while its |Pearson correlation| with
    any accepted row exceeds ``max_abs_corr`` (rarely happens for hundreds of genes).
    """
    if n_measurements < 1 or n_genes < 2:
        raise ValueError(f"need at least 1 measurement and 2 genes, got {n_measurements} and {n_genes}")
    rows = np.empty((n_measurements, n_genes))
    centred = np.empty((n_measurements, n_genes))
    for i in range(n_measurements):
        for _ in range(MAX_DRAWS_PER_ROW):
            row = rng.standard_normal(n_genes)
            c = row - row.mean()
            c /= np.linalg.norm(c)
            if i == 0 or np.max(np.abs(centred[:i] @ c)) <= max_abs_corr:
                break
        else:
            raise ValueError(f"could not draw {n_measurements} measurement rows over {n_genes} genes with "
                             f"|correlation| <= {max_abs_corr}; use fewer measurements or more genes")
        rows[i] = row / np.linalg.norm(row)
        centred[i] = c
    return rows


def scaled_noise(X: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with ||N||_F = ||X||_F / snr: an amplitude ratio over the whole matrix."""
    if not snr > 0:
        raise ValueError(f"snr must be > 0, got {snr}")
    noise = rng.standard_normal(X.shape)
    return noise * (np.linalg.norm(X) / (snr * np.linalg.norm(noise)))


def observe(X: np.ndarray, A: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Y = (X + N) A^T: noise enters the expression before mixing, as in the reference."""
    X = np.asarray(X, dtype=float)
    if X.shape[1] != A.shape[1]:
        raise ValueError(f"expression has {X.shape[1]} genes but the measurement matrix has {A.shape[1]}")
    return (X + scaled_noise(X, snr, rng)) @ A.T
