"""Time against matrix size for each biclustering method, one fit at its default
settings (the convex methods' γ search and SpaCoBi's stability tuning included).

Planted checkerboards (3 x 3 biclusters, noise 1, a fifth of the columns pure-noise
features), one thread as a pipeline job runs by default. The last columns give
each method's time as a multiple of the fastest baseline (k-means and the two
spectral methods) at that size, and the accuracy it reached.

    .venv/bin/python benchmarks/biclustering_scale.py [--sizes 100x50 300x150 1000x500] [--methods ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

BASELINES = ("kmeans_rows_cols", "spectral_coclustering", "spectral_biclustering")


def main() -> None:
    import torch

    from exprbench.biclustering.methods import METHODS
    from exprbench.biclustering.metrics import planted_metrics
    from exprbench.biclustering.planted import planted_checkerboard

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["100x50", "300x150", "1000x500"])
    parser.add_argument("--methods", nargs="+", default=METHODS.names())
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'size':>10} {'method':>22} {'seconds':>8} {'x fastest baseline':>19} {'consensus':>9} "
          f"{'row ARI':>7} {'noise F1':>8}", flush=True)
    for size in args.sizes:
        n_rows, n_columns = map(int, size.lower().split("x"))
        noise_features = n_columns // 5  # of the n_columns: the matrix is n_rows x n_columns
        data = planted_checkerboard(n_rows, n_columns - noise_features, 3, 3, noise_features, noise=args.noise,
                                    seed=0)
        times, lines = {}, []
        for method in args.methods:
            params = {"device": args.device} if "device" in METHODS.get(method)().get_params() else {}
            model = METHODS.get(method)(n_row_clusters=3, n_column_clusters=3, **params)
            started = time.perf_counter()
            model.fit(data.X)
            times[method] = time.perf_counter() - started
            scores = planted_metrics(data.row_labels, data.column_labels, model.row_labels_, model.column_labels_)
            lines.append((method, scores))
        fastest = min((times[m] for m in times if m in BASELINES), default=np.nan)
        shape = f"{n_rows}x{n_columns}"
        for method, scores in lines:
            print(f"{shape:>10} {method:>22} {times[method]:8.2f} {times[method] / fastest:19.1f} "
                  f"{scores['consensus']:9.3f} {scores['row_ari']:7.3f} {scores['noise_f1']:8.3f}", flush=True)


if __name__ == "__main__":
    main()
