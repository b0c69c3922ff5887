"""Sparse Module Activity Factorization (SMAF, Cleary et al. 2017), mode 1.

Port of ``union_of_transforms.smaf`` without SPAMS, in samples x genes orientation
(X ~ W U^T, U genes x modules non-negative, W samples x modules signed):

1. U-step, per gene g: min ||u_g||_1 s.t. ||x_g - W u_g||^2 <= tol * ||x_g||^2, u_g >= 0:
   each gene keeps a fraction 1 - tol of its own energy, whatever the number of samples.
   (The reference bounds every gene by tol * ||X||_F^2 / n_samples, which relative to a
   gene's energy is about tol * n_genes / n_samples: the bound loosens with more genes
   and tightens with more samples, so modules grow dense as training data grow.)
   Solved on the positive LARS-lasso path
   (``lars_path_gram(positive=True)``, the Gram form of ``lars_path``): the smallest-L1 point whose
   residual meets the bound, interpolated between breakpoints.
2. Columns of U scaled to unit L2 norm (empty columns stay zero).
3. W-step: OMP, lowering the number of atoms while the global fit stays >= 1 - tol.
4. If the mean effective module size (exp entropy) is below ``module_lower`` or the
   mean effective activity size below ``activity_lower``, tol is halved for each.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.stats import entropy
from sklearn.linear_model import lars_path_gram

from ..decode import decode_sparsest, fit_fraction


def min_l1_nonnegative(gram: np.ndarray, xy: np.ndarray, x_sq: float, bound: float, n_samples: int) -> np.ndarray:
    """argmin ||u||_1 s.t. ||x - W u||^2 <= bound, u >= 0, given W^T W, W^T x and ||x||^2."""
    n_atoms = gram.shape[0]
    if x_sq <= bound:
        return np.zeros(n_atoms)
    # lars_path_gram is lars_path(positive=True) fed W^T W and W^T x: one Gram for all genes.
    _, _, coefs = lars_path_gram(Xy=xy, Gram=gram, n_samples=n_samples, method="lasso", positive=True,
                                 max_iter=4 * n_atoms)
    # Residual along the path from the Gram form: ||x||^2 - 2 c.Xy + c^T G c.
    residuals = x_sq - 2 * (xy @ coefs) + np.einsum("ij,ij->j", coefs, gram @ coefs)
    inside = np.flatnonzero(residuals <= bound)
    if inside.size == 0:
        return coefs[:, -1]  # the bound is not reachable: least-squares end of the path
    j = inside[0]
    if j == 0:
        return coefs[:, 0]
    start, step = coefs[:, j - 1], coefs[:, j] - coefs[:, j - 1]
    # residual(start + t step) = a t^2 + b t + residuals[j-1], convex and falling on [0, 1].
    a = step @ gram @ step
    b = 2 * (start @ gram @ step - xy @ step)
    c = residuals[j - 1] - bound
    if a > 1e-12:
        t = (-b - np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    else:
        t = -c / b if b < 0 else 1.0
    return start + float(np.clip(t, 0.0, 1.0)) * step


def _u_rows(gram, xy, x_sq, bounds, n_samples) -> np.ndarray:
    """One row per gene; ``xy`` is genes x modules (contiguous rows, so the serial and
    the process-split runs use the same kernels and agree to the last bit)."""
    return np.stack([min_l1_nonnegative(gram, xy[g], x_sq[g], bounds[g], n_samples) for g in range(xy.shape[0])])


def u_step(X: np.ndarray, W: np.ndarray, tolerance: float, n_jobs: int = 1) -> np.ndarray:
    """Non-negative minimum-L1 dictionary rows for every gene (genes x modules), each
    gene's residual bounded by ``tolerance`` times its own energy.

    Genes are independent; the time is LARS's per-step Python work, so ``n_jobs`` > 1
    splits the genes over processes (results do not depend on it)."""
    gram = W.T @ W
    xy = np.ascontiguousarray(X.T @ W)  # genes x modules
    x_sq = np.sum(X * X, axis=0)
    bounds = tolerance * x_sq
    if n_jobs == 1 or X.shape[1] < 2 * n_jobs:
        return _u_rows(gram, xy, x_sq, bounds, X.shape[0])
    from joblib import Parallel, delayed

    blocks = np.array_split(np.arange(X.shape[1]), n_jobs)
    parts = Parallel(n_jobs=n_jobs)(delayed(_u_rows)(gram, xy[b], x_sq[b], bounds[b], X.shape[0])
                                    for b in blocks)
    return np.concatenate(parts)


def unit_columns(U: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(U, axis=0)
    return U / np.where(norms > 0, norms, np.inf)


def effective_sizes(U: np.ndarray, W: np.ndarray) -> tuple[float, float]:
    """Mean exp(entropy) of the non-empty modules (genes) and of the activities (modules)."""
    used = U[:, U.sum(axis=0) > 0]
    module_size = float(np.mean(np.exp(entropy(used, axis=0)))) if used.size else 0.0
    active = np.abs(W)[np.abs(W).sum(axis=1) > 0]
    activity_size = float(np.mean(np.exp(entropy(active, axis=1)))) if active.size else 0.0
    return module_size, activity_size


def smaf(X: np.ndarray, n_modules: int, initial_sparsity: int, tolerance: float, n_iter: int, min_sparsity: int,
         module_lower: float, activity_lower: float, rng: np.random.Generator, n_jobs: int = 1,
         verbose: bool = True):
    """Returns (U genes x modules, W samples x modules, history: one dict per iteration)."""
    W = rng.random((X.shape[0], n_modules))  # the reference's Uniform[0, 1) start; U starts from W
    history = []
    started = time.perf_counter()
    for iteration in range(1, n_iter + 1):
        t0 = time.perf_counter()
        U = unit_columns(u_step(X, W, tolerance, n_jobs))
        t1 = time.perf_counter()
        W, k = decode_sparsest(X, U, initial_sparsity, 1 - tolerance, min_sparsity)
        t2 = time.perf_counter()
        module_size, activity_size = effective_sizes(U, W)
        record = {"iteration": iteration, "tolerance": tolerance, "k": k, "fit": fit_fraction(X, W @ U.T),
                  "module_size": module_size, "activity_size": activity_size,
                  "u_step_seconds": t1 - t0, "w_step_seconds": t2 - t1}
        history.append(record)
        if verbose:
            print(f"smaf iteration {iteration}/{n_iter}: fit {record['fit']:.4f}, k {k}, module size "
                  f"{module_size:.1f}, tolerance {tolerance:.2e}, {time.perf_counter() - started:.1f}s",
                  file=sys.stderr)
        if module_size < module_lower:
            tolerance /= 2
        if activity_size < activity_lower:
            tolerance /= 2
    return U, W, history
