"""Many fit jobs in one process: the cells of a ``fit_grain: model`` or ``seed`` job.

A fit process costs seconds before its first fit (imports, R start-up, torch set-up);
running a group's cells one after another in one process pays that once. Each cell
writes the same files as a ``fit_grain: fold`` job, as soon as it finishes.

Retries: before the group's last attempt, the first failing cell stops the group, so
the workflow retries the whole group with the next attempt's memory and runtime, as it
would retry a single fit. On the last attempt a failing cell is recorded as a failed
row with its error, and the group goes on with its other cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..atomic import write_table
from .summary import failure_row


@dataclass(frozen=True)
class FitCell:
    """One (seed, fold) of a group and the files it writes."""

    seed: int
    fold: int
    metrics: Path
    predictions: Path


def write_fit_files(metrics: pd.DataFrame, predictions: pd.DataFrame, metrics_path, predictions_path) -> None:
    # Predictions first: the metrics file is the fit's completion marker.
    write_table(predictions_path, predictions)
    write_table(metrics_path, metrics)


def write_failed_fit(task: dict, model: str, dataset: str, signal_removal: str, seed: int, fold: int, error: str,
                     metrics_path, predictions_path) -> None:
    """The files of a fit that failed on its last attempt: one failed row, no predictions."""
    row = failure_row(task, model, dataset, signal_removal, seed, fold, error)
    write_fit_files(pd.DataFrame([row]), pd.DataFrame(columns=["train_fraction", "class_pair", "sample_id"]),
                    metrics_path, predictions_path)


def error_line(err: BaseException) -> str:
    """An exception as the one line a failed row keeps."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else 'no message'}"[:500]


def run_fit_cells(job_settings: dict, cells: list[FitCell], attempt: int, attempts: int) -> int:
    """Run ``FitJob(**job_settings, seed=, fold=)`` for every cell in order; returns
    the number of cells recorded as failed (only on the last attempt)."""
    from .job import FitJob

    failed = 0
    for cell in cells:
        job = FitJob(**job_settings, seed=cell.seed, fold=cell.fold)
        try:
            metrics, predictions = job.run()
        except Exception as err:
            if attempt < attempts:
                job.log(f"failed on attempt {attempt} of {attempts}; the group is retried")
                raise
            error = error_line(err)
            job.log(f"failed on the last attempt ({attempt}); recorded as failed: {error}")
            write_failed_fit(job.task, job.model["name"], job.dataset, job.signal_removal, cell.seed, cell.fold,
                             error, cell.metrics, cell.predictions)
            failed += 1
            continue
        write_fit_files(metrics, predictions, cell.metrics, cell.predictions)
    return failed
