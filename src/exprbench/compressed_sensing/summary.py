"""Collect the per-job metrics into one table: one row per (experiment, method, d, seed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import run_summary
from ..atomic import write_table
from ..results import collect, ok_only
from .metrics import LEADING_METRICS

KEY = ["experiment", "method", "measurements", "seed"]


def write_summary(metric_files: list[Path], out: Path) -> pd.DataFrame:
    table = collect(metric_files, KEY).sort_values(KEY, kind="stable").reset_index(drop=True)
    write_table(out, table)
    return table


def leading_metrics_text(table: pd.DataFrame) -> str:
    """Mean over seeds of the leading metrics, one block per experiment and metric
    (methods x measurements); NaN (e.g. the mean profile's) prints as 'undefined'."""
    blocks = []
    for experiment, rows in ok_only(table).groupby("experiment", sort=False):
        for metric in LEADING_METRICS:
            pivot = rows.pivot_table(index="method", columns="measurements", values=metric, aggfunc="mean",
                                     dropna=False)
            blocks.append(f"{experiment}: {metric} (mean over seeds)\n"
                          + pivot.round(3).to_string(na_rep="undefined"))
    return "\n\n".join(blocks)


def best_models(summary: pd.DataFrame) -> list[dict]:
    """Its best model or method per task or experiment, for the table a run ends with."""
    rows = []
    for experiment, table in summary.groupby("experiment", sort=False):
        most = table["measurements"].max()
        ranked = run_summary.ranked(table[table["measurements"] == most], ["method"], "gene_pearson")
        if len(ranked):
            rows.append(run_summary.entry("compressed_sensing", experiment, ranked,
                                          f"gene Pearson at {most} measurements"))
    return rows
