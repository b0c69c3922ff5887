"""Collect every fit job's metrics into one tidy table."""

from __future__ import annotations

import pandas as pd

from .atomic import write_table

KEY_COLUMNS = ["task", "dataset", "model", "signal_removal", "seed", "fold", "train_fraction", "class_pair"]


def collect(metric_files) -> pd.DataFrame:
    frames = []
    for path in metric_files:
        frame = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
        if not frame.empty:
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=KEY_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    table["class_pair"] = table["class_pair"].fillna("")
    return table.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)


def write_summary(metric_files, out_path) -> pd.DataFrame:
    table = collect(metric_files)
    write_table(out_path, table)
    return table
