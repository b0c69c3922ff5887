"""Figures of one experiment, from the summary table and the first cell's labels.

planted: ``accuracy`` (consensus score and row / column ARI against the noise level
and against the number of noise features, one line per method, each point the mean
over seeds and the other grid axes), ``time`` (fit seconds against matrix size);
store data: ``labels`` (ARI of the sample clusters against each label); both:
``heatmap`` (the matrix reordered by the found clusters, biclusters outlined)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.patches
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..plotting import message_figure, save_figure
from ..results import ok_only

METHOD_ORDER = ["spacobi", "convex_biclustering", "spectral_biclustering", "spectral_coclustering",
                "kmeans_rows_cols"]
PLANTED_KINDS = ("accuracy", "time", "heatmap")
STORE_KINDS = ("labels", "heatmap")


def kinds(experiment: dict) -> tuple[str, ...]:
    return PLANTED_KINDS if experiment.get("planted") is not None else STORE_KINDS


def _methods(table: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(table["method"]))
    return [m for m in METHOD_ORDER if m in present] + sorted(m for m in present if m not in METHOD_ORDER)


def _colour(method: str):
    colours = matplotlib.colormaps["tab10"].colors
    order = METHOD_ORDER + [method]
    return colours[order.index(method) % 10]


def _lines(table: pd.DataFrame, x: str, metrics, xlabel: str, title: str) -> Figure:
    figure = Figure(figsize=(4.0 * len(metrics) + 1.8, 3.6), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, (column, label) in zip(axes, metrics, strict=False):
        for method in _methods(table):
            stats = table[table["method"] == method].groupby(x)[column].mean()
            ax.plot(stats.index, stats.to_numpy(), marker="o", ms=4, color=_colour(method), label=method)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    figure.suptitle(title)
    return figure


def accuracy_figure(table: pd.DataFrame, experiment: str) -> Figure:
    metrics = [("consensus", "consensus score"), ("row_ari", "row ARI"), ("column_ari", "column ARI")]
    figure = Figure(figsize=(14, 6.6), layout="constrained")
    top, bottom = figure.subfigures(2, 1)
    for sub, x, xlabel in ((top, "noise", "noise level (sd)"), (bottom, "noise_features", "noise features")):
        axes = sub.subplots(1, len(metrics))
        for ax, (column, label) in zip(axes, metrics, strict=False):
            for method in _methods(table):
                stats = table[table["method"] == method].groupby(x)[column].mean()
                ax.plot(stats.index, stats.to_numpy(), marker="o", ms=4, color=_colour(method), label=method)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            ax.set_ylim(-0.05, 1.05)
            ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    figure.suptitle(f"{experiment}: accuracy against noise (mean over seeds and the other grid axes)")
    return figure


def time_figure(table: pd.DataFrame, experiment: str) -> Figure:
    table = table.assign(cells=table["n_rows"] * table["n_columns"])
    figure = _lines(table, "cells", [("fit_seconds", "fit seconds")], "matrix size (rows x columns)",
                    f"{experiment}: fit time against size")
    ax = figure.axes[0]
    ax.set_xscale("log")
    ax.set_yscale("log")
    return figure


def labels_figure(table: pd.DataFrame, experiment: str) -> Figure:
    columns = [c for c in table.columns if c.startswith("ari_") and table[c].notna().any()]
    methods = _methods(table)
    figure = Figure(figsize=(1.6 + 1.4 * len(methods) * max(1, len(columns)) / 2, 3.8), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        means = table[table["method"] == method][columns].mean()
        ax.bar(np.arange(len(columns)) + i * width, means.to_numpy(), width, color=_colour(method), label=method)
    ax.set_xticks(np.arange(len(columns)) + 0.4 - width / 2, [c[4:] for c in columns])
    ax.set_ylabel("ARI of sample clusters against the label")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.legend(fontsize=8)
    ax.set_title(f"{experiment}: sample clusters against labels")
    return figure


def heatmap_figure(heatmaps: dict[str, dict], experiment: str) -> Figure:
    methods = _methods(pd.DataFrame({"method": list(heatmaps)}))
    figure = Figure(figsize=(3.2 * len(methods) + 0.6, 3.6), layout="constrained")
    axes = figure.subplots(1, len(methods), squeeze=False)[0]
    for ax, method in zip(axes, methods, strict=False):
        X, rows, columns = (heatmaps[method][k] for k in ("X", "row_labels", "column_labels"))
        # Set-aside (-1) columns last; clusters in label order.
        row_order = np.argsort(rows, kind="stable")
        column_order = np.argsort(np.where(columns < 0, columns.max() + 1, columns), kind="stable")
        limit = np.percentile(np.abs(X), 98) or 1.0
        ax.imshow(X[row_order][:, column_order], aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                  interpolation="nearest")
        row_edges = np.cumsum(np.bincount(rows))
        column_sizes = np.bincount(columns[columns >= 0]) if (columns >= 0).any() else np.array([], dtype=int)
        start_r = 0
        for end_r in row_edges:
            start_c = 0
            for size in column_sizes:
                ax.add_patch(matplotlib.patches.Rectangle((start_c - 0.5, start_r - 0.5), size, end_r - start_r,
                                                          fill=False, edgecolor="black", linewidth=0.8))
                start_c += size
            start_r = end_r
        ax.set_title(f"{method}\n{len(row_edges)} x {len(column_sizes)} biclusters, "
                     f"{int((columns < 0).sum())} set aside", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("columns (features)")
    axes[0].set_ylabel("rows (samples)")
    figure.suptitle(f"{experiment}: matrix reordered by the found biclusters (first cell, first seed)")
    return figure


def load_heatmaps(paths) -> dict[str, dict]:
    """method -> arrays of its first seed's heat-map file (empty files: failed jobs)."""
    found = {}
    for path in sorted(map(Path, paths)):
        if path.stat().st_size == 0:
            continue
        with np.load(path, allow_pickle=False) as data:
            method = str(data["method"])
            seed = int(data["seed"])
            if method not in found or seed < found[method]["seed"]:
                found[method] = {k: data[k] for k in ("X", "row_labels", "column_labels")} | {"seed": seed}
    return found


def make_figures(summary_path, figures_dir, experiment: str, kind_list, heatmap_paths=()) -> list[Path]:
    table = pd.read_csv(summary_path, sep="\t")
    table = ok_only(table[table["experiment"] == experiment])
    written = []
    for kind in kind_list:
        if kind == "heatmap":
            heatmaps = load_heatmaps(heatmap_paths)
            figure = heatmap_figure(heatmaps, experiment) if heatmaps else message_figure("no successful fit")
        elif table.empty:
            figure = message_figure(f"{experiment}: no successful fit")
        else:
            draw = {"accuracy": accuracy_figure, "time": time_figure, "labels": labels_figure}[kind]
            figure = draw(table, experiment)
        written += save_figure(figure, Path(figures_dir) / f"{experiment}_{kind}")
    return written
