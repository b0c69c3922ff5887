"""Stacked training (exprbench.classification.stacked) against the same fits one by one."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from exprbench.classification.models import MODELS
from exprbench.classification.stacked import fit_stacked, stackable
from exprbench.classification.tuning import nested_search


def toy_task(n=150, genes=40, n_classes=3, seed=5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = rng.standard_normal((n, genes)).astype(np.float32)
    X[:, :n_classes] += 1.2 * np.eye(n_classes, dtype=np.float32)[y]
    return X, y, np.arange(n) // 3


def fits(model_name, n_fits=5):
    """Fits that differ in rows, learning rate, weight decay and seed; some stop early."""
    X, y, groups = toy_task()
    rng = np.random.default_rng(1)
    base = MODELS.get(model_name)(device="cpu", max_epochs=14, patience=2, batch_size=16)
    models, row_sets = [], []
    for k in range(n_fits):
        rows = np.sort(rng.choice(len(y), size=int(rng.integers(70, 130)), replace=False))
        params = {"learning_rate": float(10 ** rng.uniform(-2.5, -1.5)),
                  "weight_decay": [0.0, 1e-3, 1e-1][k % 3], "random_state": 11 + k}
        models.append(clone(base).set_params(**params))
        row_sets.append(rows)
    return X, y, groups, models, row_sets


def sequential(models, X, y, groups, row_sets, correct=None):
    return [clone(m).fit(X[rows], y[rows], classes=np.arange(3), groups=groups[rows], correct=correct)
            for m, rows in zip(models, row_sets, strict=False)]


def assert_same_fits(one_by_one, stacked, X):
    for a, b in zip(one_by_one, stacked, strict=False):
        assert (a.best_epoch_, a.n_epochs_) == (b.best_epoch_, b.n_epochs_)
        np.testing.assert_allclose([h["val_loss"] for h in b.history_], [h["val_loss"] for h in a.history_],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.decision_function(X), a.decision_function(X), rtol=0, atol=1e-5)
        np.testing.assert_array_equal(b.predict(X), a.predict(X))


@pytest.mark.parametrize("model", ["logistic_regression", "linear_svm", "mlp3"])
def test_stacked_fits_match_sequential_fits(model):
    torch.set_num_threads(1)
    X, y, groups, models, row_sets = fits(model)
    one_by_one = sequential(models, X, y, groups, row_sets)
    stacked = fit_stacked([clone(m) for m in models], X, y, row_sets, groups=groups, classes=np.arange(3))
    assert any(m.n_epochs_ < 14 for m in one_by_one), "the toy task should stop some fits early"
    assert len({m.n_epochs_ for m in one_by_one}) > 1, "fits should stop at different epochs"
    assert_same_fits(one_by_one, stacked, X)


def test_stacked_fits_correct_each_part_on_its_own():
    X, y, groups, models, row_sets = fits("logistic_regression", n_fits=3)

    def correct(part, labels):  # stands in for signal removal: depends on the part it gets
        part = torch.as_tensor(part)
        return part - part.mean(0) + 0.1 * torch.as_tensor(labels, dtype=part.dtype)[:, None]

    one_by_one = sequential(models, X, y, groups, row_sets, correct=correct)
    stacked = fit_stacked([clone(m) for m in models], X, y, row_sets, groups=groups, classes=np.arange(3),
                          correct=correct)
    assert_same_fits(one_by_one, stacked, X)


def test_nested_search_stacked_chooses_as_sequential():
    X, y, groups = toy_task()
    model = MODELS.get("logistic_regression")(device="cpu", max_epochs=8, patience=2)
    space = {"learning_rate": {"log_uniform": [1e-3, 3e-2]}, "weight_decay": {"log_uniform": [1e-5, 1e-1]}}
    kwargs = dict(n_trials=3, inner_folds=2)
    best, trials = nested_search(model, space, X, y, groups, np.arange(3), rng=np.random.default_rng(4), **kwargs)
    best_s, trials_s = nested_search(model, space, X, y, groups, np.arange(3), rng=np.random.default_rng(4),
                                     stacked=True, **kwargs)
    assert best == best_s
    np.testing.assert_allclose([t["score"] for t in trials_s], [t["score"] for t in trials], atol=1e-12)


def test_what_stacks():
    assert stackable(MODELS.get("logistic_regression")()) is None
    assert stackable(MODELS.get("mlp3")()) is None
    assert "BatchNorm" in stackable(MODELS.get("mlp5")())
    assert "warm" in stackable(MODELS.get("linear_svm")(warm_start=True))


def compiled_against_eager(backend):
    X, y, groups, models, row_sets = fits("linear_svm", n_fits=3)
    eager = fit_stacked([clone(m) for m in models], X, y, row_sets, groups=groups, classes=np.arange(3))
    compiled = fit_stacked([clone(m) for m in models], X, y, row_sets, groups=groups, classes=np.arange(3),
                           compile_steps=backend)
    assert_same_fits(eager, compiled, X)


def test_compiled_steps_match_eager_steps():
    # aot_eager traces the steps as inductor does (graph capture, autograd,
    # mutated parameters) without its C++ build: seconds instead of a minute.
    compiled_against_eager("aot_eager")


@pytest.mark.slow
def test_inductor_compiled_steps_match_eager_steps():
    """compile_steps: true as the workflow uses it (about a minute of C++ builds on 2 cores)."""
    from torch._inductor import cpp_builder

    try:
        cpp_builder.get_cpp_compiler()
    except Exception as err:
        pytest.skip(f"torch.compile has no C++ compiler here: {err}")
    compiled_against_eager(True)


def test_stacked_fits_switch():
    from exprbench.classification.job import use_stacked_fits

    assert use_stacked_fits("auto", "cpu") is False  # the CPU keeps the one-by-one path
    assert use_stacked_fits("on", "cpu") and use_stacked_fits(True, "cpu")
    assert not use_stacked_fits("off", "cpu") and not use_stacked_fits(False, "cpu")
    with pytest.raises(ValueError, match="stacked_fits"):
        use_stacked_fits("sometimes", "cpu")


def test_fit_commands_take_the_switches():
    from exprbench.cli import build_parser

    required = ["fit", "--task", "{}", "--model", "{}", "--manifest", "m.json", "--dataset", "d",
                "--signal-removal", "none", "--seed", "0", "--fold", "0", "--metrics", "m.tsv",
                "--predictions", "p.tsv"]
    args = build_parser().parse_args(required)
    assert (args.stacked_fits, args.compile_steps) == ("auto", False)
    args = build_parser().parse_args(required + ["--stacked-fits", "on", "--compile-steps"])
    assert (args.stacked_fits, args.compile_steps) == ("on", True)


def test_a_job_with_stacked_search_fits_gives_the_same_rows(tmp_path):
    import dataclasses

    import pandas as pd
    from test_job import TIMING, make_job, sim_config

    config, path = sim_config(tmp_path, models=["logistic_regression"])
    config["models"]["logistic_regression"]["params"]["max_epochs"] = 6  # a short test; stops early or not
    job = make_job(config, path, model="logistic_regression")
    metrics, predictions = job.run()
    metrics_s, predictions_s = dataclasses.replace(job, stacked_fits="on").run()
    pd.testing.assert_frame_equal(metrics_s.drop(columns=TIMING), metrics.drop(columns=TIMING))
    pd.testing.assert_frame_equal(predictions_s, predictions)
