"""The training loop every neural inference model shares.

The epochs run on ``exprbench.training.Engine``: each one streams the training
batches, lets the model take its optimiser step(s), runs the model's end-of-epoch
hook (D-GEX's learning-rate decay), scores the validation split by MAE and keeps
the parameters of the best epoch; a model made of independent networks (D-GEX's
two halves) lists them in ``_heads`` and each keeps its own best epoch on its own
targets' MAE. Models supply the network (``_build``), the optimisers (``_setup``,
``_optimizers``), the loss of a batch (``_loss``) or, when a batch takes more than
one step (Deep-LSMTL's alternating schedule), ``_train_step``; and, when they carry
more than a predictor (Deep-LSMTL's relation network), ``predictor``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from ...devices import resolve_device
from ...training import Engine, Monitor, StreamedBatches, seed_training
from ..batches import ArrayBatches, as_batches
from ._contract import InferenceContract

EVAL_BATCH = 4096


def regression_loss(prediction: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean absolute (``l1``) or mean squared (``l2``) error over all entries."""
    if kind == "l1":
        return (prediction - target).abs().mean()
    if kind == "l2":
        return ((prediction - target) ** 2).mean()
    raise ValueError(f"loss must be 'l1' or 'l2', got {kind!r}")


def as_source(data, batch_size: int = EVAL_BATCH):
    if data is None or hasattr(data, "in_order"):
        return data
    X, Y = data
    return ArrayBatches(X, Y, batch_size)


class TorchRegressor(InferenceContract, RegressorMixin, BaseEstimator):
    """Base for the neural regressors; subclasses list their own ``__init__`` arguments
    and must have ``max_epochs``, ``batch_size``, ``device``, ``random_state`` and ``verbose``."""

    def _build(self, n_inputs: int, n_outputs: int) -> torch.nn.Module:
        raise NotImplementedError

    def _setup(self) -> None:
        """Create optimisers for ``self.network_``."""
        raise NotImplementedError

    def _optimizers(self):
        """The optimiser(s) one training step updates."""
        return self.optimizer_

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, epoch: int, step=None) -> torch.Tensor:
        """One batch: ``step(optimizers, compute_loss, ...)`` is the engine's optimisation
        step (a plain one when not given, e.g. in benchmarks); returns the loss to report."""
        return self._stepper(step)(self._optimizers(), lambda: self._loss(x, y))

    def _stepper(self, step):
        return step if step is not None else Engine(self.device_, max_epochs=1).step

    def _end_epoch(self, epoch: int, source) -> dict:
        return {}

    def _heads(self) -> list[tuple[slice, torch.nn.Module]]:
        """(target columns, module) pairs that select their best epoch each on their own
        validation MAE; one pair (all targets, the whole network) unless the model is
        made of independent networks (D-GEX's two halves)."""
        return [(slice(None), self.network_)]

    def predictor(self) -> torch.nn.Module:
        """The module mapping landmarks to targets (attribution uses it)."""
        return self.network_

    def fit(self, X, Y=None, *, validation=None):
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {self.max_epochs}")
        source = as_batches(X, Y, self.batch_size, self.random_state)
        validation = as_source(validation)
        seed_training(self.random_state)
        self.device_ = resolve_device(self.device)
        self.n_outputs_ = source.n_outputs
        self.network_ = self._build(source.n_inputs, source.n_outputs).to(self.device_)
        self._setup()
        heads = self._heads()
        # Each head keeps its own best epoch: heads share no parameters.
        monitors = [Monitor("val_mae" if len(heads) == 1 else f"val_mae_head{i}", module)
                    for i, (_, module) in enumerate(heads)]

        def evaluate(epoch):
            record = dict(self._end_epoch(epoch, source))
            if validation is not None:
                column_mae = self.column_mae(validation)
                record["val_mae"] = float(column_mae.mean())
                if len(heads) > 1:
                    record.update({f"val_mae_head{i}": float(column_mae[columns].mean())
                                   for i, (columns, _) in enumerate(heads)})
            return record

        started = time.perf_counter()

        def say(record):
            if self.verbose:
                shown = ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch")
                print(f"{type(self).__name__} epoch {record['epoch'] + 1}/{self.max_epochs}: {shown} "
                      f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)

        engine = Engine(self.device_, max_epochs=self.max_epochs, progress=f"{type(self).__name__} training",
                        on_epoch=say)
        result = engine.fit(self.network_, StreamedBatches(source, self.device_),
                            train_batch=lambda batch, epoch: self._train_step(*batch, epoch, engine.step),
                            evaluate=evaluate, monitors=monitors)
        self.history_ = result.history
        self.best_epochs_ = [self.max_epochs - 1 if monitor.best_epoch is None else monitor.best_epoch
                             for monitor in monitors]
        # The last epoch whose parameters are kept; best_epochs_ has one per head.
        self.best_epoch_ = max(self.best_epochs_)
        self.n_epochs_ = len(self.history_)
        self.network_.eval()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @torch.no_grad()
    def predict(self, X) -> np.ndarray:
        network = self.predictor().eval()
        X = np.asarray(X, dtype=np.float32)
        parts = [network(torch.from_numpy(X[i:i + EVAL_BATCH]).to(self.device_)).float().cpu().numpy()
                 for i in range(0, len(X), EVAL_BATCH)]
        return np.concatenate(parts) if parts else np.empty((0, self.n_outputs_), np.float32)

    def mae(self, source) -> float:
        """MAE over a batch source or ``(X, Y)``, streamed."""
        return float(self.column_mae(source).mean())

    def column_mae(self, source) -> np.ndarray:
        """MAE of each target column over a batch source or ``(X, Y)``, streamed."""
        total, count = np.zeros(self.n_outputs_), 0
        for xb, yb in as_source(source).in_order(EVAL_BATCH):
            total += np.abs(self.predict(xb) - yb).sum(axis=0, dtype=np.float64)
            count += len(yb)
        return total / max(count, 1)
