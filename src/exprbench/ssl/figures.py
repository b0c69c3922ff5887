"""The ssl figures (the paper's Figs 3-5), from results/ssl/{summary,gains,spectra}.tsv.

* ``accuracy_vs_p``: test accuracy against the fine-tuning proportion p for the
  baseline and each method; rows = fine-tuning modes, columns = experiments; main
  architecture and largest pretraining set; line = mean, band = +-1 sd over repeats
  and seeds (Fig 3).
* ``gain_heatmap``: normalised AUPC gain (mean accuracy difference over the AUPC
  interval) per depth x width, one panel per experiment and method (Fig 4, top).
* ``spectra``: log10 singular values of the covariance of validation embeddings,
  sorted, one line per architecture, one panel per experiment and method (Fig 4, bottom).
* ``accuracy_vs_pretrain_size``: accuracy at one p against the pretraining fraction
  q, baseline as a horizontal line (Fig 5).

Which figures are drawn is decided when the config is resolved (``figures.make``),
so the workflow's targets match the files written.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..plotting import save_figure
from ..results import ok_only
from .settings import BASELINE

_MODE_ORDER = ("unfrozen", "frozen")
_METHOD_COLOURS = {BASELINE: "0.3", "scarf": "tab:blue", "vime": "tab:orange", "byol": "tab:green"}
_PANEL = (4.0, 3.0)


def _colour(method: str, index: int) -> str:
    return _METHOD_COLOURS.get(method, matplotlib.colormaps["tab10"].colors[(index + 3) % 10])


def _main_rows(summary: pd.DataFrame, exp: dict) -> pd.DataFrame:
    """The experiment's fits on its main architecture: the baseline and the largest pretraining set."""
    rows = summary[(summary["experiment"] == exp["name"])
                   & (summary["architecture"] == exp["architectures"][0]["name"])]
    return rows[(rows["method"] == BASELINE) | (rows["pretrain"] == exp["main_pretrain"])]


def _all_methods(experiments) -> list[str]:
    """Every pretraining method of these experiments, in config order."""
    return list(dict.fromkeys(m for e in experiments for m in e["methods"]))


def _methods(exp: dict) -> list[str]:
    return [BASELINE, *exp["methods"]]


def plot_accuracy_vs_p(summary: pd.DataFrame, section: dict, stem: Path) -> list[Path]:
    experiments = list(section["experiments"].values())
    modes = [m for m in _MODE_ORDER if any(m in e["finetune"]["modes"] for e in experiments)]
    figure = Figure(figsize=(_PANEL[0] * len(experiments), _PANEL[1] * len(modes)), layout="constrained")
    axes = figure.subplots(len(modes), len(experiments), squeeze=False, sharey=True)
    for col, exp in enumerate(experiments):
        rows = _main_rows(summary, exp)
        for r, mode in enumerate(modes):
            ax = axes[r][col]
            for i, method in enumerate(_methods(exp)):
                # The baseline trains every layer from scratch; it is the reference of both modes.
                part = rows[(rows["method"] == method) & ((rows["mode"] == mode) | (method == BASELINE))]
                if part.empty:
                    continue
                stats = part.groupby("proportion")["accuracy"].agg(["mean", "std"]).fillna(0.0)
                x = stats.index.to_numpy()
                ax.plot(x, stats["mean"], marker="o", markersize=3, color=_colour(method, i), label=method,
                        linestyle="--" if method == BASELINE else "-")
                ax.fill_between(x, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                color=_colour(method, i), alpha=0.15, linewidth=0)
            ax.set_title(f"{exp['name']}: {mode}", fontsize=10)
            ax.set_xlabel("fine-tuning proportion p")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel("test accuracy")
    axes[0][0].legend(fontsize=8, loc="lower right")
    return save_figure(figure, stem)


def plot_gain_heatmap(gains: pd.DataFrame, section: dict, stem: Path) -> list[Path]:
    mode = section["figures"]["heatmap_mode"]
    experiments = [e for e in section["experiments"].values() if len(e["architectures"]) > 1]
    methods = _all_methods(experiments)
    figure = Figure(figsize=(_PANEL[0] * len(methods), _PANEL[1] * len(experiments)), layout="constrained")
    axes = figure.subplots(len(experiments), len(methods), squeeze=False)
    table = gains[(gains["metric"] == "accuracy") & (gains["mode"] == mode)]
    limit = max(float(np.nanmax(np.abs(table["gain_normalized"]))) if len(table) else 0.0, 1e-3)
    image = None
    for r, exp in enumerate(experiments):
        part = table[(table["experiment"] == exp["name"]) & (table["pretrain"] == exp["main_pretrain"])]
        depths = sorted({a["depth"] for a in exp["architectures"]})
        widths = sorted({a["width"] for a in exp["architectures"]})
        for c, method in enumerate(methods):
            ax = axes[r][c]
            grid = np.full((len(widths), len(depths)), np.nan)
            mean = part[part["method"] == method].groupby(["depth", "width"])["gain_normalized"].mean()
            for (depth, width), value in mean.items():
                grid[widths.index(width), depths.index(depth)] = value
            image = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, origin="lower", aspect="auto")
            for (i, j), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(depths)), [str(d) for d in depths])
            ax.set_yticks(range(len(widths)), [str(w) for w in widths])
            ax.set_xlabel("layers")
            ax.set_ylabel("width")
            ax.set_title(f"{exp['name']}: {method} ({mode})", fontsize=10)
    figure.colorbar(image, ax=axes, label="normalised AUPC gain", shrink=0.8)
    return save_figure(figure, stem)


