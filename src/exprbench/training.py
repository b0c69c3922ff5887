"""The one training loop of every torch model in the benchmark.

A model supplies its network, its loss on one batch and its optimiser; the
:class:`Engine` does the rest, the same way for every family:

* mini-batches: :class:`TensorBatches` slices tensors already on the device in a
  seeded order; :class:`StreamedBatches` moves the batches of a streamed source
  (``inference.batches``) to the device;
* one optimisation step (:meth:`Engine.step`): gradients set to None, the loss
  under autocast when mixed precision is on (float16 with a gradient scaler on
  CUDA, bfloat16 on the CPU, where it is off unless asked for), backward,
  optional gradient-norm clipping, the optimiser step(s) and an after-step hook
  (BYOL's moving-average target);
* epochs (:meth:`Engine.fit`): an epoch-start hook, the training loss summed on
  the device (read once per epoch), the model's evaluation, monitors that keep
  the best epoch's parameters (the best-or-last rule: restored or not), early
  stopping with patience on the first monitor, a tracker, a per-epoch callback
  and a progress line;
* seeding and deterministic mode (:func:`seed_training`).

Schemes with more than one step per batch (D-GEX's independent halves, Deep-LSMTL's
alternating steps) pass ``train_batch``, which calls :meth:`Engine.step` itself.

The order of random draws, operations and reductions is the one the loops this
engine replaced had, so the same seeds give bit-identical parameters on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from .progress import progress_bar
from .seeding import seed_everything, set_deterministic_algorithms


def seed_training(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; deterministic kernels unless told otherwise."""
    seed_everything(int(seed))
    if not deterministic:
        set_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False


def autocast_dtype(device: torch.device, mixed_precision) -> torch.dtype | None:
    """Half-precision type of autocast: float16 on CUDA, bfloat16 on the CPU.
    ``"auto"`` turns it on for CUDA only; ``True``/``False`` everywhere/nowhere."""
    if mixed_precision == "auto":
        mixed_precision = device.type == "cuda"
    if not mixed_precision:
        return None
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def clip_gradients(parameters, max_norm: float) -> None:
    """``clip_grad_norm_`` (foreach), but on the CPU the gradients are only
    rewritten when clipping changes them: multiplying by exactly 1 would move
    every gradient through memory twice for nothing. On a GPU the norm stays
    on the device (reading it would synchronise every step)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    norm = torch.nn.utils.get_total_norm(grads, foreach=True)
    if norm.device.type != "cpu" or not bool(max_norm / (norm + 1e-6) >= 1):  # NaN norms still propagate
        torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, norm, foreach=True)


def copy_state(module: torch.nn.Module, into: dict | None = None) -> dict:
    """A copy of the module's state; into ``into``'s buffers when given, so
    each improving epoch copies without allocating."""
    state = module.state_dict()
    if into is None:
        return {name: value.detach().clone() for name, value in state.items()}
    for name, value in state.items():
        into[name].copy_(value)
    return into


# --- mini-batches -------------------------------------------------------------------

class TensorBatches:
    """Mini-batches of tensors on the device, in a new order each epoch.

    Every epoch draws one ``torch.randperm`` from ``generator`` (a CPU generator)
    and yields ``tuple(t[rows] for t in tensors)``, plus ``rows`` last when
    ``with_rows``. Batches of fewer than ``min_rows`` rows are skipped (BatchNorm
    cannot train on one sample). With ``batch_size`` None, or not below the number
    of rows and ``shuffle_whole`` False, each epoch is the whole tensors, unshuffled
    and without a draw.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int | None, generator: torch.Generator,
                 min_rows: int = 2, shuffle_whole: bool = True, with_rows: bool = False):
        self.tensors = tensors
        self.n = len(tensors[0])
        self.batch_size = self.n if batch_size is None else int(batch_size)
        self.generator = generator
        self.min_rows = min_rows
        self.shuffle_whole = shuffle_whole
        self.with_rows = with_rows

    def epoch(self, epoch: int):
        if self.batch_size >= self.n and not self.shuffle_whole:
            yield (*self.tensors, slice(None)) if self.with_rows else self.tensors
            return
        order = torch.randperm(self.n, generator=self.generator).to(self.tensors[0].device)
        for start in range(0, self.n, self.batch_size):
            rows = order[start : start + self.batch_size]
            if len(rows) < self.min_rows:
                continue
            picked = tuple(tensor[rows] for tensor in self.tensors)
            yield (*picked, rows) if self.with_rows else picked


