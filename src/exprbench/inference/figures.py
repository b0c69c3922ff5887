"""Figures of the inference family, from ``results/inference/summary.tsv``.

* ``scores``: MAE and CCC by model for every task (dots per seed, bar = mean);
* ``per_gene_mae``: per-gene test MAE of Deep-LSMTL against D-GEX, one panel per
  task (points below the diagonal are genes Deep-LSMTL predicts better);
* ``relevance``: landmark relevance to target-gene clusters (gradient x input) of
  Deep-LSMTL, landmarks ordered by their k-means group, as in the paper's Fig. 6.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..plotting import message_figure, save_figure
from ..results import ok_only
from .summary import attribution, per_gene

# The figures make_figures draws; the rules' outputs are made from this list.
FIGURE_NAMES = ("scores", "per_gene_mae", "relevance")

PALETTE = matplotlib.colormaps["tab10"].colors


def make_figures(summary_path, out_dir) -> list[Path]:
    summary = ok_only(pd.read_csv(summary_path, sep="\t"))
    out_dir = Path(out_dir)
    plotters = {"scores": plot_scores, "per_gene_mae": plot_per_gene_mae, "relevance": plot_relevance}
    return [path for name in FIGURE_NAMES for path in save_figure(plotters[name](summary), out_dir / name)]


def plot_scores(summary: pd.DataFrame) -> Figure:
    tasks = list(dict.fromkeys(summary["task"]))
    models = list(dict.fromkeys(summary["model"]))
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    figure = Figure(figsize=(max(6.0, 1.0 + 0.5 * len(models) * len(tasks)), 6.5), layout="constrained")
    axes = figure.subplots(2, 1, sharex=True)
    width = 0.8 / max(len(models), 1)
    for ax, metric, label in zip(axes, ("mae", "ccc"), ("MAE (lower is better)", "CCC (higher is better)"),
                                 strict=False):
        for j, model in enumerate(models):
            for i, task in enumerate(tasks):
                values = summary.loc[(summary["task"] == task) & (summary["model"] == model), metric].dropna()
                if values.empty:
                    continue
                x = i + (j - (len(models) - 1) / 2) * width
                ax.bar(x, values.mean(), width * 0.9, color=colours[model], alpha=0.6,
                       label=model if i == 0 else None)
                ax.plot(np.full(len(values), x), values, "o", color=colours[model], markersize=3)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    # One badly overfitting model (e.g. plain LSR with about as many samples as
    # landmarks) would flatten every other bar on a linear axis.
    mae = summary["mae"].dropna()
    if len(mae) and mae.min() > 0 and mae.max() / mae.min() > 5:
        axes[0].set_yscale("log")
        axes[0].set_ylabel("MAE, log scale (lower is better)")
    axes[1].set_xticks(range(len(tasks)), [f"{t}\n({summary.loc[summary['task'] == t, 'test_dataset'].iloc[0]})"
                                           for t in tasks])
    figure.legend(*axes[0].get_legend_handles_labels(), fontsize=8, ncol=min(len(models), 5),
                  loc="outside lower center")
    figure.suptitle("Target gene inference on the test set")
    return figure


def _first_run(rows: pd.DataFrame, estimator: str):
    chosen = rows[rows["estimator"] == estimator].sort_values(["seed", "model"], kind="stable")
    return chosen.iloc[0] if len(chosen) else None


def plot_per_gene_mae(summary: pd.DataFrame) -> Figure:
    pairs = []
    for task, rows in summary.groupby("task", sort=False):
        lsmtl, dgex = _first_run(rows, "deep_lsmtl"), _first_run(rows, "dgex")
        if lsmtl is not None and dgex is not None:
            pairs.append((task, lsmtl, dgex))
    if not pairs:
        return message_figure("no task has both a Deep-LSMTL and a D-GEX run")
    figure = Figure(figsize=(4.0 * len(pairs), 4.0), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(pairs)))
    for ax, (task, lsmtl, dgex) in zip(axes, pairs, strict=False):
        y, x = per_gene(lsmtl["run_dir"])["mae"], per_gene(dgex["run_dir"])["mae"]
        ax.scatter(x, y, s=4, alpha=0.5, color=PALETTE[0], linewidths=0)
        limits = [min(x.min(), y.min()), max(x.max(), y.max())]
        ax.plot(limits, limits, color="0.4", linewidth=0.8)
        ax.set_xlabel(f"D-GEX per-gene MAE ({dgex['model']})")
        ax.set_ylabel(f"Deep-LSMTL per-gene MAE ({lsmtl['model']})")
        ax.set_title(f"{task}: Deep-LSMTL better on {np.mean(y < x):.0%} of genes", fontsize=9)
    return figure


def plot_relevance(summary: pd.DataFrame) -> Figure:
    maps = []
    for task, rows in summary.groupby("task", sort=False):
        run = _first_run(rows, "deep_lsmtl")
        if run is None:
            continue
        data = attribution(run["run_dir"])
        if data["relevance"].size:
            maps.append((task, run, data))
    if not maps:
        return message_figure("no Deep-LSMTL run with a relevance map")
    figure = Figure(figsize=(6.0 * len(maps), 4.0), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(maps)))
    for ax, (task, run, data) in zip(axes, maps, strict=False):
        order = np.argsort(data["landmark_group"], kind="stable")
        relevance = data["relevance"][:, order]
        # Rows scaled to their maximum: the pattern across landmarks, not the cluster's size.
        relevance = relevance / np.maximum(relevance.max(axis=1, keepdims=True), 1e-12)
        image = ax.imshow(relevance, aspect="auto", cmap="viridis", interpolation="nearest")
        bounds = np.flatnonzero(np.diff(data["landmark_group"][order])) + 0.5
        for b in bounds:
            ax.axvline(b, color="white", linewidth=0.6)
        ax.set_xlabel("landmark genes (ordered by k-means group)")
        ax.set_ylabel("target gene cluster")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{task} ({run['model']}): gradient x input relevance", fontsize=9)
        figure.colorbar(image, ax=ax, label="relevance / row max")
    return figure
