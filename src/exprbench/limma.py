"""Batch-effect removal with limma's ``removeBatchEffect``, called through rpy2.

The call uses limma's default design (an intercept only) and sum-to-zero batch
contrasts, so each batch's per-gene mean is moved to the unweighted average of
the batch means; differences between samples within a batch are kept.

Matrices cross to R as whole numeric vectors (numpy2ri inside a local converter,
so rpy2's global conversion rules stay untouched for the rest of the process).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rdata import RUnavailableError, r_objects, r_package_version

_REMOVE_BATCH_EFFECT = "function(x, batch) limma::removeBatchEffect(x, batch = factor(batch))"


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


def remove_batch_effect(expression, batch) -> np.ndarray:
    """Remove per-batch mean shifts from a samples x genes matrix with limma.

    ``batch`` holds one label per sample (any type; compared as strings). Returns a
    new float32 samples x genes matrix. With a single batch there is nothing to
    remove and a float32 copy of the input is returned without calling R.
    """
    matrix = np.asarray(expression)
    if matrix.ndim != 2:
        raise ValueError(f"expression must be a samples x genes matrix, got {matrix.ndim} dimension(s)")
    if not np.issubdtype(matrix.dtype, np.number):
        raise ValueError(f"expression must be numeric, got dtype {matrix.dtype}")
    n_samples = matrix.shape[0]
    if n_samples < 2:
        raise ValueError(f"need at least 2 samples to remove a batch effect, got {n_samples}")
    labels = _batch_labels(batch, n_samples)
    if len(np.unique(labels)) < 2:
        return np.array(matrix, dtype=np.float32)

    robjects = r_objects()
    r_package_version("limma")  # raises with install instructions when limma is missing
    from rpy2.robjects import numpy2ri
    from rpy2.robjects.conversion import localconverter

    # float64 lets rpy2 copy the buffer in one move; the transpose of a C-ordered
    # samples x genes array is already R's column-major genes x samples layout.
    genes_by_samples = np.ascontiguousarray(matrix, dtype=np.float64).T
    remove = robjects.r(_REMOVE_BATCH_EFFECT)
    with localconverter(robjects.default_converter + numpy2ri.converter):
        corrected = remove(genes_by_samples, robjects.StrVector(labels.tolist()))
        corrected = np.asarray(corrected)
    return corrected.T.astype(np.float32)