class StreamedBatches:
    """The batches of a streamed source (``source.epoch(epoch)`` yields numpy
    arrays, e.g. ``inference.batches.StoreBatches``), moved to the device."""

    def __init__(self, source, device: torch.device, min_rows: int = 2):
        self.source = source
        self.device = device
        self.min_rows = min_rows

    def epoch(self, epoch: int):
        for arrays in self.source.epoch(epoch):
            if len(arrays[0]) < self.min_rows:
                continue
            yield tuple(torch.from_numpy(array).to(self.device) for array in arrays)


# --- the best-or-last epoch rule ----------------------------------------------------

@dataclass
class Monitor:
    """Keeps the parameters of ``module`` from the epoch with the best ``key``
    (lower is better, or higher with ``mode="max"``); an epoch counts as better
    when it beats the best by more than ``min_delta``. A record without the key
    (or with None) is not compared."""

    key: str
    module: torch.nn.Module
    mode: str = "min"
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int | None = None
    state: dict | None = field(default=None, repr=False)

    def update(self, record: dict, epoch: int) -> bool | None:
        value = record.get(self.key)
        if value is None:
            return None
        score = value if self.mode == "min" else -1.0 * value
        if score < self.best - float(self.min_delta):  # NaN never improves
            self.best, self.best_epoch = score, epoch
            self.state = copy_state(self.module, self.state)
            return True
        return False

    def restore(self) -> None:
        if self.state is not None:
            self.module.load_state_dict(self.state)


@dataclass
class TrainingResult:
    history: list
    monitors: list
    stopped_early: bool
    seconds: float

    @property
    def n_epochs(self) -> int:
        return len(self.history)


# --- the engine ---------------------------------------------------------------------

