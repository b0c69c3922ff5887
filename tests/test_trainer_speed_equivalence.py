"""The fast training loop (the shared engine) against the loop it replaced (a
stand-alone copy, the baseline of benchmarks/training_roofline.py), and the page
faults it no longer takes."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


FAULT_COUNT = """
import resource
import numpy as np
import torch
from exprbench.classification.models import MODELS

torch.set_num_threads(1)
rng = np.random.default_rng(0)
X = rng.standard_normal((48, 5000)).astype(np.float32)  # first layer 2500 x 5000: 50 MB, above the mmap threshold
y = np.arange(48) % 2


def faults(epochs):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model = MODELS.get("mlp3")(max_epochs=epochs, patience=50, device="cpu", random_state=0).fit(X, y)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, model


faults(1)  # first fit: buffers come from the OS once
short, _ = faults(1)
long, model = faults(4)
pages = sum(p.numel() for p in model.network_.parameters()) * 4 // 4096
steps = 3 * -(-int(48 * 0.8) // 16)  # three more epochs of the 80% not held out for early stopping
print((long - short) // steps, pages)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator")
def test_training_steps_reuse_freed_memory_instead_of_faulting_pages():
    # A fresh process: what earlier tests left in this one's heap moves the count.
    out = subprocess.run([sys.executable, "-c", FAULT_COUNT], capture_output=True, text=True, check=True).stdout
    faults_per_step, parameter_pages = map(int, out.split())
    # Re-faulting gradients, weights and Adam's moments costs several times the
    # parameters' pages per step; measured: about 0.4 times (foreach temporaries).
    assert faults_per_step < parameter_pages, f"{faults_per_step} faults per step ({parameter_pages} parameter pages)"
