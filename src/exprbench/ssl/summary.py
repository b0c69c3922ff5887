"""The ssl result tables, from every job's files.

* ``summary.tsv``: one row per fine-tuning fit (experiment, method, mode,
  architecture, pretraining size, seed, proportion p, repeat) with accuracy,
  balanced accuracy, fitted and early-stopping set sizes, epochs and
  ``hit_epoch_cap`` (the fit used every epoch of ``max_epochs`` without early
  stopping ending it: it may not have converged; the count is logged).
* ``gains.tsv``: per pretrained model and metric, the AUPC over p in [low, high] of
  its mean curve over repeats, the baseline's on the same seed and architecture, and
  the gain g(method, baseline) (equation 3), raw and divided by the interval width.
* ``spectra.tsv``: the singular values of each encoder's validation embeddings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .. import run_summary
from ..atomic import write_table
from ..results import failed_jobs_report, ok_only, with_status
from .metrics import aupc, points_inside
from .settings import BASELINE

METRICS = ("accuracy", "balanced_accuracy")
MODEL_KEYS = ["experiment", "method", "mode", "architecture", "pretrain", "seed"]


def read_tables(paths) -> pd.DataFrame:
    tables = [pd.read_csv(path, sep="\t") for path in paths]
    tables = [t for t in tables if len(t)]
    if not tables:
        raise ValueError("no result rows in " + ", ".join(map(str, paths)))
    return pd.concat(tables, ignore_index=True)


def mean_curves(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` over repeats, per model and proportion."""
    return summary.groupby([*MODEL_KEYS, "proportion"], as_index=False)[metric].mean()


def gains_table(summary: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    rows = []
    for metric in METRICS:
        curves = mean_curves(summary, metric)
        baselines = {key: group for key, group in curves[curves["method"] == BASELINE].groupby(
            ["experiment", "architecture", "seed"])}
        for key, group in curves[curves["method"] != BASELINE].groupby(MODEL_KEYS):
            experiment, method, mode, arch, pretrain, seed = key
            baseline = baselines.get((experiment, arch, seed))
            if baseline is None:
                continue
            low, high = experiments[experiment]["aupc"]["low"], experiments[experiment]["aupc"]["high"]
            merged = group.merge(baseline[["proportion", metric]], on="proportion", suffixes=("", "_baseline"))
            p = merged["proportion"].to_numpy()
            inside = points_inside(p, low, high)
            model, reference = merged[metric].to_numpy(), merged[f"{metric}_baseline"].to_numpy()
            row = {"experiment": experiment, "method": method, "mode": mode, "architecture": arch,
                   "pretrain": pretrain, "seed": seed, "metric": metric}
            for suffix, normalize in (("", False), ("_normalized", True)):
                a, b = aupc(p, model, low, high, normalize), aupc(p, reference, low, high, normalize)
                row.update({f"aupc{suffix}": a, f"aupc_baseline{suffix}": b, f"gain{suffix}": a - b})
            row.update({"p_low": inside.min() if inside.size else np.nan,
                        "p_high": inside.max() if inside.size else np.nan, "n_points": int(inside.size)})
            rows.append(row)
    gains = pd.DataFrame(rows)
    if len(gains):
        shapes = summary.drop_duplicates(["experiment", "architecture"])[
            ["experiment", "architecture", "depth", "width"]]
        sizes = summary.drop_duplicates(["experiment", "pretrain"])[["experiment", "pretrain", "pretrain_size"]]
        gains = gains.merge(shapes, on=["experiment", "architecture"]).merge(sizes, on=["experiment", "pretrain"])
    return gains


def capped_fits_report(summary: pd.DataFrame) -> str:
    """How many fits ran out of epochs before early stopping ended them, per method and mode."""
    capped = summary.groupby(["method", "mode"])["hit_epoch_cap"].agg(["sum", "size"])
    lines = [f"{int(capped['sum'].sum())} of {len(summary)} fine-tuning fits hit the epoch cap (max_epochs)"]
    lines += [f"  {method} {mode}: {int(row['sum'])} of {int(row['size'])}"
              for (method, mode), row in capped.iterrows()]
    return "\n".join(lines)


def write_summary(section: dict, score_paths, spectrum_paths, out_dir) -> list[Path]:
    out_dir = Path(out_dir)
    # Failed jobs keep their row in the summary; every number comes from the others.
    summary = with_status(read_tables(score_paths))
    order = [*MODEL_KEYS, "proportion", "repeat"]
    for column in set(order) - set(summary.columns):  # set by the job itself; absent when every job failed
        summary[column] = np.nan
    summary = summary.sort_values(order, kind="stable").reset_index(drop=True)
    for line in failed_jobs_report(summary, "ssl"):
        print(line, file=sys.stderr)
    ok = ok_only(summary)
    gains = gains_table(ok, section["experiments"]) if len(ok) else pd.DataFrame()
    spectra = ok_only(with_status(read_tables(spectrum_paths)))
    paths = [out_dir / "summary.tsv", out_dir / "gains.tsv", out_dir / "spectra.tsv"]
    for path, table in zip(paths, (summary, gains, spectra), strict=False):
        write_table(path, table)
    if len(ok):
        print(capped_fits_report(ok), file=sys.stderr)
    nan_gains = gains["gain"].isna().sum() if len(gains) else 0
    if nan_gains:
        print(f"{nan_gains} gains are NaN: fewer than two proportions inside the AUPC interval", file=sys.stderr)
    return paths


def best_models(summary: pd.DataFrame) -> list[dict]:
    """Its best model or method per task or experiment, for the table a run ends with."""
    rows = []
    for experiment, table in summary.groupby("experiment", sort=False):
        ranked = run_summary.ranked(table, ["method", "mode"], "accuracy")
        if len(ranked):
            rows.append(run_summary.entry("ssl", experiment, ranked, "mean accuracy over p"))
    return rows
