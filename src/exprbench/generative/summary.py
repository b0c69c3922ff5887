"""Collect the per-job tables into one: one row per (experiment, generator, seed,
fold, training fraction, evaluation, arm), failed jobs kept as failed rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import run_summary
from ..atomic import write_table
from ..results import collect, ok_only
from .fidelity import METRICS as FIDELITY_METRICS
from .job import KEY, REAL_ONLY


def write_summary(metric_files: list[Path], out: Path) -> pd.DataFrame:
    table = collect(metric_files, KEY).sort_values(KEY, kind="stable", na_position="first").reset_index(drop=True)
    write_table(out, table)
    return table


def curve_label(generator: str, arm: str) -> str:
    """One name per classifier arm: ``real``, ``cvae`` (real + synthetic), ``cvae (synthetic only)``."""
    if generator == REAL_ONLY:
        return "real"
    return generator if arm == "real+synthetic" else f"{generator} (synthetic only)"


def augmentation_table(table: pd.DataFrame, metric: str = "balanced_accuracy") -> pd.DataFrame:
    """Mean ``metric`` over seeds and folds: arms x training fractions, per experiment."""
    rows = ok_only(table)
    rows = rows[rows["evaluation"] == "augmentation"].copy()
    rows["arm_label"] = [curve_label(g, a) for g, a in zip(rows["generator"], rows["arm"], strict=False)]
    return rows.pivot_table(index=["experiment", "arm_label"], columns="train_fraction", values=metric,
                            aggfunc="mean")


def fidelity_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean fidelity metrics over seeds and folds at the largest training fraction."""
    rows = ok_only(table)
    rows = rows[rows["evaluation"] == "fidelity"]
    rows = rows[rows["train_fraction"] == rows.groupby("experiment")["train_fraction"].transform("max")]
    label = rows["generator"].where(rows["generator"] != REAL_ONLY, "real_vs_real")
    return rows.assign(generator=label).groupby(["experiment", "generator"])[list(FIDELITY_METRICS)].mean()


def leading_metrics_text(table: pd.DataFrame) -> str:
    blocks = []
    if (table["status"] == "failed").any():
        blocks.append(f"{(table['status'] == 'failed').sum()} failed job(s)")
    if len(ok_only(table)):
        blocks.append("balanced accuracy (mean over seeds and folds), arms x training fraction\n"
                      + augmentation_table(table).round(3).to_string())
        blocks.append("fidelity at the largest training fraction\n" + fidelity_table(table).round(3).to_string())
    return "\n\n".join(blocks)


def best_models(summary: pd.DataFrame) -> list[dict]:
    """Per experiment: the best classifier arm by balanced accuracy at the largest
    training fraction, the real-only classifier among them."""
    rows = []
    for experiment, table in ok_only(summary).groupby("experiment", sort=False):
        table = table[table["evaluation"] == "augmentation"]
        if table.empty:
            continue
        table = table[table["train_fraction"] == table["train_fraction"].max()]
        labels = [curve_label(g, a) for g, a in zip(table["generator"], table["arm"], strict=False)]
        table = table.assign(arm_label=labels)
        ranked = run_summary.ranked(table, ["arm_label"], "balanced_accuracy")
        if len(ranked):
            rows.append(run_summary.entry("generative", experiment, ranked, "balanced accuracy"))
    return rows
