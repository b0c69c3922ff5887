"""The training loop shared by the self-supervised pretrainers.

A method supplies its networks (``_build``), its loss on one mini-batch
(``_batch_loss``) and optionally an optimizer, a per-epoch hook and a per-step
hook (BYOL's target update). ``exprbench.training.Engine`` runs the epochs; this
base adds seeding, the device, the validation loss, the choice of the kept encoder
and progress messages.

Which encoder is kept (``keep``): ``"last_epoch"`` (default; the paper and the
reference code) or ``"best_val_loss"``, the epoch with the lowest pretext loss on
the validation matrix. The latter is an option only: for BYOL that loss is measured
against a moving (EMA) target, so epochs are not compared on equal terms.
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ...devices import resolve_device
from ...params import BOOLEAN, DEVICE, SEED, StrOptions, at_least, between, positive
from ...seeding import derive_seed
from ...training import Engine, Monitor, TensorBatches, seed_training
from ..encoder import make_encoder

TRANSFORM_BATCH = 4096
PROGRESS_SECONDS = 10.0
KEEP_CHOICES = ("last_epoch", "best_val_loss")


def projection_mlp(inputs: int, hidden: int, outputs: int) -> torch.nn.Sequential:
    """Linear -> BatchNorm -> ReLU -> Linear: SCARF's projector, BYOL's projector and predictor."""
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.BatchNorm1d(hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, outputs)
    )


def check_matrix(X, what: str = "X", n_features: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{what} must be a non-empty 2-D matrix (samples x features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{what} has {X.shape[1]} features but the model was fitted on {n_features}")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} contains NaN or infinite values; impute or drop them before pretraining")
    return X


@torch.no_grad()
def encode(encoder: torch.nn.Module, X: np.ndarray, device: torch.device | None = None) -> np.ndarray:
    """Encoder output for every row of X, in eval mode and in batches (no row dropped)."""
    encoder.eval()
    device = device or next(encoder.parameters()).device
    parts = [
        encoder(torch.as_tensor(X[start : start + TRANSFORM_BATCH], device=device)).float().cpu().numpy()
        for start in range(0, len(X), TRANSFORM_BATCH)
    ]
    return np.concatenate(parts)


# Every pretrainer's shared parameters; a method adds its own.
PRETRAINER_CONSTRAINTS = {
    "depth": [at_least(1)], "width": [at_least(1)], "dropout": [between(0, 1, closed="left")],
    "max_epochs": [at_least(1)], "batch_size": [at_least(2)], "learning_rate": [positive()],
    "random_state": [SEED], "device": [DEVICE], "verbose": [BOOLEAN], "keep": [StrOptions(set(KEEP_CHOICES))],
}
PRETRAINER_TEST_PARAMS = {"depth": 2, "width": 8, "max_epochs": 2, "batch_size": 16, "device": "cpu", "verbose": False}


class Pretrainer(BaseEstimator):
    """Base of the pretrainers; subclasses define ``__init__`` with their parameters."""

    name = ""

    @classmethod
    def _test_data(cls, rng):
        X = rng.normal(size=(80, 10)).astype(np.float32)
        return (X[:64],), {"X_val": X[64:]}

    def _test_outputs(self, data):
        (X,), _ = data
        return self.transform(X)

    # --- what a method provides -------------------------------------------------
    def _build(self, X: torch.Tensor, ctx: SimpleNamespace) -> torch.nn.ModuleDict:
        """Networks of the method; must contain "encoder" (see ``_encoder``). ``ctx``
        holds what the loss needs during this fit (e.g. the corruption), never kept after."""
        raise NotImplementedError

    def _batch_loss(self, nets: torch.nn.ModuleDict, ctx: SimpleNamespace, x: torch.Tensor,
                    rows: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Loss of one batch ``x`` = training rows ``rows`` (None for validation batches)."""
        raise NotImplementedError

    def _optimizer(self, params) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.learning_rate)

    def _trainable(self, nets: torch.nn.ModuleDict):
        return nets.parameters()

    def _start_epoch(self, nets, ctx, X: torch.Tensor, epoch: int, generator: torch.Generator) -> None:
        pass

    def _after_step(self, nets, ctx) -> None:
        pass

    # --- shared -----------------------------------------------------------------
    def _encoder(self, n_features: int) -> torch.nn.Sequential:
        return make_encoder(n_features, self.depth, self.width, self.dropout)

    def _check_params(self) -> None:
        for key in ("max_epochs", "batch_size"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{self.name}: {key} must be at least 1, got {getattr(self, key)}")
        if int(self.batch_size) < 2:
            raise ValueError(f"{self.name}: batch_size must be at least 2 (BatchNorm needs 2 samples)")
        if float(self.learning_rate) <= 0:
            raise ValueError(f"{self.name}: learning_rate must be positive, got {self.learning_rate}")
        if self.keep not in KEEP_CHOICES:
            raise ValueError(f"{self.name}: keep must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")

    def _say(self, text: str) -> None:
        if self.verbose:
            print(f"[{self.name}] {text}", file=sys.stderr, flush=True)

    def fit(self, X, X_val=None):
        self._check_params()
        X = check_matrix(X)
        if X.shape[0] < 2:
            raise ValueError(f"{self.name}: pretraining needs at least 2 samples, got {X.shape[0]}")
        X_val = None if X_val is None or len(X_val) == 0 else check_matrix(X_val, "X_val", X.shape[1])
        seed_training(int(self.random_state))
        device = resolve_device(self.device)
        self.device_ = str(device)
        self.n_features_in_ = X.shape[1]

        X_t = torch.as_tensor(X, device=device)
        X_val_t = None if X_val is None else torch.as_tensor(X_val, device=device)
        torch.manual_seed(derive_seed(self.random_state, self.name, "init"))
        ctx = SimpleNamespace()
        nets = self._build(X_t, ctx).to(device)
        optimizer = self._optimizer(self._trainable(nets))
        order_gen = torch.Generator().manual_seed(derive_seed(self.random_state, self.name, "order"))
        corrupt_gen = torch.Generator(device=device).manual_seed(
            derive_seed(self.random_state, self.name, "corruption"))
        torch.manual_seed(derive_seed(self.random_state, self.name, "dropout"))

        started = time.perf_counter()
        last_report = [started]

        def report(record):
            now = time.perf_counter()
            if now - last_report[0] >= PROGRESS_SECONDS or record["epoch"] == int(self.max_epochs) - 1:
                last_report[0] = now
                val_loss = record["val_loss"]
                shown = "" if val_loss is None else f" val_loss {val_loss:.4f}"
                self._say(f"epoch {record['epoch'] + 1}/{self.max_epochs} loss {record['loss']:.4f}{shown} "
                          f"({now - started:.0f} s)")

        # The loss is summed in float32, as pretraining always reported it.
        engine = Engine(device, max_epochs=int(self.max_epochs), loss_dtype=torch.float32,
                        progress=f"{self.name} pretraining", on_epoch=report, loss_key="loss", time_epochs=True)
        best = Monitor("val_loss", nets["encoder"]) if self.keep == "best_val_loss" else None
        result = engine.fit(
            nets, TensorBatches(X_t, batch_size=int(self.batch_size), generator=order_gen, with_rows=True),
            lambda batch: self._batch_loss(nets, ctx, batch[0], batch[1], corrupt_gen), optimizer,
            evaluate=lambda epoch: {"val_loss": None if X_val_t is None else self._validation_loss(nets, ctx, X_val_t)},
            monitors=[best] if best is not None else [],
            start_epoch=lambda epoch: self._start_epoch(nets, ctx, X_t, epoch, corrupt_gen),
            after_step=lambda: self._after_step(nets, ctx))
        self.history_ = result.history

        # The last epoch's encoder unless keep="best_val_loss" and there was a validation matrix.
        kept_best = best is not None and best.best_epoch is not None
        self.best_epoch_ = best.best_epoch if kept_best else len(self.history_) - 1
        self.kept_by_ = "best_val_loss" if kept_best else "last_epoch"
        for record in self.history_:
            record["kept"] = record["epoch"] == self.best_epoch_
        self.encoder_ = nets["encoder"].cpu().eval()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @torch.no_grad()
    def _validation_loss(self, nets: torch.nn.ModuleDict, ctx, X_val: torch.Tensor) -> float:
        """Loss on the validation matrix in eval mode, with the same corruption draw every
        epoch so that epochs are compared on equal terms."""
        nets.eval()
        generator = torch.Generator(device=X_val.device).manual_seed(
            derive_seed(self.random_state, self.name, "validation"))
        total, size = 0.0, int(self.batch_size)  # training batch size: contrastive losses depend on it
        for start in range(0, len(X_val), size):
            batch = X_val[start : start + size]
            total += float(self._batch_loss(nets, ctx, batch, None, generator)) * len(batch)
        return total / len(X_val)

    def transform(self, X) -> np.ndarray:
        """Encoder output (n_samples, width) in eval mode."""
        X = check_matrix(X, n_features=self.n_features_in_)
        return encode(self.encoder_, X, torch.device("cpu"))
