"""The inference results table: one row per (task, model, seed).

Rows come from the jobs' ``metrics.tsv``; ``run_dir`` points at each job's folder,
where ``per_gene.npz`` keeps the per-gene MAE and CCC vectors and
``attribution.npz`` the landmark relevance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import run_summary
from ..atomic import write_table
from ..results import collect

KEY = ["task", "model", "seed"]


def write_summary(metrics_files, out_path) -> pd.DataFrame:
    table = collect(metrics_files, KEY, folder_column="run_dir")
    table = table.sort_values(KEY, kind="stable").reset_index(drop=True)
    write_table(out_path, table)
    return table


def per_gene(run_dir) -> dict[str, np.ndarray]:
    """A job's per-gene vectors: target_genes, mae, ccc."""
    with np.load(Path(run_dir) / "per_gene.npz") as data:
        return {k: data[k] for k in data.files}


def attribution(run_dir) -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / "attribution.npz") as data:
        return {k: data[k] for k in data.files}


def best_models(summary: pd.DataFrame) -> list[dict]:
    """Its best model or method per task or experiment, for the table a run ends with."""
    rows = []
    for task, table in run_summary.ok_rows(summary).groupby("task", sort=False):
        ranked = run_summary.ranked(table, ["model"], "mae", lower_is_better=True)
        if len(ranked):
            rows.append(run_summary.entry("inference", task, ranked, "MAE"))
    return rows
