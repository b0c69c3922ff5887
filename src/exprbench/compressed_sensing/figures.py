"""Metric against the number of measurements, one line per method, error bars over
seeds (the 2019 study's Figures 1 and 2), one pair of figures per experiment.

Each figure leads with a metric the training mean profile does not win (gene-wise
Pearson; the sample-distance Pearson), and the ``mean_profile`` baseline is drawn
as a dashed reference line in every panel. Where its metric is undefined (a
constant prediction has no gene-wise or distance correlation) the line is drawn at 0."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from ..plotting import message_figure, save_figure
from ..results import ok_only

# (column, axis label, panel title)
FIGURES = {
    "correlation": [("gene_pearson", "mean gene Pearson", "leading metric"),
                    ("overall_pearson", "overall Pearson", "dominated by gene means"),
                    ("sample_pearson", "mean sample Pearson", "dominated by gene means"),
                    ("overall_spearman", "overall Spearman", "")],
    "distance": [("distance_pearson", "sample-distance Pearson", "leading metric"),
                 ("distance_spearman", "sample-distance Spearman", "")],
}
# The figures of each experiment; the rules' outputs are made from this list.
FIGURE_NAMES = tuple(FIGURES)
METHOD_ORDER = ["svd", "svd_top_k", "ksvd", "sparse_nmf", "smaf", "nn", "nn_smaf", "generative_prior"]
BASELINE = "mean_profile"


def figure_stems(figures_dir, experiment: str) -> list[Path]:
    return [Path(figures_dir) / f"{experiment}_{kind}" for kind in FIGURES]


def _methods(table: pd.DataFrame) -> list[str]:
    present = [m for m in dict.fromkeys(table["method"]) if m != BASELINE]
    return [m for m in METHOD_ORDER if m in present] + sorted(m for m in present if m not in METHOD_ORDER)


def _draw_baseline(ax, table: pd.DataFrame, column: str) -> None:
    stats = table[table["method"] == BASELINE].groupby("measurements")[column].mean()
    if stats.empty:
        return
    ax.plot(stats.index, stats.fillna(0.0), color="black", linestyle="--", linewidth=1.2, label=BASELINE)
    if stats.isna().any():
        ax.annotate(f"{BASELINE}: undefined (constant), drawn at 0", (stats.index[0], 0.0), xytext=(0, 3),
                    textcoords="offset points", fontsize=7, color="black")


def _draw(table: pd.DataFrame, panels, title: str) -> Figure:
    figure = Figure(figsize=(4.2 * len(panels) + 1.6, 3.8), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)
    colours = matplotlib.colormaps["tab10"].colors
    methods = _methods(table)
    for ax, (column, label, panel_title) in zip(axes[0], panels, strict=False):
        for i, method in enumerate(methods):
            stats = table[table["method"] == method].groupby("measurements")[column].agg(["mean", "std"])
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", ms=4, capsize=3,
                        color=colours[i % 10], label=method)
        _draw_baseline(ax, table, column)
        ax.set_xlabel("number of measurements")
        ax.set_ylabel(label)
        ax.set_title(panel_title, fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    figure.suptitle(title)
    return figure


def make_figures(summary_path, figures_dir, experiment: str) -> list[Path]:
    table = ok_only(pd.read_csv(summary_path, sep="\t"))
    table = table[table["experiment"] == experiment]
    if table.empty:  # every job of the experiment failed: the summary says why
        return [path for stem in figure_stems(figures_dir, experiment)
                for path in save_figure(message_figure(f"{experiment}: no successful fit"), stem)]
    n_seeds = table["seed"].nunique()
    title = (f"{experiment}: recovery from composite measurements "
             f"(mean ± sd over {n_seeds} seed{'s' if n_seeds > 1 else ''})")
    written = []
    for stem, panels in zip(figure_stems(figures_dir, experiment), FIGURES.values(), strict=False):
        figure = _draw(table, panels, title)
        written += save_figure(figure, stem)
    return written
