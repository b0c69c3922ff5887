"""Learning-curve figures from ``results/summary.tsv`` (Figs 2-4 of the paper).

Each panel shows balanced accuracy against training-set size for every model:
raw points, a loess curve with its 95% band, and the majority-class baseline
as a dotted line. Columns compare the full signal with linear signal removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ..plotting import message_figure, save_figure
from .smoothing import loess

REQUIRED_COLUMNS = (
    "task",
    "dataset",
    "model",
    "signal_removal",
    "kind",
    "class_pair",
    "n_train",
    "balanced_accuracy",
    "baseline_balanced_accuracy",
)
PAIR_KIND = "binary_pairs"
# The figures make_figures draws; the rules' outputs are made from this list.
FIGURE_NAMES = ("learning_curves", "binary_pairs")

MODEL_DISPLAY_NAMES = {
    "logistic_regression": "Logistic regression",
    "linear_svm": "Linear SVM",
    "mlp3": "3-layer MLP",
    "mlp5": "5-layer MLP",
}
SIGNAL_REMOVAL_LABELS = {"none": "Full signal", "limma": "Linear signal removed",
                         "limma_joint": "Removed jointly (S1 control)"}

# Known models keep fixed colours so every figure, and every run, agrees.
_PALETTE = matplotlib.colormaps["tab10"].colors
_BASELINE_COLOUR = "0.35"
_PANEL_WIDTH = 4.2
_PANEL_HEIGHT = 3.0
_LOG_SCALE_MIN_RATIO = 10.0
# Rough width of one legend entry, to wrap the legend instead of clipping it.
_LEGEND_ENTRY_WIDTH = 1.9
# Training sizes repeat over seeds and folds; the Gaussian kernel keeps the
# curve smooth across those tied blocks where tricube would jump.
SMOOTHING_KERNEL = "gaussian"


class SummaryFormatError(ValueError):
    """The summary table lacks columns the figures need."""


@dataclass(frozen=True)
class _PanelRow:
    """One row of panels: its label and the summary rows it draws."""

    label: str
    data: pd.DataFrame


# ---------------------------------------------------------------- public API


def make_figures(summary_path: str | Path, figures_dir: str | Path) -> list[Path]:
    """Draw every figure from the summary file; return the paths written."""
    summary = read_summary(summary_path)
    figures_dir = Path(figures_dir)
    plotters = {"learning_curves": plot_learning_curves, "binary_pairs": plot_binary_pairs}
    return [path for name in FIGURE_NAMES for path in plotters[name](summary, figures_dir / name)]


def read_summary(summary_path: str | Path) -> pd.DataFrame:
    """Read the summary TSV, failing with the file name if columns are missing."""
    summary_path = Path(summary_path)
    summary = pd.read_csv(summary_path, sep="\t", dtype={"class_pair": "string"})
    check_columns(summary, source=str(summary_path))
    if "status" in summary:  # failed fits have no scores to draw
        summary = summary[summary["status"] != "failed"]
    return summary


def check_columns(summary: pd.DataFrame, source: str = "summary") -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in summary.columns]
    if missing:
        raise SummaryFormatError(
            f"{source} is missing required column(s): {', '.join(missing)}"
            f" (has: {', '.join(map(str, summary.columns))})"
        )


def plot_learning_curves(summary: pd.DataFrame, out_stem: str | Path) -> list[Path]:
    """Panels by task (rows) and signal removal (columns), pair tasks left out."""
    check_columns(summary)
    summary = _clean(summary)
    single_tasks = summary[summary["kind"] != PAIR_KIND]
    panel_rows = [
        _PanelRow(label, data) for label, data in _labelled_groups(single_tasks, by=["task", "dataset"])
    ]
    figure = _draw_panel_grid(
        panel_rows,
        removals=_signal_removal_order(single_tasks),
        colours=model_colours(summary["model"]),
        empty_message="No single-task results in this summary",
    )
    return save_figure(figure, out_stem)


def plot_binary_pairs(summary: pd.DataFrame, out_stem: str | Path) -> list[Path]:
    """Panels by class pair (rows) and signal removal (columns) for pair tasks."""
    check_columns(summary)
    summary = _clean(summary)
    pair_tasks = summary[summary["kind"] == PAIR_KIND]
    panel_rows = [
        _PanelRow(label, data)
        for label, data in _labelled_groups(pair_tasks, by=["task", "dataset", "class_pair"])
    ]
    figure = _draw_panel_grid(
        panel_rows,
        removals=_signal_removal_order(pair_tasks),
        colours=model_colours(summary["model"]),
        empty_message="No binary-pair tasks in this summary",
    )
    return save_figure(figure, out_stem)


PRETRAINED_SUFFIX = "+pretrained"


def model_display_name(model: str) -> str:
    if model.endswith(PRETRAINED_SUFFIX):
        return f"{model_display_name(model.removesuffix(PRETRAINED_SUFFIX))} (pretrained)"
    return MODEL_DISPLAY_NAMES.get(model, model)


def model_order(models: Iterable[str]) -> list[str]:
    """Known models in the paper's order (simplest first), then the rest by name."""
    present = set(models)
    known = [model for model in MODEL_DISPLAY_NAMES if model in present]
    return known + sorted(present - set(known))


