"""Shared PyTorch training for every classifier of the benchmark.

All models train the same way, as in the paper: Adam, class-weighted loss,
mini-batches, gradient-norm clipping, at most ``max_epochs`` epochs, and early
stopping on a group-wise holdout of the training data whose patience counter
resets whenever the holdout loss improves. ``fit`` and ``predict`` accept
tensors already on the device, so a job moves its matrix there once; batches
are slices of it. Mixed precision (autocast) is off unless asked for. The loop
itself is the shared engine, ``exprbench.training``; a classifier gives it its
network, its loss and its optimiser.

A batch-16 step of a 5,000-gene MLP is bound by memory traffic (weights,
gradients, Adam's moments), so the loop moves each of them as few times as it
can: fused Adam on a GPU, gradients scaled by clipping only when their norm is over the
limit, no host synchronisation per step, freed buffers reused rather than
faulted in again (``benchmarks/training_roofline.py`` measures the bound).
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from ...devices import as_device_tensor, resolve_device
from ...params import BOOLEAN, DEVICE, SEED, Real, accept_renamed, at_least, between, positive
from ...seeding import make_rng
from ...splits import group_holdout
from ...training import Engine, Monitor, TensorBatches, seed_training

EVAL_BATCH = 8192
GLIBC_M_TRIM_THRESHOLD, GLIBC_M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES = 1 << 30
_freed_memory_kept = False


def keep_freed_memory() -> None:
    """Let glibc keep freed blocks up to 1 GiB in its heap, for this process.

    Above glibc's mmap threshold (at most 32 MB by default) every gradient of a
    large layer is a fresh mapping whose pages fault in again at each step, a
    fifth of an MLP epoch at 5,000 genes. Set once; does nothing off glibc.
    """
    global _freed_memory_kept
    if _freed_memory_kept or not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return
    mallopt(GLIBC_M_MMAP_THRESHOLD, KEEP_FREED_BYTES)
    mallopt(GLIBC_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)
    _freed_memory_kept = True


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse class frequency, normalised so a balanced set has weights of 1."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base for torch classifiers; subclasses build the network and the loss."""

    _parameter_constraints = {
        "learning_rate": [positive()],
        "weight_decay": [at_least(0, Real)],
        "batch_size": [at_least(1)],
        "max_epochs": [at_least(1)],
        "patience": [at_least(1)],
        "clip_grad_norm": [at_least(0, Real), None],  # 0 or null: no clipping
        "early_stopping_fraction": [between(0, 1, closed="left")],
        "device": [DEVICE],
        "mixed_precision": [BOOLEAN],
        "warm_start": [BOOLEAN],
        "random_state": [SEED],
    }
    _test_params = {"max_epochs": 2, "batch_size": 8, "patience": 2, "device": "cpu"}

    def __init__(
        self,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 16,
        max_epochs: int = 50,
        patience: int = 7,
        clip_grad_norm: float = 1.0,
        early_stopping_fraction: float = 0.2,
        device: str = "auto",
        mixed_precision: bool = False,
        warm_start: bool = False,
        random_state: int = 0,
        **renamed,
    ):
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping_fraction = early_stopping_fraction
        self.device = device
        self.mixed_precision = mixed_precision
        self.warm_start = warm_start
        self.random_state = random_state
        accept_renamed(self, renamed)  # lr=: callers written before the rename

    @classmethod
    def _test_data(cls, rng):
        X = rng.normal(size=(40, 12)).astype(np.float32)
        y = np.repeat(np.array(["a", "b", "c", "d"]), 10)
        X[:, 0] += np.searchsorted(np.unique(y), y)
        return (X, y), {}

    def _test_outputs(self, data):
        (X, _), _ = data
        return self.decision_function(X)

    def build_network(self, n_features: int, n_classes: int) -> torch.nn.Module:
        raise NotImplementedError

    def build_loss(self, weight: torch.Tensor) -> torch.nn.Module:
        return torch.nn.CrossEntropyLoss(weight=weight)

    def fit(self, X, y, *, classes=None, groups=None, correct=None, tracker=None):
        """Train on ``X``; ``correct(X_part, y_part)``, when given, is applied to
        the fit part and to the early-stopping holdout each on its own (signal
        removal of one set would anti-correlate the parts cut from it)."""
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {self.max_epochs}")
        y = np.asarray(y)
        self.classes_ = np.unique(y) if classes is None else np.asarray(classes)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"labels {unknown.tolist()} are not among classes {self.classes_.tolist()}")
        codes = np.searchsorted(self.classes_, y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)

        seed_training(self.random_state)
        self.device_ = resolve_device(self.device)
        X = as_device_tensor(X, self.device_)
        n_classes = len(self.classes_)
        fit_idx, stop_idx = group_holdout(groups, self.early_stopping_fraction, make_rng(self.random_state, "holdout"))
        if stop_idx.size == 0:
            fit_idx, stop_idx = np.arange(len(y)), np.arange(len(y))

        labels = torch.as_tensor(codes, dtype=torch.long, device=self.device_)
        fit_rows = torch.as_tensor(fit_idx, device=self.device_)
        stop_rows = torch.as_tensor(stop_idx, device=self.device_)
        X_fit, y_fit = X[fit_rows], labels[fit_rows]
        X_stop, y_stop = X[stop_rows], labels[stop_rows]
        if correct is not None:
            X_fit = as_device_tensor(correct(X_fit, y[fit_idx]), self.device_)
            X_stop = as_device_tensor(correct(X_stop, y[stop_idx]), self.device_)
        weight = torch.as_tensor(class_weights(codes[fit_idx], n_classes), device=self.device_)

        if self.warm_start and hasattr(self, "network_"):  # continue training, e.g. after pretraining
            network = self.network_
        else:
            network = self.build_network(X.shape[1], n_classes).to(self.device_)
        loss_fn = self.build_loss(weight)
        optimizer = self._prepare_training(network)
        shuffler = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        engine = Engine(self.device_, max_epochs=self.max_epochs, patience=self.patience,
                        clip_grad_norm=self.clip_grad_norm, mixed_precision=self.mixed_precision, tracker=tracker)
        best = Monitor("val_loss", network)
        result = engine.fit(network, TensorBatches(X_fit, y_fit, batch_size=self.batch_size, generator=shuffler),
                            lambda batch: loss_fn(network(batch[0]), batch[1]), optimizer,
                            evaluate=lambda epoch: {"val_loss": self._loss(network, loss_fn, X_stop, y_stop)},
                            monitors=[best])
        self.history_ = result.history
        if best.best_epoch is None:  # NaN compares false: no epoch ever improved on infinity
            raise FloatingPointError(
                f"loss was never finite in {len(self.history_)} epochs (learning rate too high? non-finite input?)")
        self.best_epoch_ = best.best_epoch  # its parameters were restored
        self.network_ = network.eval()
        self.n_epochs_ = len(self.history_)
        self.fit_seconds_ = result.seconds
        return self

    def _prepare_training(self, network: torch.nn.Module) -> torch.optim.Optimizer:
        """The optimizer. On a GPU, fused Adam (one kernel over parameters, gradients
        and moments). On the CPU it would be ~1.7x faster per step again, but its
        last-bit differences flip early stopping on small sets and so move
        balanced accuracy; CPU results stay identical to the plain loop instead."""
        keep_freed_memory()
        fused = True if self.device_.type == "cuda" else None
        return torch.optim.Adam(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay,
                                fused=fused)

    @torch.no_grad()
    def _loss(self, network, loss_fn, X, y) -> float:
        network.eval()
        return float(loss_fn(self._logits(network, X), y))

    @staticmethod
    def _logits(network, X: torch.Tensor) -> torch.Tensor:
        return torch.cat([network(X[i : i + EVAL_BATCH]) for i in range(0, len(X), EVAL_BATCH)])

    @torch.no_grad()
    def decision_function(self, X) -> np.ndarray:
        return self._logits(self.network_.eval(), as_device_tensor(X, self.device_)).float().cpu().numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
