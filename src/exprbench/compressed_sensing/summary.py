"""Collect the per-job metrics into one table: one row per (experiment, method, d, seed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..atomic import write_table
from .metrics import LEADING_METRICS

KEY = ["experiment", "method", "measurements", "seed"]


def write_summary(metric_files: list[Path], out: Path) -> pd.DataFrame:
    tables = [pd.read_csv(path, sep="\t") for path in metric_files]
    table = pd.concat(tables, ignore_index=True).sort_values(KEY, kind="stable").reset_index(drop=True)
    if table.duplicated(KEY).any():
        raise ValueError(f"{out}: duplicate (experiment, method, measurements, seed) rows in the job outputs")
    write_table(out, table)
    return table


def leading_metrics_text(table: pd.DataFrame) -> str:
    """Mean over seeds of the leading metrics, one block per experiment and metric
    (methods x measurements); NaN (e.g. the mean profile's) prints as 'undefined'."""
    blocks = []
    for experiment, rows in table.groupby("experiment", sort=False):
        for metric in LEADING_METRICS:
            pivot = rows.pivot_table(index="method", columns="measurements", values=metric, aggfunc="mean",
                                     dropna=False)
            blocks.append(f"{experiment}: {metric} (mean over seeds)\n"
                          + pivot.round(3).to_string(na_rep="undefined"))
    return "\n\n".join(blocks)