def model_colours(models: Iterable[str]) -> dict[str, tuple]:
    """A colour per model; known models always get the same one."""
    colours = {model: _PALETTE[i] for i, model in enumerate(MODEL_DISPLAY_NAMES)}
    others = sorted(set(models) - set(colours))
    for i, model in enumerate(others, start=len(colours)):
        colours[model] = _PALETTE[i % len(_PALETTE)]
    return colours


# ------------------------------------------------------------ data shaping


def _clean(summary: pd.DataFrame) -> pd.DataFrame:
    """Uniform types and no unusable rows, so grouping and logs behave."""
    summary = summary.copy()
    for column in ("task", "dataset", "model", "signal_removal", "kind"):
        summary[column] = summary[column].astype("string").fillna("")
    if "pretrained" in summary:  # a pretrained copy is drawn as a curve of its own
        pretrained = summary["pretrained"].astype(str).str.lower() == "true"
        summary.loc[pretrained, "model"] = summary.loc[pretrained, "model"] + PRETRAINED_SUFFIX
    # Pairs like "B|T" may arrive as NaN (non-pair rows) or as numbers.
    summary["class_pair"] = summary["class_pair"].astype("string").fillna("")
    for column in ("n_train", "balanced_accuracy", "baseline_balanced_accuracy"):
        summary[column] = pd.to_numeric(summary[column], errors="coerce")
    usable = summary["n_train"].gt(0) & summary["balanced_accuracy"].notna()
    return summary[usable]


