"""Fine-tuning a linear classification head on top of an encoder.

``FineTuner(mode="frozen")`` trains only the head: the encoder stays in eval mode
with ``requires_grad=False`` (BatchNorm statistics and weights never change), so
its embeddings are computed once and the head is trained on them.
``mode="unfrozen"`` trains encoder and head together. ``encoder_state=None``
gives the supervised baseline: the same architecture from random initialisation.

Fixes of the reference code's bugs (methods.md A.6), all on purpose:
- the head returns logits and CrossEntropyLoss applies the only softmax (the
  reference applies softmax in ``forward`` and again inside the loss);
- ``predict_proba`` is a softmax over classes (dim=1), not over the batch;
- evaluation sees every sample (the reference uses ``drop_last=True`` on the test
  loader); only a final training batch of one sample is skipped, because
  BatchNorm cannot train on it;
- early stopping monitors the validation loss by default and restores the best
  weights (the reference SCARF/BYOL path monitors accuracy and keeps the last).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin

from ..devices import resolve_device
from ..params import BOOLEAN, DEVICE, SEED, Real, StrOptions, at_least, between, positive
from ..seeding import derive_seed
from ..training import Engine, Monitor, TensorBatches, seed_training
from .encoder import encoder_shape, make_encoder
from .methods._base import check_matrix, encode

MODES = ("frozen", "unfrozen")
MONITORS = ("val_loss", "val_acc")
EVAL_BATCH = 4096


class FineTuner(ClassifierMixin, BaseEstimator):
    _parameter_constraints = {
        "mode": [StrOptions(set(MODES))], "depth": [at_least(1)], "width": [at_least(1)],
        "dropout": [between(0, 1, closed="left")], "learning_rate": [positive()], "batch_size": [at_least(1)],
        "max_epochs": [at_least(1)], "patience": [at_least(1)], "min_delta": [at_least(0, Real)],
        "monitor": [StrOptions(set(MONITORS))], "restore_best": [BOOLEAN], "random_state": [SEED],
        "device": [DEVICE], "verbose": [BOOLEAN],
    }

    def __init__(self, mode="unfrozen", depth=4, width=256, dropout=0.1, learning_rate=1e-4, batch_size=8,
                 max_epochs=100, patience=30, min_delta=1e-3, monitor="val_loss", restore_best=True, random_state=0,
                 device="auto", verbose=False):
        self.mode = mode
        self.depth = depth
        self.width = width
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.monitor = monitor
        self.restore_best = restore_best
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # --- checks -----------------------------------------------------------------
    def _check_params(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"fine-tuning mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.monitor not in MONITORS:
            raise ValueError(f"fine-tuning monitor must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        for key in ("batch_size", "max_epochs", "patience"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"fine-tuning {key} must be at least 1, got {getattr(self, key)}")
        if float(self.learning_rate) <= 0:
            raise ValueError(f"fine-tuning learning_rate must be positive, got {self.learning_rate}")

    def _check_encoder_state(self, state: dict, n_features: int) -> None:
        found = encoder_shape(state)
        wanted = (n_features, int(self.depth), int(self.width))
        if found != wanted:
            raise ValueError(
                f"the pretrained encoder has n_features={found[0]}, depth={found[1]}, width={found[2]} but the "
                f"fine-tuner expects n_features={wanted[0]}, depth={wanted[1]}, width={wanted[2]}; "
                "use the same depth/width (and genes) for pretraining and fine-tuning"
            )

    def _codes(self, y, what: str) -> np.ndarray:
        """Positions of the labels y in ``classes_``. Integer y with a non-integer class
        list (e.g. names) are read as positions already."""
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.integer) and not np.issubdtype(self.classes_.dtype, np.number):
            if y.size and (y.min() < 0 or y.max() >= len(self.classes_)):
                raise ValueError(f"{what} has class indices outside 0..{len(self.classes_) - 1}")
            return y.astype(np.int64)
        position = {label: code for code, label in enumerate(self.classes_.tolist())}
        unknown = sorted({label for label in y.tolist() if label not in position}, key=str)
        if unknown:
            raise ValueError(f"{what} has labels {unknown} that are not among classes {self.classes_.tolist()}")
        return np.array([position[label] for label in y.tolist()], dtype=np.int64)

    # --- training ---------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None, classes=None, encoder_state=None):
        self._check_params()
        X = check_matrix(X)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        has_val = X_val is not None and len(X_val) > 0
        if has_val:
            X_val = check_matrix(X_val, "X_val", X.shape[1])
            if y_val is None or len(y_val) != len(X_val):
                raise ValueError("X_val and y_val must be given together and have the same length")
        self.classes_ = np.unique(y) if classes is None else np.asarray(classes)
        codes = self._codes(y, "y")
        if encoder_state is not None:
            self._check_encoder_state(encoder_state, X.shape[1])

        seed_training(int(self.random_state))
        device = resolve_device(self.device)
        self.device_ = str(device)
        self.n_features_in_ = X.shape[1]
        torch.manual_seed(derive_seed(self.random_state, "finetune", "init"))
        encoder = make_encoder(X.shape[1], self.depth, self.width, self.dropout)
        if encoder_state is not None:
            encoder.load_state_dict(encoder_state)
        head = torch.nn.Linear(int(self.width), len(self.classes_))
        model = torch.nn.Sequential()
        model.add_module("encoder", encoder)
        model.add_module("head", head)
        model.to(device)
        frozen = self.mode == "frozen"
        if frozen:
            encoder.requires_grad_(False)
            encoder.eval()

        # In frozen mode the head learns from fixed embeddings; the head is the only trainable part.
        net = head if frozen else model
        inputs = self._embed_tensor(encoder, X, device) if frozen else torch.as_tensor(X, device=device)
        labels = torch.as_tensor(codes, dtype=torch.long, device=device)
        if has_val:
            val_inputs = self._embed_tensor(encoder, X_val, device) if frozen else torch.as_tensor(X_val, device=device)
            val_labels = torch.as_tensor(self._codes(y_val, "y_val"), dtype=torch.long, device=device)
        optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=float(self.learning_rate))
        order_gen = torch.Generator().manual_seed(derive_seed(self.random_state, "finetune", "order"))
        torch.manual_seed(derive_seed(self.random_state, "finetune", "dropout"))

        started = time.perf_counter()

        def say(record):
            if self.verbose:
                print(f"[finetune {self.mode}] epoch {record['epoch'] + 1} train_loss {record['train_loss']:.4f} "
                      f"val_loss {record['val_loss']} val_acc {record['val_acc']} "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

        def evaluate(epoch):
            if not has_val:
                return {"val_loss": None, "val_acc": None}
            val_loss, val_acc = self._evaluate(net, val_inputs, val_labels)
            return {"val_loss": val_loss, "val_acc": val_acc}

        # The training loss is summed in float32, as fine-tuning always reported it.
        engine = Engine(device, max_epochs=int(self.max_epochs), patience=int(self.patience),
                        restore_best=bool(self.restore_best), loss_dtype=torch.float32, on_epoch=say,
                        time_epochs=True)
        best = Monitor(self.monitor, model, mode="min" if self.monitor == "val_loss" else "max",
                       min_delta=float(self.min_delta))
        # Frozen: the head alone (no BatchNorm) trains on a final batch of one sample too.
        batches = TensorBatches(inputs, labels, batch_size=int(self.batch_size), generator=order_gen,
                                min_rows=1 if frozen else 2)
        result = engine.fit(net, batches, lambda batch: F.cross_entropy(net(batch[0]), batch[1]),  # the only softmax
                            optimizer, evaluate=evaluate, monitors=[best])
        self.history_ = result.history
        self.best_epoch_ = len(self.history_) - 1 if best.best_epoch is None else best.best_epoch
        self.n_epochs_ = len(self.history_)
        # Ran out of epochs before early stopping ended the fit (always so without validation samples).
        self.hit_epoch_cap_ = not result.stopped_early
        self.model_ = model.eval()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @staticmethod
    @torch.no_grad()
    def _embed_tensor(encoder, X: np.ndarray, device) -> torch.Tensor:
        encoder.eval()
        X_t = torch.as_tensor(X, device=device)
        return torch.cat([encoder(X_t[i : i + EVAL_BATCH]) for i in range(0, len(X_t), EVAL_BATCH)])

    @torch.no_grad()
    def _evaluate(self, net, inputs, labels) -> tuple[float, float]:
        net.eval()
        logits = torch.cat([net(inputs[i : i + EVAL_BATCH]) for i in range(0, len(inputs), EVAL_BATCH)])
        loss = float(F.cross_entropy(logits, labels))
        accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        return loss, accuracy

    # --- prediction -------------------------------------------------------------
    @torch.no_grad()
    def decision_function(self, X) -> np.ndarray:
        """Logits (n_samples, n_classes) for every row of X, in eval mode."""
        X = check_matrix(X, n_features=self.n_features_in_)
        return encode(self.model_.eval(), X)

    def predict_proba(self, X) -> np.ndarray:
        logits = torch.as_tensor(self.decision_function(X))
        return torch.softmax(logits, dim=1).numpy()  # over classes, per sample

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def embed(self, X) -> np.ndarray:
        """Encoder output (n_samples, width)."""
        X = check_matrix(X, n_features=self.n_features_in_)
        return encode(self.model_.encoder.eval(), X)
