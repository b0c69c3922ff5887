"""One job: (experiment, method, seed). Every cell of the experiment's grid (planted)
or the one store matrix is biclustered; each gives one row of metrics. The first
cell's matrix and labels are kept for the heat map."""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from ..seeding import derive_seed, make_rng
from .data import planted_cell, planted_grid, store_cell
from .metrics import label_metrics, partition_stability, planted_metrics

JOB_OWNED_PARAMS = ("n_row_clusters", "n_column_clusters", "random_state", "device")


def build_method(experiment: dict, method: str, seed: int, device: str = "cpu"):
    from .methods import METHODS

    cls = METHODS.get(method)
    params = dict(experiment["method_params"].get(method, {}))
    owned = {"n_row_clusters": experiment["n_row_clusters"], "n_column_clusters": experiment["n_column_clusters"],
             "random_state": derive_seed(seed, "method", method), "device": device}
    defaults = cls().get_params()
    params.update({k: v for k, v in owned.items() if k in defaults})
    return cls(**params)


def stability(experiment: dict, method: str, seed: int, device: str, X: np.ndarray) -> dict:
    """Agreement of fits on ``stability_subsamples`` seeded row subsamples."""
    count, fraction = experiment["stability_subsamples"], experiment["stability_fraction"]
    if count < 2:
        return {"row_stability": np.nan, "column_stability": np.nan}
    fits = []
    for b in range(count):
        rows = np.sort(make_rng(seed, "stability", b).choice(X.shape[0], max(2, int(round(fraction * X.shape[0]))),
                                                               replace=False))
        model = build_method(experiment, method, seed, device).fit(X[rows])
        fits.append((rows, model.row_labels_, model.column_labels_))
    return partition_stability(fits)


def fit_cell(experiment: dict, method: str, seed: int, device: str, X: np.ndarray) -> tuple[object, dict]:
    model = build_method(experiment, method, seed, device)
    started = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - started
    kept = model.column_labels_ >= 0
    return model, {
        "n_row_clusters_found": int(len(np.unique(model.row_labels_))),
        "n_column_clusters_found": int(len(np.unique(model.column_labels_[kept]))) if kept.any() else 0,
        "n_features_kept": int(kept.sum()),
        "fit_seconds": round(seconds, 4),
        "n_iter": getattr(model, "n_iter_", np.nan),
        "gamma": getattr(model, "gamma_", np.nan),
        "sparsity": getattr(model, "sparsity_", np.nan),
    }


def run_job(dataset_file, experiment: dict, method: str, seed: int,
            device: str = "cpu") -> tuple[pd.DataFrame, dict, dict]:
    """Returns (metrics rows, record, heat-map arrays of the first cell)."""
    keys = {"experiment": experiment["name"], "method": method, "seed": seed}
    if experiment["planted"] is not None:
        cells = [(cell, planted_cell(experiment, cell, derive_seed(seed, "planted", *cell.values())))
                 for cell in planted_grid(experiment)]
    else:
        cells = [({}, store_cell(dataset_file, experiment, seed))]
    rows, heatmap, record = [], {}, {"experiment": experiment["name"], "method": method, "seed": seed, "fits": []}
    for cell, data in cells:
        model, row = fit_cell(experiment, method, seed, device, data.X)
        if data.row_truth is not None:
            metrics = planted_metrics(data.row_truth, data.column_truth, model.row_labels_, model.column_labels_)
        else:
            metrics = label_metrics(data.samples, experiment["labels"], model.row_labels_)
        metrics.update(stability(experiment, method, seed, device, data.X))
        rows.append({**keys, "dataset": experiment["dataset"] or "planted",
                     "n_rows": data.X.shape[0], "n_columns": data.X.shape[1],
                     "noise": cell.get("noise", np.nan), "noise_features": cell.get("noise_features", np.nan),
                     **metrics, **row, "status": "ok", "error": ""})
        record["fits"].append({**cell, "params": model.get_params(), **row,
                               "stability_path": {str(k): v for k, v in getattr(model, "stability_path_", {}).items()}})
        if not heatmap:
            heatmap = {"X": data.X, "row_labels": model.row_labels_, "column_labels": model.column_labels_}
        print(f"{experiment['name']} {method} seed {seed} {cell or experiment['dataset']}: "
              + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
              + f", {row['fit_seconds']:.1f}s", file=sys.stderr)
    return pd.DataFrame(rows), record, heatmap
