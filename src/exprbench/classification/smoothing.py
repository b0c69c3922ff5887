"""Loess-style smoothing with a pointwise 95% confidence band, in numpy only.

Each grid point gets a local linear fit to the nearest ``span`` fraction of the
data, weighted by a tricube kernel, as R's ``loess(degree = 1,
surface = "direct")`` does. The fit is a linear smoother (fitted value =
weights @ y), so its standard error is ``sigma * ||weights||`` with sigma
estimated from the residuals at the data, using the smoother's equivalent
residual degrees of freedom.

When x takes few distinct values (training sizes repeated over seeds and
folds), the tricube kernel gives a whole tied block at the neighbourhood edge
zero weight, and where two blocks swap places the curve jumps. The Gaussian
kernel, scaled to the tricube's variance, never drops a block and stays smooth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_SPAN = 0.75
DEFAULT_GRID_SIZE = 80
NORMAL_95 = 1.959963984540054
KERNELS = ("tricube", "gaussian")

# Cells of the (evaluation points x data) weight matrix built at once, to bound memory.
_CHUNK_CELLS = 2_000_000
# Below this relative spread of x in a neighbourhood a slope cannot be fitted.
_SINGULAR_TOLERANCE = 1e-10
# Standard deviation of the tricube kernel on [-1, 1]: sqrt((1/12) / (81/140)).
_TRICUBE_SD = 0.37960525


@dataclass(frozen=True)
class SmoothFit:
    """A smoothed curve evaluated on ``x``, with its confidence band."""

    x: np.ndarray
    fit: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    se: np.ndarray
    sigma: float

    def __len__(self) -> int:
        return len(self.x)


def loess(
    x,
    y,
    *,
    span: float = DEFAULT_SPAN,
    grid=None,
    grid_size: int = DEFAULT_GRID_SIZE,
    kernel: str = "tricube",
    z: float = NORMAL_95,
) -> SmoothFit:
    """Local linear smooth of ``y`` on ``x`` with a ``±z·se`` band.

    Non-finite pairs are dropped. With three points or fewer, or a single
    distinct x, there is nothing to smooth: the result is the mean of y at each
    distinct x with a zero-width band.
    """
    if span <= 0:
        raise ValueError(f"span must be positive, got {span}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    x_data, y_data = _finite_pairs(x, y)
    distinct_x = np.unique(x_data)
    if len(x_data) <= 3 or len(distinct_x) < 2:
        return _means_at_distinct_x(x_data, y_data, distinct_x)

    neighbours = _neighbourhood_size(len(x_data), span)
    grid_x = _evaluation_grid(x_data, grid, grid_size)

    local = _LocalFit(neighbours, span, kernel)
    grid_weights_sq, grid_fit = _smooth(x_data, y_data, grid_x, local)
    sigma = _residual_sigma(x_data, y_data, local)
    se = sigma * np.sqrt(grid_weights_sq)
    return SmoothFit(grid_x, grid_fit, grid_fit - z * se, grid_fit + z * se, se, sigma)


def _finite_pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _means_at_distinct_x(x: np.ndarray, y: np.ndarray, distinct_x: np.ndarray) -> SmoothFit:
    positions = np.searchsorted(distinct_x, x)
    sums = np.bincount(positions, weights=y, minlength=len(distinct_x))
    counts = np.bincount(positions, minlength=len(distinct_x))
    means = sums / np.maximum(counts, 1)
    zeros = np.zeros_like(means)
    return SmoothFit(distinct_x, means, means.copy(), means.copy(), zeros, 0.0)


def _neighbourhood_size(n_points: int, span: float) -> int:
    # A local line needs at least three points so that one carries zero weight
    # at the neighbourhood edge and two still define the slope.
    return int(min(n_points, max(3, math.ceil(span * n_points))))


def _evaluation_grid(x: np.ndarray, grid, grid_size: int) -> np.ndarray:
    if grid is not None:
        return np.asarray(grid, dtype=float).ravel()
    if grid_size < 2:
        raise ValueError(f"grid_size must be at least 2, got {grid_size}")
    return np.linspace(x.min(), x.max(), grid_size)


@dataclass(frozen=True)
class _LocalFit:
    neighbours: int
    span: float
    kernel: str


def _kernel_weights(scaled_distances: np.ndarray, kernel: str) -> np.ndarray:
    if kernel == "gaussian":
        return np.exp(-0.5 * (scaled_distances / _TRICUBE_SD) ** 2)
    return (1.0 - np.minimum(scaled_distances, 1.0) ** 3) ** 3


def _smoother_weights(x: np.ndarray, at: np.ndarray, local: _LocalFit) -> np.ndarray:
    """Rows of the smoother matrix: fitted value at ``at[i]`` = row i @ y."""
    offsets = x[np.newaxis, :] - at[:, np.newaxis]
    distances = np.abs(offsets)
    bandwidth = np.partition(distances, local.neighbours - 1, axis=1)[:, local.neighbours - 1]
    if local.span > 1:
        # R widens the neighbourhood beyond the data in the same way.
        bandwidth = distances.max(axis=1) * local.span
    # A zero bandwidth means at least `neighbours` ties at this point: the
    # tiny floor keeps those tied points at full weight and all others at zero.
    bandwidth = np.maximum(bandwidth, np.finfo(float).tiny)
    kernel = _kernel_weights(distances / bandwidth[:, np.newaxis], local.kernel)

    s0 = kernel.sum(axis=1)
    s1 = (kernel * offsets).sum(axis=1)
    s2 = (kernel * offsets**2).sum(axis=1)
    determinant = s0 * s2 - s1**2
    can_fit_slope = determinant > _SINGULAR_TOLERANCE * s0 * s2

    # Closed form of the weighted least-squares intercept at offset zero.
    safe_determinant = np.where(can_fit_slope, determinant, 1.0)
    linear = kernel * (s2[:, None] - offsets * s1[:, None]) / safe_determinant[:, None]
    # Where every weighted point shares one x, the local fit is their mean.
    constant = kernel / s0[:, None]
    return np.where(can_fit_slope[:, None], linear, constant)


def _row_chunks(n_rows: int, n_columns: int):
    step = max(1, _CHUNK_CELLS // max(n_columns, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _smooth(x, y, at, local: _LocalFit) -> tuple[np.ndarray, np.ndarray]:
    """Fitted values at ``at`` and the squared norms of their weight rows."""
    fitted = np.empty(len(at))
    weights_sq = np.empty(len(at))
    for rows in _row_chunks(len(at), len(x)):
        weights = _smoother_weights(x, at[rows], local)
        fitted[rows] = weights @ y
        weights_sq[rows] = np.einsum("ij,ij->i", weights, weights)
    return weights_sq, fitted


def _residual_sigma(x, y, local: _LocalFit) -> float:
    """Residual standard deviation with loess's equivalent degrees of freedom.

    ``n - 2·trace(L) + trace(LᵀL)`` is ``trace((I - L)ᵀ(I - L))`` for the
    smoother matrix ``L`` at the data, built a block of rows at a time.
    """
    residual_ss = 0.0
    trace = 0.0
    frobenius_sq = 0.0
    for rows in _row_chunks(len(x), len(x)):
        weights = _smoother_weights(x, x[rows], local)
        residual_ss += float(np.sum((y[rows] - weights @ y) ** 2))
        trace += float(np.sum(weights[np.arange(weights.shape[0]), np.arange(rows.start, rows.stop)]))
        frobenius_sq += float(np.sum(weights**2))
    residual_df = len(x) - 2.0 * trace + frobenius_sq
    if residual_df <= 0 or not np.isfinite(residual_ss):
        # An interpolating smooth leaves no residual to estimate noise from.
        return 0.0
    return math.sqrt(residual_ss / residual_df)