def _labelled_groups(summary: pd.DataFrame, by: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """Groups in sorted order, labelled by task (dataset only when ambiguous)."""
    if summary.empty:
        return []
    datasets_per_task = summary.groupby("task")["dataset"].nunique()
    groups = []
    for keys, data in summary.groupby(by, sort=True):
        values = dict(zip(by, keys, strict=False))
        label = values["task"]
        if datasets_per_task[values["task"]] > 1:
            label += f" ({values['dataset']})"
        if "class_pair" in values:
            label += f"\n{_pair_label(values['class_pair'])}"
        groups.append((label, data))
    return groups


def _pair_label(class_pair: str) -> str:
    classes = [name for name in class_pair.split("|") if name]
    return " vs ".join(classes) if classes else "unknown pair"


def _signal_removal_order(summary: pd.DataFrame) -> list[str]:
    """Full signal first, then linear removal, then any other method by name."""
    present = set(summary["signal_removal"])
    known = [removal for removal in SIGNAL_REMOVAL_LABELS if removal in present]
    return known + sorted(present - set(known)) or list(SIGNAL_REMOVAL_LABELS)


def _uses_log_scale(n_train: pd.Series) -> bool:
    return len(n_train) > 0 and n_train.max() / n_train.min() > _LOG_SCALE_MIN_RATIO


# ----------------------------------------------------------------- drawing


def _draw_panel_grid(
    panel_rows: Sequence[_PanelRow],
    removals: Sequence[str],
    colours: dict[str, tuple],
    empty_message: str,
) -> Figure:
    if not panel_rows:
        return message_figure(empty_message)

    n_rows, n_columns = len(panel_rows), len(removals)
    figure = Figure(
        figsize=(_PANEL_WIDTH * n_columns, _PANEL_HEIGHT * n_rows + 0.8),
        layout="constrained",
    )
    axes = figure.subplots(n_rows, n_columns, squeeze=False, sharex="row", sharey="row")
    models_drawn: set[str] = set()

    for row_index, panel_row in enumerate(panel_rows):
        log_x = _uses_log_scale(panel_row.data["n_train"])
        for column_index, removal in enumerate(removals):
            ax = axes[row_index, column_index]
            panel = panel_row.data[panel_row.data["signal_removal"] == removal]
            models_drawn |= _draw_panel(ax, panel, colours, log_x)
            if row_index == 0:
                ax.set_title(SIGNAL_REMOVAL_LABELS.get(removal, removal))
            if column_index == 0:
                ax.set_ylabel(f"{panel_row.label}\nBalanced accuracy")
            if row_index == n_rows - 1:
                ax.set_xlabel("Training samples")

    _add_legend(figure, model_order(models_drawn), colours)
    return figure


def _draw_panel(ax, panel: pd.DataFrame, colours: dict[str, tuple], log_x: bool) -> set[str]:
    """Draw one panel; return the models it shows."""
    if log_x:
        ax.set_xscale("log")
        # Sample counts read better as 100 and 1000 than as powers of ten.
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.grid(True, color="0.92", linewidth=0.6)
    ax.set_axisbelow(True)
    if panel.empty:
        ax.text(0.5, 0.5, "no results", ha="center", va="center", transform=ax.transAxes, color="0.5")
        return set()

    models = model_order(panel["model"].unique())
    for model in models:
        model_rows = panel[panel["model"] == model]
        _draw_model_curve(ax, model_rows["n_train"], model_rows["balanced_accuracy"], colours[model], log_x)

    baseline = panel["baseline_balanced_accuracy"].mean()
    if np.isfinite(baseline):
        ax.axhline(baseline, color=_BASELINE_COLOUR, linestyle=":", linewidth=1.2, zorder=1)
    return set(models)


def _draw_model_curve(ax, n_train: pd.Series, accuracy: pd.Series, colour, log_x: bool) -> None:
    x = n_train.to_numpy(dtype=float)
    y = accuracy.to_numpy(dtype=float)
    ax.scatter(x, y, s=7, color=colour, alpha=0.25, linewidths=0, zorder=2)
    # Smooth on the axis's own scale so the curve looks as loess would there.
    smooth = loess(np.log10(x) if log_x else x, y, kernel=SMOOTHING_KERNEL)
    curve_x = 10**smooth.x if log_x else smooth.x
    # Accuracies live in [0, 1]; a band past either end would only mislead.
    lower, upper = np.clip(smooth.lower, 0, 1), np.clip(smooth.upper, 0, 1)
    ax.fill_between(curve_x, lower, upper, color=colour, alpha=0.2, linewidth=0, zorder=3)
    ax.plot(curve_x, np.clip(smooth.fit, 0, 1), color=colour, linewidth=1.8, zorder=4)


def _add_legend(figure: Figure, models: Sequence[str], colours: dict[str, tuple]) -> None:
    handles = [Line2D([], [], color=colours[model], linewidth=2) for model in models]
    labels = [model_display_name(model) for model in models]
    handles.append(Line2D([], [], color=_BASELINE_COLOUR, linestyle=":", linewidth=1.2))
    labels.append("Majority-class baseline")
    entries_per_row = max(1, int(figure.get_figwidth() // _LEGEND_ENTRY_WIDTH))
    figure.legend(
        handles, labels, loc="outside lower center", ncols=min(len(labels), entries_per_row), frameon=False
    )
