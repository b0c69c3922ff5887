"""Quantile normalisation as D-GEX (Chen et al. 2016) applied it.

Matrices are samples x genes, as in the store: every *row* (one sample's profile
over the genes) is normalised. D-GEX kept genes x samples and normalised columns;
the arithmetic is the same.

* :func:`quantile_normalise` is ``bgedv2_reqnorm.py``: the reference is the mean,
  over samples, of each sample's sorted profile; a value of average rank ``r``
  (1-based, ties averaged as ``scipy.stats.rankdata`` does) becomes
  ``reference[floor(r - 1)]``.
* :func:`map_to_reference_quantiles` is ``GTEx_reqnorm.py`` / ``1000G_reqnorm.py``:
  RNA-seq profiles mapped onto those GEO quantiles through the rank among *distinct*
  values, so ties and zeros (common in RPKM) land on one quantile.

For data too large for memory, :class:`QuantileAccumulator` builds the reference
block by block and :func:`normalise_to_reference` applies it block by block;
together they give exactly :func:`quantile_normalise`.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _as_profiles(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a samples x genes matrix, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("quantile normalisation needs finite values; the matrix has NaN or infinite entries")
    return X


class QuantileAccumulator:
    """Mean of sorted profiles, accumulated over blocks of samples."""

    def __init__(self, n_genes: int):
        self.n_genes = n_genes
        self._sum = np.zeros(n_genes, dtype=np.float64)
        self.n_samples = 0

    def add(self, block) -> None:
        block = _as_profiles(block)
        if block.shape[1] != self.n_genes:
            raise ValueError(f"block has {block.shape[1]} genes, expected {self.n_genes}")
        self._sum += np.sort(block, axis=1).sum(axis=0)
        self.n_samples += block.shape[0]

    def reference(self) -> np.ndarray:
        if self.n_samples == 0:
            raise ValueError("no samples were added; the reference quantiles are undefined")
        return self._sum / self.n_samples


def reference_quantiles(X) -> np.ndarray:
    """The mean over samples (rows) of each sample's values sorted ascending."""
    X = _as_profiles(X)
    accumulator = QuantileAccumulator(X.shape[1])
    accumulator.add(X)
    return accumulator.reference()


def normalise_to_reference(X, reference) -> np.ndarray:
    """Replace each value by ``reference[floor(average_rank - 1)]`` within its row.

    ``reference`` must have one entry per gene (column) of ``X``.
    """
    X = _as_profiles(X)
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (X.shape[1],):
        raise ValueError(f"reference has {reference.shape} entries for {X.shape[1]} genes")
    # Average ranks minus one, truncated: ties share the lower of their quantiles' midpoint.
    positions = (rankdata(X, axis=1, method="average") - 1).astype(np.int64)
    return reference[positions]


def quantile_normalise(X) -> np.ndarray:
    """Quantile-normalise the rows of ``X`` (samples x genes) onto their mean quantiles."""
    X = _as_profiles(X)
    return normalise_to_reference(X, reference_quantiles(X))


def map_to_reference_quantiles(X, reference_quantiles) -> np.ndarray:
    """Map each row of ``X`` onto fixed reference quantiles (D-GEX's cross-platform step).

    Per row: the distinct values are ranked ``0 .. u-1``; a value of distinct rank
    ``k`` takes ``reference[int((k + 1) / u * n) - 1]`` with ``n = len(reference)``.
    The largest value therefore always maps to the largest quantile, and ties share
    one quantile. ``X`` may have any number of genes; D-GEX used the same genes as
    the reference.
    """
    X = _as_profiles(X)
    reference = np.asarray(reference_quantiles, dtype=np.float64)
    if reference.ndim != 1 or reference.size == 0:
        raise ValueError("reference quantiles must be a non-empty 1-D array")
    n = reference.size
    out = np.empty_like(X)
    for i, row in enumerate(X):
        distinct, distinct_rank = np.unique(row, return_inverse=True)
        # Same float operations as D-GEX, so the truncation lands on the same index.
        position = (distinct_rank + 1.0) / distinct.size
        index = (position * n).astype(np.int64) - 1
        # Only reachable when a row has more distinct values than the reference has
        # entries; index -1 would otherwise wrap round to the largest quantile.
        out[i] = reference[np.maximum(index, 0)]
    return out
