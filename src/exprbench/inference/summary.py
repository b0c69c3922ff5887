"""The inference results table: one row per (task, model, seed).

Rows come from the jobs' ``metrics.tsv``; ``run_dir`` points at each job's folder,
where ``per_gene.npz`` keeps the per-gene MAE and CCC vectors and
``attribution.npz`` the landmark relevance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_table

KEY = ["task", "model", "seed"]


def write_summary(metrics_files, out_path) -> pd.DataFrame:
    frames = []
    for path in metrics_files:
        frame = pd.read_csv(path, sep="\t")
        frame["run_dir"] = str(Path(path).parent)
        frames.append(frame)
    if not frames:
        raise ValueError("no inference metrics files to summarise")
    table = pd.concat(frames, ignore_index=True).sort_values(KEY, kind="stable").reset_index(drop=True)
    write_table(out_path, table)
    return table


def per_gene(run_dir) -> dict[str, np.ndarray]:
    """A job's per-gene vectors: target_genes, mae, ccc."""
    with np.load(Path(run_dir) / "per_gene.npz") as data:
        return {k: data[k] for k in data.files}


def attribution(run_dir) -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / "attribution.npz") as data:
        return {k: data[k] for k in data.files}