def plot_spectra(spectra: pd.DataFrame, section: dict, stem: Path) -> list[Path]:
    experiments = list(section["experiments"].values())
    methods = _all_methods(experiments)
    figure = Figure(figsize=(_PANEL[0] * len(methods), _PANEL[1] * len(experiments)), layout="constrained")
    axes = figure.subplots(len(experiments), len(methods), squeeze=False, sharey="row")
    for r, exp in enumerate(experiments):
        rows = spectra[(spectra["experiment"] == exp["name"]) & (spectra["pretrain"] == exp["main_pretrain"])]
        rows = rows[rows["seed"] == exp["seeds"][0]]
        colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(exp["architectures"])))
        for c, method in enumerate(methods):
            ax = axes[r][c]
            for colour, arch in zip(colours, exp["architectures"], strict=False):
                line = rows[(rows["method"] == method) & (rows["architecture"] == arch["name"])]
                if not line.empty:
                    ax.plot(line["rank"], line["log10_singular_value"], color=colour, label=arch["name"])
            ax.set_title(f"{exp['name']}: {method}", fontsize=10)
            ax.set_xlabel("singular value rank")
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_ylabel("log10 singular value")
        axes[r][0].legend(fontsize=7, title="architecture", title_fontsize=7)
    return save_figure(figure, stem)


def _nearest(values, target: float) -> float:
    values = np.asarray(sorted(set(values)), dtype=float)
    return float(values[np.argmin(np.abs(values - target))])


def plot_accuracy_vs_pretrain_size(summary: pd.DataFrame, section: dict, stem: Path) -> list[Path]:
    experiments = [e for e in section["experiments"].values() if len(e["pretrain_sizes"]) > 1]
    figure = Figure(figsize=(_PANEL[0] * len(experiments), _PANEL[1]), layout="constrained")
    axes = figure.subplots(1, len(experiments), squeeze=False)[0]
    for ax, exp in zip(axes, experiments, strict=False):
        mode = "unfrozen" if "unfrozen" in exp["finetune"]["modes"] else exp["finetune"]["modes"][0]
        p = _nearest(exp["finetune"]["proportions"], section["figures"]["pretrain_size_proportion"])
        rows = summary[(summary["experiment"] == exp["name"])
                       & (summary["architecture"] == exp["architectures"][0]["name"])
                       & np.isclose(summary["proportion"], p)]
        for i, method in enumerate(_methods(exp)):
            part = rows[rows["method"] == method]
            if method == BASELINE:
                if not part.empty:
                    ax.axhline(part["accuracy"].mean(), color=_colour(method, i), linestyle="--", label=method)
                continue
            stats = part[part["mode"] == mode].groupby("pretrain_size")["accuracy"].agg(["mean", "std"]).fillna(0.0)
            if stats.empty:
                continue
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", markersize=3, capsize=2,
                        color=_colour(method, i), label=method)
        ax.set_title(f"{exp['name']}: {mode}, p = {p:g}", fontsize=10)
        ax.set_xlabel("pretraining proportion q")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(figure, stem)


def make_figures(section: dict, results_dir, figures_dir) -> list[Path]:
    """Draw the figures listed in ``section['figures']['make']``; return the files written."""
    results_dir, figures_dir = Path(results_dir), Path(figures_dir)
    summary = ok_only(pd.read_csv(results_dir / "summary.tsv", sep="\t"))
    tables = {"summary": summary, "gains": results_dir / "gains.tsv", "spectra": results_dir / "spectra.tsv"}
    written = []
    for name in section["figures"]["make"]:
        if name not in PLOTTERS:
            raise ValueError(f"unknown ssl figure {name!r}")
        table, plot = PLOTTERS[name]
        data = tables[table] if table == "summary" else ok_only(pd.read_csv(tables[table], sep="\t"))
        written += plot(data, section, figures_dir / name)
    return written


# Every figure the family can draw: the table it reads and the function that draws it.
# settings.FIGURES (what a config may ask for) lists the same names (tested).
PLOTTERS = {
    "accuracy_vs_p": ("summary", plot_accuracy_vs_p),
    "spectra": ("spectra", plot_spectra),
    "gain_heatmap": ("gains", plot_gain_heatmap),
    "accuracy_vs_pretrain_size": ("summary", plot_accuracy_vs_pretrain_size),
}