class Engine:
    """Training of one network; see the module docstring.

    ``max_epochs``: the most epochs; ``patience``: early stopping after that many
    epochs in a row without improvement of the first monitor (None: never);
    ``restore_best``: load each monitor's best parameters at the end (the
    best-or-last rule); ``clip_grad_norm``: gradient-norm limit (0/None: none);
    ``mixed_precision``: see :func:`autocast_dtype`; ``loss_dtype``: the type the
    epoch's training loss is summed in; ``progress``: label of the progress line
    (None: none); ``tracker``: gets ``log_epoch(epoch, **metrics)``; ``on_epoch``:
    called with each epoch's record; ``loss_key``: name of the training loss in the
    record; ``time_epochs``: add each epoch's ``seconds`` to its record.
    """

    def __init__(self, device, *, max_epochs: int, patience: int | None = None, restore_best: bool = True,
                 clip_grad_norm: float | None = None, mixed_precision=False, loss_dtype=torch.float64,
                 progress: str | None = None, tracker=None, on_epoch: Callable[[dict], None] | None = None,
                 loss_key: str = "train_loss", time_epochs: bool = False):
        self.device = torch.device(device)
        self.max_epochs = int(max_epochs)
        self.patience = patience
        self.restore_best = restore_best
        self.clip_grad_norm = clip_grad_norm
        self.dtype = autocast_dtype(self.device, mixed_precision)
        self.loss_dtype = loss_dtype
        self.progress = progress
        self.tracker = tracker
        self.on_epoch = on_epoch
        self.loss_key = loss_key
        self.time_epochs = time_epochs
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)

    def step(self, optimizers, compute_loss: Callable[[], torch.Tensor], *, zero=None, parameters=None,
             after_step: Callable[[], None] | None = None) -> torch.Tensor:
        """One optimisation step of ``optimizers`` (one or a list) on ``compute_loss()``.

        Gradients of ``zero`` (a module or optimiser, or a list; default the
        optimisers) are set to None first: backward then hands its gradients over
        without a copy. Clipping acts on ``parameters`` (default: the optimisers').
        """
        optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
        zero = optimizers if zero is None else zero if isinstance(zero, (list, tuple)) else [zero]
        for target in zero:
            target.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            loss = compute_loss()
        self.scaler.scale(loss).backward()
        if self.clip_grad_norm:
            for optimizer in optimizers:
                self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            if parameters is None:
                parameters = [p for optimizer in optimizers for group in optimizer.param_groups
                              for p in group["params"]]
            clip_gradients(parameters, self.clip_grad_norm)
        for optimizer in optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()
        if after_step is not None:
            after_step()
        return loss

    def train_epoch(self, batches: Iterable[tuple], train_batch: Callable[[tuple], torch.Tensor]) -> float:
        """Mean training loss over the epoch's rows, summed on the device (no sync per step)."""
        total, seen = torch.zeros((), dtype=self.loss_dtype, device=self.device), 0
        for batch in batches:
            loss = train_batch(batch)
            total += loss.detach().to(self.loss_dtype) * len(batch[0])
            seen += len(batch[0])
        return float(total) / max(seen, 1)

    def fit(self, network: torch.nn.Module, batches, loss: Callable[[tuple], torch.Tensor] | None = None,
            optimizer=None, *, train_batch: Callable[[tuple, int], torch.Tensor] | None = None,
            evaluate: Callable[[int], dict] | None = None, monitors: Sequence[Monitor] = (),
            start_epoch: Callable[[int], None] | None = None, after_step: Callable[[], None] | None = None,
            parameters=None) -> TrainingResult:
        """Train ``network`` for up to ``max_epochs`` epochs of ``batches.epoch(epoch)``.

        Each batch either goes to ``loss(batch)`` for one step of ``optimizer``, or to
        ``train_batch(batch, epoch)``, which takes its own steps and returns the loss
        to report. ``evaluate(epoch)`` adds its metrics to the epoch's record;
        ``monitors`` watch the record for the best epoch.
        """
        if train_batch is None:
            if loss is None or optimizer is None:
                raise ValueError("fit needs loss and optimizer, or train_batch")
            if parameters is None and self.clip_grad_norm:
                parameters = [p for p in network.parameters() if p.requires_grad]

            def train_batch(batch, epoch):
                return self.step(optimizer, lambda: loss(batch), parameters=parameters, after_step=after_step)

        history, since_best, stopped_early = [], 0, False
        started = time.perf_counter()
        bar = progress_bar(self.max_epochs, self.progress) if self.progress else None
        for epoch in range(self.max_epochs):
            epoch_start = time.perf_counter()
            network.train()
            if start_epoch is not None:
                start_epoch(epoch)
            train_loss = self.train_epoch(batches.epoch(epoch), lambda batch, epoch=epoch: train_batch(batch, epoch))
            record = {"epoch": epoch, self.loss_key: train_loss, **(evaluate(epoch) if evaluate else {})}
            improved = [monitor.update(record, epoch) for monitor in monitors]
            if self.time_epochs:
                record["seconds"] = time.perf_counter() - epoch_start
            history.append(record)
            if self.tracker is not None:
                self.tracker.log_epoch(epoch, **{k: v for k, v in record.items()
                                                 if k not in ("epoch", "seconds") and v is not None})
            if bar is not None:
                bar.update(epoch + 1, **{self.loss_key: train_loss})
            if self.on_epoch is not None:
                self.on_epoch(record)
            if self.patience is not None and improved and improved[0] is not None:
                since_best = 0 if improved[0] else since_best + 1
                if since_best >= self.patience and not improved[0]:
                    stopped_early = True
                    break
        if bar is not None:
            bar.close()
        if self.restore_best:
            for monitor in monitors:
                monitor.restore()
        return TrainingResult(history, list(monitors), stopped_early, time.perf_counter() - started)
