"""The fast training loop (the shared engine) against the loop it replaced (a
stand-alone copy, the baseline of benchmarks/training_roofline.py), and the page
faults it no longer takes."""

import importlib.util
import resource
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from exprbench.classification.models import MODELS

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "training_roofline.py"


def old_fit(model, X, y, groups):
    spec = importlib.util.spec_from_file_location("training_roofline", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.old_fit(model, X, y, groups)


def small_problem(n=160, genes=60):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, genes)).astype(np.float32) + 0.8 * y[:, None] * (np.arange(genes) < 10)
    return X, y


@pytest.mark.parametrize("model", ["logistic_regression", "linear_svm", "mlp3", "mlp5"])
def test_fast_loop_matches_old_loop(model):
    X, y = small_problem()
    groups = np.arange(len(y)) // 4
    settings = dict(max_epochs=12, patience=3, device="cpu", random_state=7, learning_rate=3e-3)
    new = MODELS.get(model)(**settings).fit(X, y, groups=groups)
    old = old_fit(MODELS.get(model)(**settings), X, y, groups)
    assert not isinstance(old, MODELS.get(model))  # a different implementation, not the engine again
    assert (new.best_epoch_, new.n_epochs_) == (old.best_epoch_, old.n_epochs_)
    # On the CPU the fast loop is the old one to the last bit (plain Adam there).
    np.testing.assert_array_equal(new.decision_function(X), old.decision_function(X))
    assert [h["val_loss"] for h in new.history_] == [h["val_loss"] for h in old.history_]
    again = MODELS.get(model)(**settings).fit(X, y, groups=groups)
    np.testing.assert_array_equal(again.decision_function(X), new.decision_function(X))
    assert [h["val_loss"] for h in again.history_] == [h["val_loss"] for h in new.history_]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator")
def test_training_steps_reuse_freed_memory_instead_of_faulting_pages():
    torch.set_num_threads(1)
    X, y = small_problem(n=48, genes=5000)  # first layer 2500 x 5000: 50 MB, above glibc's mmap threshold
    settings = dict(max_epochs=2, patience=5, device="cpu", random_state=0)
    MODELS.get("mlp3")(**settings).fit(X, y)  # first fit: buffers come from the OS once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model = MODELS.get("mlp3")(**settings).fit(X, y)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    parameter_pages = sum(p.numel() for p in model.network_.parameters()) * 4 // 4096
    # Re-faulting gradients, weights and Adam's moments each step costs several
    # times the parameters' pages per step; reused memory costs almost none.
    assert faults < parameter_pages, f"{faults} page faults in a 2-epoch fit ({parameter_pages} pages of parameters)"
