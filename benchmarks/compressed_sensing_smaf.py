"""SMAF speed at the reference's size: where one iteration's time goes.

Synthetic non-negative modular data (default 5,000 genes x 2,000 training samples,
150 modules, as Cleary et al.'s direct_vs_distributed.py). Times one full SMAF
iteration split into U-step (positive LARS per gene), W-step (adaptive OMP) and
module statistics, and compares the U-step's Gram form (one W^T W shared by all
genes, ``lars_path_gram``) with the per-gene ``lars_path(W, x_g)`` baseline on a
subset of genes, both measured here. SMAF is scikit-learn on the CPU, so no CUDA.

    .venv/bin/python benchmarks/compressed_sensing_smaf.py [--genes 5000 --samples 2000 --modules 150]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import lars_path

from exprbench.compressed_sensing.decode import decode_sparsest
from exprbench.compressed_sensing.methods._smaf import effective_sizes, min_l1_nonnegative, u_step, unit_columns


def planted(n_genes: int, n_samples: int, n_modules: int, rng) -> np.ndarray:
    U = rng.random((n_genes, n_modules)) * (rng.random((n_genes, n_modules)) < 0.05)
    W = rng.random((n_samples, n_modules)) * (rng.random((n_samples, n_modules)) < 0.05)
    return W @ U.T + 0.05 * rng.random((n_samples, n_genes))


def naive_min_l1(W, x, bound):
    """Baseline: the same positive LASSO path from the raw design, one gene at a time."""
    _, _, coefs = lars_path(W, x, method="lasso", positive=True, max_iter=4 * W.shape[1])
    residuals = np.sum((x[:, None] - W @ coefs) ** 2, axis=0)
    inside = np.flatnonzero(residuals <= bound)
    return coefs[:, inside[0] if inside.size else -1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--modules", type=int, default=150)
    parser.add_argument("--baseline-genes", type=int, default=100, help="genes timed with the baseline")
    parser.add_argument("--tolerance", type=float, default=5e-3, help="per-gene relative U-step bound")
    parser.add_argument("--n-jobs", type=int, default=2, help="processes for the parallel U-step comparison")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = planted(args.genes, args.samples, args.modules, rng)
    W = rng.random((args.samples, args.modules))  # SMAF's Uniform[0, 1) start
    print(f"SMAF at {args.genes} genes x {args.samples} samples, {args.modules} modules (tolerance {args.tolerance})")

    # One full iteration, from the random start and then from a learned W (sparser paths).
    for label in ("first iteration (random W)", "second iteration (OMP W)"):
        t0 = time.perf_counter()
        U = unit_columns(u_step(X, W, args.tolerance))
        t1 = time.perf_counter()
        W, k = decode_sparsest(X, U, 5, 1 - args.tolerance, 3)
        t2 = time.perf_counter()
        effective_sizes(U, W)
        t3 = time.perf_counter()
        total = t3 - t0
        print(f"{label}: {total:.1f} s = U-step {t1 - t0:.1f} s ({100 * (t1 - t0) / total:.0f} %, "
              f"{1e3 * (t1 - t0) / args.genes:.2f} ms/gene), W-step {t2 - t1:.2f} s "
              f"({100 * (t2 - t1) / total:.0f} %, k={k}), module statistics {t3 - t2:.3f} s")

    genes = np.arange(min(args.baseline_genes, args.genes))
    gram, xy, x_sq = W.T @ W, W.T @ X[:, genes], np.sum(X[:, genes] ** 2, axis=0)
    t0 = time.perf_counter()
    bounds = args.tolerance * x_sq
    fast = [min_l1_nonnegative(gram, xy[:, i], x_sq[i], bounds[i], X.shape[0]) for i in range(genes.size)]
    t1 = time.perf_counter()
    slow = [naive_min_l1(W, X[:, g], bounds[i]) for i, g in enumerate(genes)]
    t2 = time.perf_counter()
    gram_ms, naive_ms = 1e3 * (t1 - t0) / genes.size, 1e3 * (t2 - t1) / genes.size
    support = np.mean([np.array_equal(a > 0, b > 0) for a, b in zip(fast, slow, strict=False)])
    print(f"U-step per gene on {genes.size} genes: Gram form {gram_ms:.2f} ms, per-gene lars_path baseline "
          f"{naive_ms:.2f} ms, ratio {naive_ms / gram_ms:.1f}x (same support for {100 * support:.0f} % of genes; "
          f"the baseline does not interpolate to the bound)")
    t0 = time.perf_counter()
    serial = u_step(X, W, args.tolerance, n_jobs=1)
    t1 = time.perf_counter()
    parallel = u_step(X, W, args.tolerance, n_jobs=args.n_jobs)
    t2 = time.perf_counter()
    assert np.array_equal(serial, parallel)
    print(f"whole U-step: 1 process {t1 - t0:.1f} s, {args.n_jobs} processes {t2 - t1:.1f} s, "
          f"speed-up {(t1 - t0) / (t2 - t1):.1f}x (identical result)")
    print(f"projected 10 SMAF iterations: about {10 * gram_ms * args.genes / 1e3 / 60:.1f} min of U-steps "
          f"(Gram form) vs {10 * naive_ms * args.genes / 1e3 / 60:.1f} min (baseline)")


if __name__ == "__main__":
    main()
