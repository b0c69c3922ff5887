"""Collect the per-job metrics into one table: one row per (experiment, method, d, seed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..atomic import write_table

KEY = ["experiment", "method", "measurements", "seed"]


def write_summary(metric_files: list[Path], out: Path) -> pd.DataFrame:
    tables = [pd.read_csv(path, sep="\t") for path in metric_files]
    table = pd.concat(tables, ignore_index=True).sort_values(KEY, kind="stable").reset_index(drop=True)
    if table.duplicated(KEY).any():
        raise ValueError(f"{out}: duplicate (experiment, method, measurements, seed) rows in the job outputs")
    write_table(out, table)
    return table
