"""The short table a finished run ends with: the best model of every task, per family.

Each family's summary table is read as written; scores are means over seeds, folds
and repeats. Which score ranks the models, per family:

* classification: balanced accuracy with no signal removal at the largest training
  fraction (and, beside it, the best score after limma, if limma was run);
* ssl: test accuracy averaged over the fine-tuning proportions (the area under the
  accuracy curve, up to a factor), per method and fine-tuning mode;
* inference: test MAE (lower is better);
* compressed_sensing: mean gene-wise Pearson at the largest number of measurements.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import pandas as pd

COLUMNS = ["family", "task", "best", "score", "runner_up"]


def ok_rows(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["status"] == "ok"] if "status" in summary else summary


def ranked(rows: pd.DataFrame, by: list[str], metric: str, lower_is_better: bool = False) -> pd.Series:
    """Mean ``metric`` per ``by`` group, best first; groups without a value are left out."""
    means = rows.groupby(by, dropna=False)[metric].mean().dropna()
    return means.sort_values(ascending=lower_is_better, kind="stable")


def entry(family: str, task: str, ranked: pd.Series, label: str, extra: str = "") -> dict:
    def name(key):
        return " ".join(map(str, key)) if isinstance(key, tuple) else str(key)

    best = f"{label} {ranked.iloc[0]:.3f}" + (f"; {extra}" if extra else "")
    runner_up = f"{name(ranked.index[1])} {ranked.iloc[1]:.3f}" if len(ranked) > 1 else ""
    return {"family": family, "task": task, "best": name(ranked.index[0]), "score": best, "runner_up": runner_up}


def family_best_models(family: str):
    """A family's ``best_models(summary) -> rows`` from ``<family>/summary.py``; None
    when it has none (its tasks are then left out of the table)."""
    name = f"exprbench.{family}.summary"
    if importlib.util.find_spec(name) is None:
        return None
    return getattr(importlib.import_module(name), "best_models", None)


def best_models(summaries: dict[str, str | os.PathLike]) -> pd.DataFrame:
    """One row per (family, task) from each family's summary table (family -> path);
    a family whose table is missing or empty is left out."""
    rows = []
    for family, path in summaries.items():
        if not Path(path).is_file():
            continue
        summary = pd.read_csv(path, sep="\t")
        best, summary = family_best_models(family), ok_rows(summary)
        if best is not None and not summary.empty:
            rows += best(summary)
    return pd.DataFrame(rows, columns=COLUMNS)


def format_table(table: pd.DataFrame) -> str:
    """Plain text columns, one line per row, that fit a terminal."""
    if table.empty:
        return "no results to rank"
    header = ["family", "task", "best model", "score", "runner-up"]
    cells = [header] + table[COLUMNS].astype(str).values.tolist()
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


DEFAULT_CONFIG = "config/config.yaml"


def report_command(config: str) -> str:
    """How to build the HTML report of a run of ``config`` (a path relative to the
    checkout), and the file `make report` writes: the Makefile's REPORT default."""
    name = "report.html" if config == DEFAULT_CONFIG else f"report_{Path(config).stem}.html"
    return f"make report CONFIG={config}  (writes results/{name})"


def run_summary(summaries: dict[str, str | os.PathLike], figures: dict[str, str], config: str) -> str:
    """What `make run` prints at the end: the best-model table, then where the
    figures of each family are and how to build the HTML report."""
    lines = ["Best model per task:", format_table(best_models(summaries)), "", "Figures:"]
    lines += [f"  {family}: {folder}/" for family, folder in figures.items()]
    lines += ["", f"HTML report with every figure and its caption: {report_command(config)}"]
    return "\n".join(lines)
