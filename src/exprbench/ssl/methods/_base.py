"""The training loop shared by the self-supervised pretrainers.

A method supplies its networks (``_build``), its loss on one mini-batch
(``_batch_loss``) and optionally an optimizer, a per-epoch hook and a per-step
hook. The loop handles seeding, the device, batching, the validation loss, the
choice of the kept encoder and progress messages.

Which encoder is kept (``keep``): ``"last_epoch"`` (default; the paper and the
reference code) or ``"best_val_loss"``, the epoch with the lowest pretext loss on
the validation matrix. The latter is an option only: for BYOL that loss is measured
against a moving (EMA) target, so epochs are not compared on equal terms.
"""

from __future__ import annotations

import copy
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ...devices import resolve_device
from ...progress import progress_bar
from ...seeding import derive_seed, seed_everything
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


class Pretrainer(BaseEstimator):
    """Base of the pretrainers; subclasses define ``__init__`` with their parameters."""

    name = ""

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
        return torch.optim.Adam(params, lr=self.lr)

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
        for key in ("epochs", "batch_size"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{self.name}: {key} must be at least 1, got {getattr(self, key)}")
        if int(self.batch_size) < 2:
            raise ValueError(f"{self.name}: batch_size must be at least 2 (BatchNorm needs 2 samples)")
        if float(self.lr) <= 0:
            raise ValueError(f"{self.name}: lr must be positive, got {self.lr}")
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
        seed_everything(int(self.seed))
        device = resolve_device(self.device)
        self.device_ = str(device)
        self.n_features_in_ = X.shape[1]

        X_t = torch.as_tensor(X, device=device)
        X_val_t = None if X_val is None else torch.as_tensor(X_val, device=device)
        torch.manual_seed(derive_seed(self.seed, self.name, "init"))
        ctx = SimpleNamespace()
        nets = self._build(X_t, ctx).to(device)
        optimizer = self._optimizer(self._trainable(nets))
        order_gen = torch.Generator().manual_seed(derive_seed(self.seed, self.name, "order"))
        corrupt_gen = torch.Generator(device=device).manual_seed(derive_seed(self.seed, self.name, "corruption"))
        torch.manual_seed(derive_seed(self.seed, self.name, "dropout"))

        self.history_ = []
        best_val, best_state, best_epoch = np.inf, None, None
        started = last_report = time.perf_counter()
        bar = progress_bar(int(self.epochs), f"{self.name} pretraining")
        for epoch in range(int(self.epochs)):
            epoch_start = time.perf_counter()
            nets.train()
            self._start_epoch(nets, ctx, X_t, epoch, corrupt_gen)
            order = torch.randperm(len(X_t), generator=order_gen).to(device)
            total, seen = torch.zeros((), device=device), 0  # summed on the device: no sync per step
            for start in range(0, len(order), int(self.batch_size)):
                rows = order[start : start + int(self.batch_size)]
                if len(rows) < 2:  # BatchNorm cannot train on one sample
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = self._batch_loss(nets, ctx, X_t[rows], rows, corrupt_gen)
                loss.backward()
                optimizer.step()
                self._after_step(nets, ctx)
                total += loss.detach() * len(rows)
                seen += len(rows)
            val_loss = None if X_val_t is None else self._validation_loss(nets, ctx, X_val_t)
            record = {"epoch": epoch, "loss": float(total) / max(seen, 1), "val_loss": val_loss,
                      "seconds": time.perf_counter() - epoch_start}
            self.history_.append(record)
            bar.update(epoch + 1, loss=record["loss"])
            if self.keep == "best_val_loss" and val_loss is not None and val_loss < best_val:
                best_val, best_epoch = val_loss, epoch
                best_state = copy.deepcopy(nets["encoder"].state_dict())
            now = time.perf_counter()
            if now - last_report >= PROGRESS_SECONDS or epoch == int(self.epochs) - 1:
                last_report = now
                shown = "" if val_loss is None else f" val_loss {val_loss:.4f}"
                self._say(f"epoch {epoch + 1}/{self.epochs} loss {record['loss']:.4f}{shown} ({now - started:.0f} s)")

        encoder = nets["encoder"]
        if best_state is not None:
            encoder.load_state_dict(best_state)
        # The last epoch's encoder unless keep="best_val_loss" and there was a validation matrix.
        self.kept_epoch_ = best_epoch if best_state is not None else len(self.history_) - 1
        self.kept_by_ = "best_val_loss" if best_state is not None else "last_epoch"
        for record in self.history_:
            record["kept"] = record["epoch"] == self.kept_epoch_
        self.encoder_ = encoder.cpu().eval()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @torch.no_grad()
    def _validation_loss(self, nets: torch.nn.ModuleDict, ctx, X_val: torch.Tensor) -> float:
        """Loss on the validation matrix in eval mode, with the same corruption draw every
        epoch so that epochs are compared on equal terms."""
        nets.eval()
        generator = torch.Generator(device=X_val.device).manual_seed(derive_seed(self.seed, self.name, "validation"))
        total, size = 0.0, int(self.batch_size)  # training batch size: contrastive losses depend on it
        for start in range(0, len(X_val), size):
            batch = X_val[start : start + size]
            total += float(self._batch_loss(nets, ctx, batch, None, generator)) * len(batch)
        return total / len(X_val)

    def transform(self, X) -> np.ndarray:
        """Encoder output (n_samples, width) in eval mode."""
        X = check_matrix(X, n_features=self.n_features_in_)
        return encode(self.encoder_, X, torch.device("cpu"))
