"""Smoother accuracy and figure drawing from a synthetic summary table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from exprbench.classification.figures import (
    REQUIRED_COLUMNS,
    SummaryFormatError,
    make_figures,
    model_colours,
    model_display_name,
    plot_binary_pairs,
    plot_learning_curves,
)
from exprbench.classification.smoothing import loess
from exprbench.cli import main as cli_main

MODELS = ("logistic_regression", "linear_svm", "mlp3", "mlp5")


# ------------------------------------------------------------------ smoother


@pytest.mark.parametrize("kernel", ["tricube", "gaussian"])
def test_loess_recovers_a_line_exactly_without_noise(kernel):
    x = np.linspace(0, 10, 50)
    smooth = loess(x, 3 * x - 2, kernel=kernel)
    np.testing.assert_allclose(smooth.fit, 3 * smooth.x - 2, atol=1e-9)
    np.testing.assert_allclose(smooth.upper - smooth.lower, 0, atol=1e-6)


@pytest.mark.parametrize("kernel", ["tricube", "gaussian"])
def test_loess_follows_a_quadratic_trend(kernel):
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 400)
    y = x**2 + rng.normal(0, 0.05, x.size)
    smooth = loess(x, y, span=0.15, kernel=kernel)
    error = np.abs(smooth.fit - smooth.x**2)
    # Local lines cut a curve's corners a little, most of all at the edges.
    assert error.max() < 0.1
    assert error.mean() < 0.025


@pytest.mark.parametrize("kernel", ["tricube", "gaussian"])
def test_band_covers_the_true_line_at_most_grid_points(kernel):
    # One dataset's misses cluster along the grid, so judge coverage over many.
    rng = np.random.default_rng(7)
    coverage = []
    for _ in range(100):
        x = rng.uniform(0, 10, 150)
        y = 0.5 * x + 1 + rng.normal(0, 1.0, x.size)
        smooth = loess(x, y, grid_size=40, kernel=kernel)
        truth = 0.5 * smooth.x + 1
        coverage.append(np.mean((smooth.lower <= truth) & (truth <= smooth.upper)))
    coverage = np.array(coverage)
    assert 0.9 <= coverage.mean() <= 0.99
    assert np.mean(coverage >= 0.5) >= 0.9


def test_residual_sigma_estimates_the_noise_level():
    rng = np.random.default_rng(13)
    x = rng.uniform(0, 10, 300)
    smooth = loess(x, np.sin(x) + rng.normal(0, 0.4, x.size), span=0.3)
    assert smooth.sigma == pytest.approx(0.4, rel=0.15)
    assert np.all(smooth.upper > smooth.lower)


def test_band_narrows_with_more_data():
    rng = np.random.default_rng(11)

    def mean_band_width(n_points):
        x = rng.uniform(0, 1, n_points)
        smooth = loess(x, x + rng.normal(0, 0.2, n_points))
        return np.mean(smooth.upper - smooth.lower)

    assert mean_band_width(1000) < mean_band_width(50)


@pytest.mark.parametrize("kernel", ["tricube", "gaussian"])
def test_loess_handles_heavily_tied_x(kernel):
    rng = np.random.default_rng(5)
    levels = np.array([10.0, 20, 50, 100, 200, 500])
    x = np.repeat(np.log10(levels), 25)
    y = 0.5 + 0.1 * x + rng.normal(0, 0.02, x.size)
    smooth = loess(x, y, kernel=kernel)
    assert np.all(np.isfinite(smooth.fit)) and np.all(np.isfinite(smooth.lower))
    np.testing.assert_allclose(smooth.fit, 0.5 + 0.1 * smooth.x, atol=0.02)


def test_gaussian_kernel_stays_smooth_across_few_tied_levels():
    # Tricube drops a whole tied block at the neighbourhood edge and jumps
    # where two blocks swap; the Gaussian curve must not.
    rng = np.random.default_rng(2)
    x = np.repeat([80.0, 240, 480, 800], 15)
    y = 0.9 - 0.4 * np.exp(-x / 250) + rng.normal(0, 0.03, x.size)
    steps = {
        kernel: np.max(np.abs(np.diff(loess(x, y, kernel=kernel, grid_size=400).fit)))
        for kernel in ("tricube", "gaussian")
    }
    assert steps["gaussian"] < 0.002
    assert steps["tricube"] > 2 * steps["gaussian"]


def test_loess_on_two_distinct_x_values_fits_their_means():
    x = np.repeat([1.0, 2.0], 10)
    y = np.repeat([1.0, 3.0], 10)
    smooth = loess(x, y)
    assert smooth.fit[0] == pytest.approx(1.0)
    assert smooth.fit[-1] == pytest.approx(3.0)


@pytest.mark.parametrize(
    "x, y, expected_x, expected_fit",
    [
        ([], [], [], []),
        ([4.0], [0.7], [4.0], [0.7]),
        ([1.0, 2.0, 3.0], [0.5, 0.6, 0.9], [1.0, 2.0, 3.0], [0.5, 0.6, 0.9]),
        ([2.0, 2.0, 2.0, 2.0, 2.0], [0.1, 0.2, 0.3, 0.4, 0.5], [2.0], [0.3]),
        ([1.0, 1.0, 3.0], [0.2, 0.4, 0.9], [1.0, 3.0], [0.3, 0.9]),
        ([1.0, np.nan, 2.0, 3.0, np.inf], [0.1, 0.5, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0], [0.1, 0.2, 0.3]),
    ],
)
def test_loess_returns_means_without_a_band_on_degenerate_input(x, y, expected_x, expected_fit):
    smooth = loess(x, y)
    np.testing.assert_allclose(smooth.x, expected_x)
    np.testing.assert_allclose(smooth.fit, expected_fit)
    np.testing.assert_array_equal(smooth.lower, smooth.fit)
    np.testing.assert_array_equal(smooth.upper, smooth.fit)


def test_loess_rejects_mismatched_lengths_and_bad_span():
    with pytest.raises(ValueError, match="length"):
        loess([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="span"):
        loess([1, 2, 3, 4], [1, 2, 3, 4], span=0)
    with pytest.raises(ValueError, match="kernel"):
        loess([1, 2, 3, 4], [1, 2, 3, 4], kernel="boxcar")


# ------------------------------------------------------------------- figures


def synthetic_summary(n_seeds: int = 2, n_folds: int = 3) -> pd.DataFrame:
    """Two single tasks and one pair task, both signal removals, four models."""
    rng = np.random.default_rng(0)
    fractions = (0.1, 0.3, 0.6, 1.0)
    tasks = [
        ("tissue", "recount3", "multiclass", 4000, [""]),
        ("sex", "gtex", "binary", 300, [""]),
        ("blood_cells", "recount3", "binary_pairs", 800, ["B|T", "B|NK", "NK|T"]),
    ]
    rows = []
    for (task, dataset, kind, full_size, pairs), model, removal in itertools.product(
        tasks, MODELS, ("none", "limma")
    ):
        linear = model in ("logistic_regression", "linear_svm")
        for pair, seed, fold, fraction in itertools.product(pairs, range(n_seeds), range(n_folds), fractions):
            n_train = int(full_size * fraction)
            baseline = 0.5 if kind != "multiclass" else 0.1
            ceiling = baseline if (removal == "limma" and linear) else 0.9
            learned = (ceiling - baseline) * (1 - np.exp(-n_train / 200))
            accuracy = float(np.clip(baseline + learned + rng.normal(0, 0.03), 0, 1))
            rows.append(
                dict(
                    task=task, dataset=dataset, model=model, signal_removal=removal,
                    seed=seed, fold=fold, train_fraction=fraction, class_pair=pair, kind=kind,
                    n_train=n_train, n_val=200, accuracy=accuracy, balanced_accuracy=accuracy,
                    baseline_balanced_accuracy=baseline,
                )
            )
    return pd.DataFrame(rows)


def write_summary(frame: pd.DataFrame, path) -> None:
    frame.to_csv(path, sep="\t", index=False)


def assert_written(paths, *stems):
    expected = [f"{stem}.{ext}" for stem in stems for ext in ("png", "svg")]
    assert sorted(path.name for path in paths) == sorted(expected)
    for path in paths:
        assert path.is_file() and path.stat().st_size > 1000, path
    assert not any(path.name.endswith(".tmp") for path in paths[0].parent.iterdir())


def test_make_figures_writes_png_and_svg_for_every_figure(tmp_path):
    summary_path = tmp_path / "summary.tsv"
    write_summary(synthetic_summary(), summary_path)
    written = make_figures(summary_path, tmp_path / "figures")
    assert_written(written, "learning_curves", "binary_pairs")
    assert written[0].read_bytes().startswith(b"\x89PNG")
    svg = (tmp_path / "figures" / "learning_curves.svg").read_text()
    assert "<svg" in svg


def test_rerunning_gives_identical_files(tmp_path):
    summary_path = tmp_path / "summary.tsv"
    write_summary(synthetic_summary(n_seeds=1, n_folds=2), summary_path)
    first = {p.name: p.read_bytes() for p in make_figures(summary_path, tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in make_figures(summary_path, tmp_path / "b")}
    assert first == second


def test_learning_curves_leave_out_pair_tasks(tmp_path):
    summary = synthetic_summary(n_seeds=1, n_folds=2)
    only_pairs = summary[summary["kind"] == "binary_pairs"]
    written = plot_learning_curves(only_pairs, tmp_path / "curves")
    assert_written(written, "curves")
    # With nothing but pairs, the figure is the small "nothing to show" one.
    assert written[0].stat().st_size < plot_learning_curves(summary, tmp_path / "full")[0].stat().st_size


def test_binary_pairs_without_pair_tasks_writes_a_message_figure(tmp_path):
    summary = synthetic_summary(n_seeds=1, n_folds=2)
    no_pairs = summary[summary["kind"] != "binary_pairs"]
    written = plot_binary_pairs(no_pairs, tmp_path / "pairs")
    assert_written(written, "pairs")
    assert "No binary-pair tasks" in _svg_text_content(written)


def test_figures_cope_with_sparse_and_single_removal_results(tmp_path):
    summary = synthetic_summary(n_seeds=1, n_folds=1)
    # One model with a single point, one with a single training size, no limma.
    sparse = summary[summary["signal_removal"] == "none"].copy()
    sparse = sparse[~((sparse["model"] == "mlp5") & (sparse["train_fraction"] < 1.0))]
    sparse.loc[sparse["model"] == "mlp3", "n_train"] = 100
    sparse["class_pair"] = sparse["class_pair"].replace("", np.nan)
    written = plot_learning_curves(sparse, tmp_path / "sparse") + plot_binary_pairs(sparse, tmp_path / "sparse_pairs")
    assert_written(written, "sparse", "sparse_pairs")


def test_empty_summary_still_writes_figures(tmp_path):
    empty = synthetic_summary().iloc[0:0]
    written = plot_learning_curves(empty, tmp_path / "curves") + plot_binary_pairs(empty, tmp_path / "pairs")
    assert_written(written, "curves", "pairs")


def test_missing_column_error_names_file_and_column(tmp_path):
    summary_path = tmp_path / "summary.tsv"
    write_summary(synthetic_summary(n_seeds=1, n_folds=1).drop(columns=["baseline_balanced_accuracy"]), summary_path)
    with pytest.raises(SummaryFormatError) as error:
        make_figures(summary_path, tmp_path / "figures")
    message = str(error.value)
    assert str(summary_path) in message
    assert "baseline_balanced_accuracy" in message
    assert not (tmp_path / "figures").exists()


def test_plot_functions_check_columns_too(tmp_path):
    summary = synthetic_summary(n_seeds=1, n_folds=1).drop(columns=["n_train"])
    with pytest.raises(SummaryFormatError, match="n_train"):
        plot_learning_curves(summary, tmp_path / "curves")


def test_command_line_reports_a_bad_summary_without_a_traceback(tmp_path, capsys):
    summary_path = tmp_path / "summary.tsv"
    write_summary(pd.DataFrame({"task": ["t"]}), summary_path)
    assert cli_main(["figures", "--summary", str(summary_path), "--out-dir", str(tmp_path / "figures")]) != 0
    error = capsys.readouterr().err
    assert str(summary_path) in error and "balanced_accuracy" in error


def test_required_columns_cover_what_the_figures_use():
    assert {"task", "model", "signal_removal", "n_train", "balanced_accuracy"} <= set(REQUIRED_COLUMNS)


def test_model_names_and_colours_are_stable():
    assert [model_display_name(m) for m in MODELS] == [
        "Logistic regression", "Linear SVM", "3-layer MLP", "5-layer MLP",
    ]
    assert model_display_name("random_forest") == "random_forest"
    with_extra = model_colours(["random_forest", "mlp3"])
    alone = model_colours(["mlp3"])
    assert with_extra["mlp3"] == alone["mlp3"]
    assert len({with_extra[m] for m in (*MODELS, "random_forest")}) == 5


def _svg_text_content(paths) -> str:
    # SVG text is drawn as paths, but matplotlib keeps the string in a comment.
    svg = next(path for path in paths if path.suffix == ".svg")
    return svg.read_text()
