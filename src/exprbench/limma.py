"""Batch-effect removal as limma's ``removeBatchEffect``: in R through rpy2, or native.

limma fits, gene by gene, a linear model with design ``[intercept, batch contrasts,
covariates]``, the batch coded with sum-to-zero contrasts (``contr.sum``), and
subtracts only the batch and covariate part. Without covariates each batch's
per-gene mean is moved to the unweighted average of the batch means; differences
between samples within a batch are kept.

Two backends give the same result (to about 1e-13 in float64):

- ``r`` (the reference): limma itself. Matrices cross to R as whole numeric
  vectors (numpy2ri inside a local converter, so rpy2's global conversion rules
  stay untouched for the rest of the process).
- ``native``: the same least-squares fit in numpy, float64 throughout. The design
  has a handful of columns, so the coefficients are one pass ``Q^T x`` over blocks
  of samples and the correction a second pass; memory stays near the output's size
  (R's path grows by about 15x a float32 input, so 17,000 x 18,000 does not fit
  in 20 GB).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rdata import RUnavailableError, r_objects, r_package_version

BACKENDS = ("r", "native")

_REMOVE_BATCH_EFFECT = """function(x, batch, covariates) limma::removeBatchEffect(
    x, batch = if (is.null(batch)) NULL else factor(batch), covariates = covariates)"""

# R's lm.fit (which limma's lmFit calls) treats a design column as not estimable
# when its norm left after the earlier columns falls below this share of its own.
_RANK_TOLERANCE = 1e-7
# Samples x genes elements per block of the native path (float64: 2 MiB, stays in cache;
# measured faster than 32 MiB blocks).
_BLOCK_ELEMENTS = 1 << 18


def limma_available() -> tuple[bool, str]:
    """Whether limma can be called: ``(True, version)`` or ``(False, reason with install hint)``."""
    try:
        return True, r_package_version("limma")
    except RUnavailableError as err:
        return False, str(err)


def _batch_labels(batch, n_samples: int) -> np.ndarray:
    labels = np.asarray(batch, dtype=object)
    if labels.ndim != 1:
        raise ValueError(f"batch must be one label per sample (1-D), got shape {labels.shape}")
    if labels.shape[0] != n_samples:
        raise ValueError(f"batch has {labels.shape[0]} labels for {n_samples} samples")
    missing = pd.isna(labels) | (labels == "")
    if missing.any():
        raise ValueError(f"batch label missing for {int(missing.sum())} of {n_samples} samples")
    return labels.astype(str)


def _covariate_matrix(covariates, n_samples: int) -> np.ndarray | None:
    if covariates is None:
        return None
    matrix = np.asarray(covariates, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] != n_samples:
        raise ValueError(f"covariates must be samples x covariates with {n_samples} rows, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("covariates must be finite")
    return matrix if matrix.shape[1] else None


def remove_batch_effect(expression, batch, covariates=None, *, backend: str = "r", dtype=np.float32) -> np.ndarray:
    """Remove per-batch mean shifts (and covariate effects) from a samples x genes matrix.

    ``batch`` holds one label per sample (any type; compared as strings);
    ``covariates`` is an optional samples x covariates numeric matrix (or one
    vector). ``backend`` is ``"r"`` (limma through rpy2) or ``"native"`` (numpy).
    Returns a new samples x genes matrix of ``dtype`` (float32 unless asked). With a
    single batch and no covariates there is nothing to remove and a copy of the
    input is returned without fitting.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    matrix = np.asarray(expression)
    if matrix.ndim != 2:
        raise ValueError(f"expression must be a samples x genes matrix, got {matrix.ndim} dimension(s)")
    if not np.issubdtype(matrix.dtype, np.number):
        raise ValueError(f"expression must be numeric, got dtype {matrix.dtype}")
    n_samples = matrix.shape[0]
    if n_samples < 2:
        raise ValueError(f"need at least 2 samples to remove a batch effect, got {n_samples}")
    labels = _batch_labels(batch, n_samples)
    covariates = _covariate_matrix(covariates, n_samples)
    if len(np.unique(labels)) < 2:
        if covariates is None:
            return np.array(matrix, dtype=dtype)
        labels = None  # one batch: only the covariates are removed (limma cannot code a one-level factor)
    if backend == "native":
        return _remove_native(matrix, labels, covariates, dtype)
    return _remove_r(matrix, labels, covariates, dtype)


