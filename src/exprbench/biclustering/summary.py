"""Collect the job tables into one: one row per (experiment, method, seed, grid cell)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import run_summary
from ..atomic import write_table
from ..results import collect, ok_only

JOB_KEY = ["experiment", "method", "seed"]
CELL = ["n_rows", "n_columns", "noise", "noise_features"]


def write_summary(metric_files: list[Path], out: Path) -> pd.DataFrame:
    # A grid cell is part of the key; a failed job's row has only the job's keys,
    # so the cell columns join the key when some job wrote them.
    headers = set().union(*(pd.read_csv(path, sep="\t", nrows=0).columns for path in metric_files))
    key = JOB_KEY + [c for c in CELL if c in headers]
    table = collect(metric_files, key).sort_values(key, kind="stable").reset_index(drop=True)
    write_table(out, table)
    return table


def leading_metric(rows: pd.DataFrame) -> str:
    return "consensus" if "consensus" in rows and rows["consensus"].notna().any() else next(
        (c for c in rows.columns if c.startswith("ari_") and rows[c].notna().any()), "row_ari")


def leading_metrics_text(table: pd.DataFrame) -> str:
    blocks = []
    for experiment, rows in ok_only(table).groupby("experiment", sort=False):
        metric = leading_metric(rows)
        means = rows.groupby("method")[[metric, "fit_seconds"]].mean().round(3)
        blocks.append(f"{experiment}: {metric} and fit seconds (mean over seeds and cells)\n{means.to_string()}")
    return "\n\n".join(blocks)


def best_models(summary: pd.DataFrame) -> list[dict]:
    """The best method per experiment by its leading metric, for the table a run ends with."""
    rows = []
    for experiment, table in summary.groupby("experiment", sort=False):
        metric = leading_metric(table)
        ranked = run_summary.ranked(table, ["method"], metric)
        if len(ranked):
            rows.append(run_summary.entry("biclustering", experiment, ranked, f"mean {metric}"))
    return rows
