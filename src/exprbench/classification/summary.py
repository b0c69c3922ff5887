"""Collect every fit job's metrics into one tidy table."""

from __future__ import annotations

import pandas as pd

from .. import run_summary
from ..atomic import write_table

KEY_COLUMNS = ["task", "dataset", "model", "signal_removal", "seed", "fold", "train_fraction", "class_pair",
               "pretrained"]
# Present even when every fit failed, so readers of the summary need no special case.
SCORE_COLUMNS = ["n_train", "n_val", "accuracy", "balanced_accuracy", "baseline_balanced_accuracy"]


def last_error(log_path) -> str:
    """The last non-empty line of a job log: the exception or error message."""
    try:
        lines = [line.strip() for line in open(log_path, errors="replace") if line.strip()]
    except OSError:
        return "no log was written"
    return lines[-1][:500] if lines else "the job exited with no message"


def failure_row(task: dict, model: str, dataset: str, signal_removal: str, seed: int, fold: int, error: str) -> dict:
    return {
        "task": task["name"], "dataset": dataset, "kind": task["kind"], "model": model,
        "signal_removal": signal_removal, "seed": seed, "fold": fold, "train_fraction": float("nan"),
        "class_pair": "", "pretrained": False, "status": "failed", "error": error,
    }


def tasks_where_every_fit_failed(table: pd.DataFrame) -> dict[str, str]:
    """Tasks none of whose fits succeeded, each with its first error: such a task
    has no result at all, which a run must not report as success."""
    if table.empty or "status" not in table:
        return {}
    ok = table.groupby("task")["status"].agg(lambda status: (status != "failed").any())
    return {task: table.loc[(table["task"] == task) & (table["status"] == "failed"), "error"].iloc[0]
            for task in ok.index[~ok]}


def failed_tasks_report(summary_path) -> list[str]:
    """One line per task whose every fit failed (empty when none did)."""
    table = pd.read_csv(summary_path, sep="\t", keep_default_na=False, na_values=[""])
    return [f"task {task}: every fit failed, so it has no result (first error: {error})"
            for task, error in tasks_where_every_fit_failed(table).items()]


def collect(metric_files) -> pd.DataFrame:
    frames = []
    for path in metric_files:
        try:
            frame = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError:  # a job none of whose fractions held two classes
            continue
        if not frame.empty:
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=KEY_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    table = table.reindex(columns=[*table.columns, *(c for c in SCORE_COLUMNS if c not in table.columns)])
    table["class_pair"] = table["class_pair"].fillna("")
    table["error"] = table["error"].fillna("")
    return table.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)


def write_summary(metric_files, out_path) -> pd.DataFrame:
    table = collect(metric_files)
    write_table(out_path, table)
    return table


def best_models(summary: pd.DataFrame) -> list[dict]:
    """The best model per task, for the table a run ends with."""
    rows = []
    for task, table in run_summary.ok_rows(summary).groupby("task", sort=False):
        full = table[table["train_fraction"] == table["train_fraction"].max()]
        plain = run_summary.ranked(full[full["signal_removal"] == "none"], ["model"], "balanced_accuracy")
        if plain.empty:
            continue
        limma = run_summary.ranked(full[full["signal_removal"] == "limma"], ["model"], "balanced_accuracy")
        extra = f"after limma: {limma.index[0]} {limma.iloc[0]:.3f}" if len(limma) else ""
        rows.append(run_summary.entry("classification", task, plain, "balanced accuracy", extra))
    return rows