def _remove_r(matrix, labels, covariates, dtype) -> np.ndarray:
    robjects = r_objects()
    r_package_version("limma")  # raises with install instructions when limma is missing
    from rpy2.robjects import numpy2ri
    from rpy2.robjects.conversion import localconverter

    # float64 lets rpy2 copy the buffer in one move; the transpose of a C-ordered
    # samples x genes array is already R's column-major genes x samples layout.
    genes_by_samples = np.ascontiguousarray(matrix, dtype=np.float64).T
    remove = robjects.r(_REMOVE_BATCH_EFFECT)
    with localconverter(robjects.default_converter + numpy2ri.converter):
        corrected = remove(
            genes_by_samples,
            robjects.NULL if labels is None else robjects.StrVector(labels.tolist()),
            robjects.NULL if covariates is None else covariates,
        )
        corrected = np.asarray(corrected)
    return corrected.T.astype(dtype)


def sum_contrasts(labels) -> np.ndarray:
    """R's ``contr.sum`` coding of a factor, one row per sample: levels 1..k-1 get
    their own column, the last level -1 in every column."""
    levels, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    coding = np.vstack([np.eye(len(levels) - 1), -np.ones((1, len(levels) - 1))])
    return coding[codes]


def _estimable(design: np.ndarray) -> np.ndarray:
    """Indices of the columns lm.fit would estimate: a column is dropped when it is
    (numerically) a combination of the columns kept before it; limma then sets the
    coefficient of a dropped column to 0."""
    kept: list[int] = []
    for j in range(design.shape[1]):
        column = design[:, j]
        norm = np.linalg.norm(column)
        if kept:
            basis, _ = np.linalg.qr(design[:, kept])
            column = column - basis @ (basis.T @ column)
        if norm > 0 and np.linalg.norm(column) > _RANK_TOLERANCE * norm:
            kept.append(j)
    return np.asarray(kept, dtype=int)


def _remove_native(matrix, labels, covariates, dtype) -> np.ndarray:
    n_samples, n_genes = matrix.shape
    removed = [sum_contrasts(labels)] if labels is not None else []
    removed += [covariates] if covariates is not None else []
    removed = np.hstack(removed)
    design = np.hstack([np.ones((n_samples, 1)), removed])
    kept = _estimable(design)
    basis, triangle = np.linalg.qr(design[:, kept])
    rows_per_block = min(n_samples, max(1, _BLOCK_ELEMENTS // max(n_genes, 1)))
    blocks = [slice(start, min(start + rows_per_block, n_samples)) for start in range(0, n_samples, rows_per_block)]
    # Reused buffers: a fresh array per block would cost a page fault per page each time.
    block_buffer = np.empty((rows_per_block, n_genes))
    product_buffer = np.empty((max(rows_per_block, len(kept)), n_genes))
    basis_t = np.ascontiguousarray(basis.T)

    projected = np.zeros((len(kept), n_genes))
    for rows in blocks:
        block = block_buffer[: rows.stop - rows.start]
        np.copyto(block, matrix[rows])
        projected += np.matmul(basis_t[:, rows], block, out=product_buffer[: len(kept)])
    if not np.isfinite(projected).all():  # every sample has weight in the intercept's column of Q
        raise ValueError("expression has missing or infinite values; the native backend needs finite "
                         "values (set signal_removal_backend: r, whose lmFit fits each gene on its own)")
    coefficients = np.zeros((design.shape[1], n_genes))
    coefficients[kept] = np.linalg.solve(triangle, projected)
    removed_coefficients = coefficients[1:]  # the intercept stays

    corrected = np.empty((n_samples, n_genes), dtype=dtype)
    for rows in blocks:
        block = block_buffer[: rows.stop - rows.start]
        np.copyto(block, matrix[rows])
        product = product_buffer[: rows.stop - rows.start]
        # One column at a time: a matmul with an inner dimension of 1 or 2 is several times slower.
        for column, gene_coefficients in zip(removed[rows].T, removed_coefficients, strict=False):
            block -= np.multiply(column[:, None], gene_coefficients, out=product)
        corrected[rows] = block
    return corrected
