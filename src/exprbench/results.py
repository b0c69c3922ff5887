"""The result-table shape every family shares, and the failure row of a job.

Each heavy job writes a TSV of rows: the job's key columns, its metric columns, a
``status`` (``ok`` or ``failed``) and an ``error`` (empty when ok). A job that fails
on its last attempt leaves one failed row in place of its results, so the rest of
a run completes and the summary says what failed and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .atomic import write_table, write_text

STATUS_COLUMNS = ("status", "error")


def last_error(log_path) -> str:
    """The last non-empty line of a job log: the exception or error message."""
    try:
        lines = [line.strip() for line in open(log_path, errors="replace") if line.strip()]
    except OSError:
        return "no log was written"
    return lines[-1][:500] if lines else "the job exited with no message"


def failure_row(keys: dict, error: str) -> dict:
    return {**keys, "status": "failed", "error": error}


def write_failure(outputs, keys: dict, error: str) -> None:
    """Stand-ins for every output of a job that failed on its last attempt: TSVs hold
    the failed row, JSON files a failed record, other files are left empty, so a
    later step reading them fails (and records its own failure) rather than
    trusting them. Nothing that exists is overwritten: a job killed part-way keeps
    what it finished."""
    row = pd.DataFrame([failure_row(keys, error)])
    for path in map(Path, outputs):
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".tsv":
            write_table(path, row)
        elif path.suffix == ".json":
            write_text(path, json.dumps({**keys, "status": "failed", "error": error}, indent=1) + "\n")
        else:
            write_text(path, "")


def with_status(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``status`` and ``error`` columns; rows without one are ok."""
    table = table.copy()
    if "status" not in table:
        table["status"] = "ok"
    table["status"] = table["status"].fillna("ok")
    if "error" not in table:
        table["error"] = ""
    table["error"] = table["error"].fillna("")
    return table


def collect(paths, keys: list[str], folder_column: str | None = None) -> pd.DataFrame:
    """The rows of every job table in ``paths``, with status columns, checked for rows
    that two jobs (or one job twice) wrote under the same key; ``folder_column``, if
    given, names a column for the folder each row came from (the job's other files)."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, sep="\t")
        if folder_column:
            frame[folder_column] = str(Path(path).parent)
        frames.append(frame)
    if not frames:
        raise ValueError("no result files to collect")
    table = with_status(pd.concat(frames, ignore_index=True))
    missing = [key for key in keys if key not in table]
    if missing and (table["status"] == "ok").any():
        raise ValueError(f"result tables lack the key columns {missing}; first file: {paths[0]}")
    for key in missing:  # keys a job sets itself are absent when every job failed
        table[key] = float("nan")
    ok = table[table["status"] == "ok"]
    duplicated = ok[ok.duplicated(keys, keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        raise ValueError(f"{len(duplicated)} result rows share their key {dict(first[keys])} with another row; "
                         "two jobs wrote the same result (check the job list for repeats)")
    return table


def ok_only(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of jobs that succeeded, for figures and rankings."""
    return table[table["status"] == "ok"] if "status" in table else table


def failed_jobs_report(table: pd.DataFrame, family_title: str) -> list[str]:
    """One line per failed row, for the end of a run."""
    if "status" not in table:
        return []
    failed = table[table["status"] == "failed"]
    keys = [c for c in table.columns if c not in STATUS_COLUMNS]
    return [f"{family_title}: failed: " + ", ".join(f"{k}={row[k]}" for k in keys if pd.notna(row[k]))
            + f": {row['error']}" for _, row in failed.iterrows()]
