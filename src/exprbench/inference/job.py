"""One inference job: a (task, model, seed) from data to scores.

Chooses the genes, splits the samples, fits the per-dataset z-scores, fits the
model (every combination of its ``grid``, keeping the one with the lowest
validation MAE; the neural models also keep their best epoch by validation MAE),
predicts the test set block by block and scores it. Writes, in ``out_dir``:

* ``split.tsv``: the sample membership (dataset, sample_id, row, split);
* ``per_gene.npz``: target gene ids with their test MAE and CCC;
* ``attribution.npz``: landmark relevance to target clusters (neural models;
  empty arrays otherwise);
* ``metrics.tsv``: one row, written last as the job's completion marker.
"""

from __future__ import annotations

import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path, write_table
from ..seeding import derive_seed
from .batches import StoreBatches
from .data import choose_genes, fit_scalings, gene_columns, membership, split_parts
from .metrics import ScoreAccumulator
from .models import INFERENCE_MODELS


def grid_points(grid: dict) -> list[dict]:
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=False)) for values in itertools.product(*(grid[k] for k in keys))] or [{}]


def peak_memory_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class InferenceJob:
    def __init__(self, task: dict, model: dict, seed: int, paths: dict[str, str], device: str = "auto",
                 max_in_memory_mb: float = 1024, chunk_rows: int = 4096, attribution: dict | None = None):
        self.task, self.model, self.seed = task, model, int(seed)
        self.paths = {k: str(v) for k, v in paths.items()}
        missing = [d for d in task["datasets"] if d not in self.paths]
        if missing:
            raise ValueError(f"inference job {task['name']}: no store path given for datasets {missing}")
        self.device = device
        self.max_in_memory_mb, self.chunk_rows = max_in_memory_mb, chunk_rows
        self.attribution = {"target_clusters": 20, "landmark_groups": 10, "samples": 256, **(attribution or {})}

    def _log(self, message: str) -> None:
        print(f"[{self.task['name']}/{self.model['name']}/seed{self.seed}] {message}", file=sys.stderr)

    def sources(self):
        task = self.task
        parts = split_parts(task, self.paths)
        genes = choose_genes(self.paths[task["dataset"]], task["landmarks"], task["targets"], task["name"],
                             train_rows=parts["train"].rows)
        wanted = genes.landmark_ids + genes.target_ids
        columns = {d: gene_columns(self.paths[d], wanted) for d in {p.dataset for p in parts.values()}}
        scalings = fit_scalings(parts, columns, task["zscore_fit_on"])
        n_land = len(genes.landmark_ids)
        sources = {}
        for role, part in parts.items():
            cols, scale = columns[part.dataset], scalings[part.dataset]
            sources[role] = StoreBatches(part.path, part.rows, cols[:n_land], cols[n_land:], scale.mean, scale.std,
                                         seed=derive_seed(self.seed, "inference-batches", role),
                                         chunk_rows=self.chunk_rows, max_in_memory_mb=self.max_in_memory_mb)
        return genes, parts, sources

    def _estimator(self, point: dict):
        cls = INFERENCE_MODELS.get(self.model["estimator"])
        params = {**self.model["params"], **point}
        known = cls().get_params()
        params["random_state"] = self.seed
        if "device" in known:
            params["device"] = self.device
        if "verbose" in known:
            params["verbose"] = True
        return cls(**params)

    def fit(self, sources):
        best = None
        for point in grid_points(self.model["grid"]):
            estimator = self._estimator(point).fit(sources["train"], validation=sources["validation"])
            val = score(estimator, sources["validation"])
            self._log(f"{point or 'fixed params'}: validation MAE {val.mae():.4f}")
            if best is None or val.mae() < best[2].mae():
                best = (estimator, point, val)
        return best

    def run(self, out_dir) -> pd.DataFrame:
        out_dir = Path(out_dir)
        started = time.perf_counter()
        genes, parts, sources = self.sources()
        self._log(f"{len(genes.landmark_ids)} landmarks -> {len(genes.target_ids)} targets; "
                  + ", ".join(f"{r} {p.dataset} {len(p.rows)}" for r, p in parts.items())
                  + f"; streaming: {not sources['train'].in_memory}")
        fit_started = time.perf_counter()
        estimator, point, val = self.fit(sources)
        fit_seconds = time.perf_counter() - fit_started
        test = score(estimator, sources["test"])
        write_table(out_dir / "split.tsv", membership(parts))
        with atomic_path(out_dir / "per_gene.npz") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, target_genes=np.array(genes.target_ids), mae=test.mae_per_gene(),
                     ccc=test.ccc_per_gene())
        self._write_attribution(out_dir / "attribution.npz", estimator, sources, genes)
        row = {
            "task": self.task["name"], "dataset": self.task["dataset"], "test_dataset": parts["test"].dataset,
            "model": self.model["name"], "estimator": self.model["estimator"], "seed": self.seed,
            "n_train": len(parts["train"].rows), "n_validation": len(parts["validation"].rows),
            "n_test": len(parts["test"].rows), "n_landmarks": len(genes.landmark_ids),
            "n_targets": len(genes.target_ids), "mae": test.mae(), "ccc": test.ccc(),
            "val_mae": val.mae(), "val_ccc": val.ccc(), "chosen_params": json.dumps(point, sort_keys=True),
            "best_epoch": best_epoch(estimator),
            "n_parameters": parameter_count(estimator), "fit_seconds": round(fit_seconds, 3),
            "job_seconds": round(time.perf_counter() - started, 3), "peak_memory_mb": round(peak_memory_mb(), 1),
            "status": "ok",
        }
        table = pd.DataFrame([row])
        write_table(out_dir / "metrics.tsv", table)
        self._log(f"test MAE {row['mae']:.4f}, CCC {row['ccc']:.4f} ({row['job_seconds']:.1f} s)")
        return table

    def _write_attribution(self, path, estimator, sources, genes) -> None:
        arrays = {"relevance": np.zeros((0, 0)), "target_cluster": np.zeros(0, int),
                  "landmark_group": np.zeros(0, int), "landmark_genes": np.array(genes.landmark_ids)}
        if hasattr(estimator, "predictor"):
            from .attribution import gene_clusters, gradient_times_input

            settings = self.attribution
            X_train, Y_train = sources["train"].subset(2000, "attribution")
            X_test, _ = sources["test"].subset(int(settings["samples"]), "attribution")
            clusters = gene_clusters(Y_train, settings["target_clusters"], self.seed)
            arrays.update(relevance=gradient_times_input(estimator.predictor(), X_test, clusters),
                          target_cluster=clusters,
                          landmark_group=gene_clusters(X_train, settings["landmark_groups"], self.seed))
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def score(estimator, source) -> ScoreAccumulator:
    """MAE and CCC sums of ``estimator`` over a batch source, predicted block by block."""
    accumulator = ScoreAccumulator(source.n_outputs)
    for X, Y in source.in_order(4096):
        accumulator.add(Y, estimator.predict(X))
    return accumulator


def best_epoch(estimator):
    """The kept epoch; ``a/b`` when independent halves chose their own (D-GEX)."""
    epochs = getattr(estimator, "best_epochs_", None)
    if epochs is not None and len(epochs) > 1:
        return "/".join(str(e) for e in epochs)
    return getattr(estimator, "best_epoch_", np.nan)


def parameter_count(estimator) -> int:
    if hasattr(estimator, "predictor"):
        return int(sum(p.numel() for p in estimator.predictor().parameters()))
    if hasattr(estimator, "coef_"):
        return int(estimator.coef_.size + estimator.intercept_.size)
    return 0
