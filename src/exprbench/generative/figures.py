"""Figures, one set per experiment:

- ``augmentation``: accuracy and balanced accuracy against the number of real
  training samples: real only (black), real + synthetic per generator (solid),
  synthetic only (dashed, same colour); mean ± sd over seeds and folds;
- ``fidelity``: each fidelity metric per generator at the largest training
  fraction, with the real-vs-real baseline as a dashed line (and 0.5, the perfect
  discriminator AUC, dotted);
- ``projection``: real held-out and generated samples in the first two principal
  components of the real training samples (fold 0, first seed), one panel per
  generator, coloured by class;
- ``roc_confusion``: one-vs-rest ROC curves and the row-normalised confusion matrix
  of the held-out predictions at the largest training fraction, pooled over folds
  and seeds: real only, then real + synthetic for each generator.
Failed jobs are left out; a figure with nothing to draw says so.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from ..plotting import message_figure, save_figure
from ..results import ok_only
from .fidelity import LOWER_IS_BETTER
from .fidelity import METRICS as FIDELITY_METRICS
from .job import REAL_ONLY

KINDS = ("augmentation", "fidelity", "projection", "roc_confusion")
GENERATOR_ORDER = ["gaussian_class", "smote", "cvae", "latent_diffusion", "shuffled_genes"]
FIDELITY_LABELS = {"mmd": "MMD² (RBF)", "energy": "energy distance", "precision": "k-NN precision",
                   "recall": "k-NN recall", "discriminator_auc": "real-vs-generated AUC",
                   "mean_corr": "corr. of gene means", "var_corr": "corr. of gene variances",
                   "corr_corr": "corr. of gene-gene corr."}


def figure_stems(figures_dir, experiment: str) -> list[Path]:
    return [Path(figures_dir) / f"{experiment}_{kind}" for kind in KINDS]


def _generators(names) -> list[str]:
    present = [g for g in dict.fromkeys(names) if g != REAL_ONLY]
    return [g for g in GENERATOR_ORDER if g in present] + sorted(g for g in present if g not in GENERATOR_ORDER)


def _colours(generators) -> dict:
    palette = matplotlib.colormaps["tab10"].colors
    return {g: palette[i % 10] for i, g in enumerate(generators)}


def augmentation_figure(table: pd.DataFrame, title: str) -> Figure:
    rows = table[table["evaluation"] == "augmentation"]
    generators = _generators(rows["generator"])
    colours = _colours(generators)
    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.subplots(1, 2)
    curves = [(REAL_ONLY, "real", "real only", "black", "-")]
    for g in generators:
        curves += [(g, "real+synthetic", f"real + {g}", colours[g], "-"),
                   (g, "synthetic", f"{g} only", colours[g], "--")]
    for ax, metric in zip(axes, ("accuracy", "balanced_accuracy"), strict=False):
        for generator, arm, label, colour, style in curves:
            part = rows[(rows["generator"] == generator) & (rows["arm"] == arm)]
            if part.empty:
                continue
            stats = part.groupby("train_fraction").agg(n=("n_train_real", "mean"), mean=(metric, "mean"),
                                                       sd=(metric, "std"))
            ax.errorbar(stats["n"], stats["mean"], yerr=stats["sd"].fillna(0), color=colour, linestyle=style,
                        marker="o", ms=3, capsize=2, label=label)
        ax.set_xlabel("real training samples")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    figure.suptitle(title)
    return figure


def fidelity_figure(table: pd.DataFrame, title: str) -> Figure:
    rows = table[table["evaluation"] == "fidelity"]
    rows = rows[rows["train_fraction"] == rows["train_fraction"].max()]
    generators = _generators(rows["generator"])
    colours = _colours(generators)
    baseline = rows[rows["generator"] == REAL_ONLY]
    figure = Figure(figsize=(13, 6), layout="constrained")
    axes = figure.subplots(2, 4).ravel()
    for ax, metric in zip(axes, FIDELITY_METRICS, strict=False):
        for i, g in enumerate(generators):
            values = rows.loc[rows["generator"] == g, metric]
            ax.errorbar([i], [values.mean()], yerr=[values.std() if len(values) > 1 else 0], fmt="o",
                        color=colours[g], capsize=3)
        if len(baseline):
            ax.axhline(baseline[metric].mean(), color="black", linestyle="--", linewidth=1, label="real vs real")
        if metric == "discriminator_auc":
            ax.axhline(0.5, color="0.5", linestyle=":", linewidth=1, label="perfect (0.5)")
        ax.set_xticks(range(len(generators)), generators, rotation=30, ha="right", fontsize=8)
        better = "lower" if metric in LOWER_IS_BETTER else ("closer to 0.5" if metric == "discriminator_auc"
                                                            else "higher")
        ax.set_title(f"{FIDELITY_LABELS[metric]} ({better} is better)", fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=False):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    figure.suptitle(title)
    return figure


def projection_figure(points: pd.DataFrame, title: str) -> Figure:
    seed = points["seed"].min()
    points = points[points["seed"] == seed]
    real = points[points["source"] == "real"]
    generators = _generators(points.loc[points["source"] == "generated", "generator"])
    labels = sorted(points["label"].astype(str).unique())
    palette = matplotlib.colormaps["tab20"].colors
    colour = {label: palette[i % 20] for i, label in enumerate(labels)}
    figure = Figure(figsize=(3.3 * max(1, len(generators)) + 1.5, 3.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, max(1, len(generators)), sharex=True, sharey=True))
    for ax, g in zip(axes, generators or [None], strict=False):
        generated = points[(points["source"] == "generated") & (points["generator"] == g)]
        for label in labels:
            r, s = real[real["label"].astype(str) == label], generated[generated["label"].astype(str) == label]
            ax.scatter(r["pc1"], r["pc2"], s=10, color=colour[label], marker="o", alpha=0.8, label=f"{label}")
            ax.scatter(s["pc1"], s["pc2"], s=12, color=colour[label], marker="x", alpha=0.6, linewidths=0.8)
        ax.set_title(f"{g}: real (o) vs generated (x)" if g else "real held-out samples", fontsize=9)
        ax.set_xlabel("PC1 of real training samples")
    axes[0].set_ylabel("PC2")
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside right center", fontsize=7, title="class")
    figure.suptitle(f"{title} (fold 0, seed {seed})")
    return figure


def roc_confusion_figure(predictions: pd.DataFrame, title: str) -> Figure:
    arms = [(REAL_ONLY, "real", "real only")]
    arms += [(g, "real+synthetic", f"real + {g}") for g in _generators(predictions["generator"])]
    arms = [a for a in arms if ((predictions["generator"] == a[0]) & (predictions["arm"] == a[1])).any()]
    classes = [c[2:] for c in predictions.columns if c.startswith("p_")]
    figure = Figure(figsize=(9, 3.6 * len(arms)), layout="constrained")
    axes = figure.subplots(len(arms), 2, squeeze=False)
    palette = matplotlib.colormaps["tab20"].colors
    for (roc_ax, cm_ax), (generator, arm, label) in zip(axes, arms, strict=False):
        part = predictions[(predictions["generator"] == generator) & (predictions["arm"] == arm)]
        true = part["true_label"].astype(str).to_numpy()
        for i, c in enumerate(classes):
            positive = true == c
            if 0 < positive.sum() < len(true):
                fpr, tpr, _ = roc_curve(positive, part[f"p_{c}"].to_numpy())
                roc_ax.plot(fpr, tpr, color=palette[i % 20], linewidth=1, label=c)
        roc_ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1)
        roc_ax.set_title(f"{label}: one-vs-rest ROC", fontsize=9)
        roc_ax.set_xlabel("false positive rate")
        roc_ax.set_ylabel("true positive rate")
        roc_ax.legend(fontsize=6, loc="lower right")
        predicted = pd.Categorical(part["predicted_label"].astype(str), classes)
        counts = pd.crosstab(pd.Categorical(true, classes), predicted, dropna=False).to_numpy(dtype=float)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        cm_ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for (i, j), value in np.ndenumerate(share):
            if len(classes) <= 12:
                cm_ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                           color="white" if value > 0.6 else "black")
        cm_ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
        cm_ax.set_yticks(range(len(classes)), classes, fontsize=6)
        cm_ax.set_xlabel("predicted")
        cm_ax.set_ylabel("true")
        cm_ax.set_title(f"{label}: confusion (row shares)", fontsize=9)
    figure.suptitle(title)
    return figure


def _for_experiment(path, experiment: str) -> pd.DataFrame:
    table = ok_only(pd.read_csv(path, sep="\t"))
    return table[table["experiment"] == experiment] if "experiment" in table else table.iloc[0:0]


def make_figures(summary_path, predictions_path, projection_path, figures_dir, experiment: str) -> list[Path]:
    table = _for_experiment(summary_path, experiment)
    predictions = _for_experiment(predictions_path, experiment)
    points = _for_experiment(projection_path, experiment)
    n_seeds = table["seed"].nunique() if len(table) else 0
    title = f"{experiment} (mean ± sd over {n_seeds} seed{'s' if n_seeds != 1 else ''} and folds)"
    written = []
    for stem, kind in zip(figure_stems(figures_dir, experiment), KINDS, strict=False):
        if kind == "augmentation" and (table["evaluation"] == "augmentation").any():
            figure = augmentation_figure(table, title)
        elif kind == "fidelity" and (table["evaluation"] == "fidelity").any():
            figure = fidelity_figure(table, f"{experiment}: fidelity at the largest training fraction")
        elif kind == "projection" and len(points):
            figure = projection_figure(points, f"{experiment}: PCA of real and generated samples")
        elif kind == "roc_confusion" and len(predictions):
            figure = roc_confusion_figure(predictions, f"{experiment}: held-out predictions, largest training fraction")
        else:
            figure = message_figure(f"{experiment}: no successful job to draw")
        written += save_figure(figure, stem)
    return written
