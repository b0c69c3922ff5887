"""Many fits of one small classifier trained at once, as one stacked model.

A nested search trains the same network shape once per (trial, inner fold):
each fit is small, so on a GPU its steps are bound by kernel launches, not by
arithmetic. Here K fits of one shape train together: each linear layer holds
the K fits' weights as one (K, out, in) tensor, and a step is one batched matmul
per layer for all of them. Each fit keeps what makes it that fit:

* its rows (its own training part, cut into a fit part and an early-stopping
  holdout exactly as ``TorchClassifier.fit`` cuts them), its class weights;
* its learning rate and weight decay (Adam with per-fit step sizes and step
  counts), its gradient-norm clipping (one norm per fit);
* its seed: the initial weights, its batch order and, on the CPU, its dropout
  masks come from the same generators, in the same order, as a sequential fit;
* its early stopping: a fit that stopped, or that has no batch left in this
  epoch, takes no step (its gradient and Adam's moments are masked), and the
  parameters of its best epoch are restored at the end.

Batches of different sizes (a fit's last batch, fits with fewer rows) are
padded to the batch size with rows of weight 0. On the CPU the result matches
the sequential fits to float rounding (the equivalence test asks for the same
early-stopping epochs and decision values within 1e-5), not bit for bit, so
``stacked_fits: auto`` uses it on CUDA only; on the CPU it pays for the linear
models (1.7-3.4x) and not for the MLP (``benchmarks/gpu_throughput.py``).

It is the one training loop outside the shared engine (``exprbench.training``):
its Adam update has a step size, a step count and a stop mask per fit over
stacked parameters, which torch's optimisers cannot express.

Networks made of ``Linear``, ``ReLU`` and ``Dropout`` stack (logistic
regression, the linear SVM, the three-layer MLP), with the cross-entropy or the
multiclass hinge loss; BatchNorm (the five-layer MLP), warm starts and mixed
precision do not: :func:`stackable` says why, and callers fit those one by one.

``compile_steps``: the padded step has a fixed shape, so its loss (forward and
backward) and its update are compiled with ``torch.compile`` (mode
``reduce-overhead`` on CUDA, which replays them as CUDA graphs).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from ..devices import as_device_tensor, resolve_device
from ..seeding import make_rng, sync_compiler_determinism
from ..splits import group_holdout
from ..training import seed_training
from .models._torch import EVAL_BATCH, class_weights, keep_freed_memory

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults, as TorchClassifier uses them
MIN_ROWS = 2  # as TensorBatches: BatchNorm-free networks too skip one-row batches, to match


def _layers(network: torch.nn.Module) -> list[torch.nn.Module] | None:
    modules = list(network) if isinstance(network, torch.nn.Sequential) else [network]
    if all(isinstance(m, (torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout)) for m in modules):
        return modules
    return None


def _loss_kind(loss: torch.nn.Module) -> str | None:
    if isinstance(loss, torch.nn.CrossEntropyLoss):
        plain = loss.reduction == "mean" and loss.label_smoothing == 0 and loss.ignore_index == -100
        return "cross_entropy" if plain else None
    if isinstance(loss, torch.nn.MultiMarginLoss):
        return "hinge" if loss.reduction == "mean" and loss.p == 1 else None
    return None


def stackable(estimator, n_features: int = 8, n_classes: int = 2) -> str | None:
    """None when ``estimator`` can train stacked, else the reason it cannot."""
    if not hasattr(estimator, "build_network"):
        return f"{type(estimator).__name__} is not a TorchClassifier"
    if estimator.get_params().get("warm_start"):
        return "warm starts continue one network"
    if estimator.get_params().get("mixed_precision"):
        return "mixed precision is not stacked"
    with torch.random.fork_rng(devices=[]):  # building a network draws from the global stream
        network = estimator.build_network(n_features, n_classes)
    if _layers(network) is None:
        return "only Linear, ReLU and Dropout layers stack (BatchNorm's statistics are per fit and batch)"
    if _loss_kind(estimator.build_loss(torch.ones(n_classes))) is None:
        return "only the plain cross-entropy and hinge losses stack"
    return None


@dataclass
class _Fit:
    """One fit's set-up, made as ``TorchClassifier.fit`` makes it."""

    estimator: object
    network: torch.nn.Module
    loss: torch.nn.Module
    fit_rows: np.ndarray  # rows of the group's training matrix
    stop_rows: torch.Tensor  # rows of the group's holdout matrix
    y_fit_codes: np.ndarray
    y_stop: torch.Tensor
    weight: torch.Tensor
    shuffler: torch.Generator
    dropout: torch.Generator  # the global stream a sequential fit would draw its dropout masks from
    history: list = field(default_factory=list)
    best: float = math.inf
    best_epoch: int | None = None
    since_best: int = 0
    steps: int = 0
    done: bool = False


def _prepare(estimator, X, y, rows, groups, classes, correct, blocks) -> _Fit:
    """Mirror of ``TorchClassifier.fit`` up to its first epoch, for the training part ``rows`` of ``X``.

    Without ``correct`` every fit indexes the shared ``X``; with it, each fit's
    corrected parts are appended to ``blocks`` (fit, stop) and indexed there.
    """
    y_part = np.asarray(y)[rows]
    estimator.classes_ = np.unique(y_part) if classes is None else np.asarray(classes)
    unknown = np.setdiff1d(y_part, estimator.classes_)
    if unknown.size:
        raise ValueError(f"labels {unknown.tolist()} are not among classes {estimator.classes_.tolist()}")
    codes = np.searchsorted(estimator.classes_, y_part)
    groups = np.arange(len(rows)) if groups is None else np.asarray(groups)[rows]
    seed = int(estimator.random_state)

    seed_training(seed)
    device = estimator.device_ = resolve_device(estimator.device)
    fit_idx, stop_idx = group_holdout(groups, estimator.early_stopping_fraction, make_rng(seed, "holdout"))
    if stop_idx.size == 0:
        fit_idx, stop_idx = np.arange(len(rows)), np.arange(len(rows))
    if correct is None:
        fit_rows, stop_rows = rows[fit_idx], rows[stop_idx]
    else:
        fit_part = as_device_tensor(correct(X[torch.as_tensor(rows[fit_idx], device=X.device)], y_part[fit_idx]),
                                    device)
        stop_part = as_device_tensor(correct(X[torch.as_tensor(rows[stop_idx], device=X.device)], y_part[stop_idx]),
                                     device)
        fit_start, stop_start = sum(len(b) for b in blocks[0]), sum(len(b) for b in blocks[1])
        blocks[0].append(fit_part)
        blocks[1].append(stop_part)
        fit_rows, stop_rows = fit_start + np.arange(len(fit_idx)), stop_start + np.arange(len(stop_idx))
    n_classes = len(estimator.classes_)
    weight = torch.as_tensor(class_weights(codes[fit_idx], n_classes), device=device)
    network = estimator.build_network(X.shape[1], n_classes).to(device)
    dropout = torch.Generator(device="cpu")
    dropout.set_state(torch.get_rng_state())
    labels = torch.as_tensor(codes, dtype=torch.long, device=device)
    return _Fit(estimator, network, estimator.build_loss(weight),
                np.asarray(fit_rows), torch.as_tensor(stop_rows, device=device), codes[fit_idx],
                labels[torch.as_tensor(stop_idx, device=device)],
                weight, torch.Generator(device="cpu").manual_seed(seed), dropout)


def fit_stacked(estimators, X, y, row_sets, *, groups=None, classes=None, correct=None,
                compile_steps: bool | str = False) -> list:
    """Fit each ``estimators[k]`` on rows ``row_sets[k]`` of ``X`` (labels ``y``,
    ``groups``), as ``estimators[k].fit(X[rows], y[rows], classes=, groups=,
    correct=)`` would; fits of one class and batch size train stacked. Returns the
    estimators, fitted (``network_``, ``history_``, ``best_epoch_``, ...)."""
    if len(estimators) != len(row_sets):
        raise ValueError(f"{len(estimators)} estimators but {len(row_sets)} row sets")
    for estimator in estimators:
        reason = stackable(estimator)
        if reason is not None:
            raise ValueError(f"{type(estimator).__name__} cannot train stacked: {reason}")
        if estimator.max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {estimator.max_epochs}")
    device = resolve_device(estimators[0].device) if estimators else torch.device("cpu")
    X = as_device_tensor(X, device)
    by_shape = defaultdict(list)  # one stacked model per network class and batch size
    for k, estimator in enumerate(estimators):
        by_shape[type(estimator), int(estimator.batch_size)].append(k)
    for (_, batch_size), members in by_shape.items():
        blocks = ([], [])
        fits = [_prepare(estimators[k], X, y, np.asarray(row_sets[k]), groups, classes, correct, blocks)
                for k in members]
        X_fit, X_stop = (X, X) if correct is None else (torch.cat(blocks[0]), torch.cat(blocks[1]))
        StackedTraining(fits, X_fit, X_stop, batch_size, device, compile_steps=compile_steps).run()
    return estimators


class StackedTraining:
    """K prepared fits of one network shape, trained as one stacked model."""

    def __init__(self, fits: list[_Fit], X_fit: torch.Tensor, X_stop: torch.Tensor, batch_size: int,
                 device: torch.device, compile_steps: bool | str = False):
        self.fits, self.X_fit, self.X_stop, self.device = fits, X_fit, X_stop, device
        self.batch = batch_size
        self.kind = _loss_kind(fits[0].loss)
        self.margin = float(getattr(fits[0].loss, "margin", 1.0))
        self.layers = _layers(fits[0].network)
        self.linears = [i for i, m in enumerate(self.layers) if isinstance(m, torch.nn.Linear)]
        per_fit = [[_layers(f.network)[i] for f in fits] for i in self.linears]
        # One leaf per layer for all fits: (K, out, in) weights, (K, out) biases.
        self.params = [torch.stack([m.weight.detach() for m in ms]).clone().requires_grad_(True) for ms in per_fit]
        self.params += [torch.stack([m.bias.detach() for m in ms]).clone().requires_grad_(True) for ms in per_fit]
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.best_state = [p.detach().clone() for p in self.params]
        self.weights = torch.stack([f.weight for f in fits])
        self.decay = self._per_fit([float(f.estimator.weight_decay) for f in fits])
        self.clip = [f.estimator.clip_grad_norm for f in fits]
        self.exact_dropout = device.type == "cpu"
        self.dropout_gen = None if self.exact_dropout else torch.Generator(device=device).manual_seed(
            int(fits[0].estimator.random_state))
        loss, update = self._loss, self._update
        if compile_steps:  # True: inductor; a string: that torch.compile backend (tests use aot_eager)
            options = ({"mode": "reduce-overhead" if device.type == "cuda" else "default"} if compile_steps is True
                       else {"backend": compile_steps})
            sync_compiler_determinism()
            loss, update = (torch.compile(f, dynamic=False, **options) for f in (loss, update))
        self.loss_fn, self.update_fn = loss, update

    def _per_fit(self, values, dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(values, dtype=dtype, device=self.device)

    # --- the stacked step -------------------------------------------------------------

    def _forward(self, params, x, noises):
        n = len(self.linears)
        weights, biases = params[:n], params[n:]
        layer, drop = 0, 0
        for module in self.layers:
            if isinstance(module, torch.nn.Linear):
                x = torch.baddbmm(biases[layer].unsqueeze(1), x, weights[layer].transpose(1, 2))
                layer += 1
            elif isinstance(module, torch.nn.ReLU):
                x = torch.relu(x)
            else:
                x = x * noises[drop]
                drop += 1
        return x

    def _loss(self, params, X, rows, y, mask, noises, weights):
        """Per-fit losses (K,) of one padded batch, each as its fit's loss module computes it."""
        logits = self._forward(params, X[rows], noises)
        w = torch.gather(weights, 1, y) * mask
        if self.kind == "cross_entropy":
            nll = -torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
            return (w * nll).sum(1) / w.sum(1).clamp_min(torch.finfo(w.dtype).tiny)
        true = logits.gather(-1, y.unsqueeze(-1))
        hinge = torch.clamp_min(self.margin - true + logits, 0)
        hinge = hinge.masked_fill(torch.nn.functional.one_hot(y, logits.shape[-1]).bool(), 0)
        return (hinge.sum(-1) * w).sum(1) / logits.shape[-1] / mask.sum(1).clamp_min(1)

    def _update(self, params, grads, moments, active, step_size, bias2_sqrt, clip, decay):
        """Per-fit clipping and Adam (torch.optim.Adam's single-tensor arithmetic)
        on the active fits; the others keep parameters and moments."""
        with torch.no_grad():
            norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], 1)
            norm = torch.linalg.vector_norm(norms, dim=1)
            scale = torch.clamp(clip / (norm + 1e-6), max=1.0)
            for p, g, (m, v) in zip(params, grads, moments, strict=False):
                shape = (-1,) + (1,) * (p.dim() - 1)
                on = active.view(shape)
                g = g * scale.view(shape)
                g = g + decay.view(shape) * p
                m_new = m.lerp(g, 1 - BETA1)
                v_new = (v * BETA2).addcmul_(g, g, value=1 - BETA2)
                denom = (v_new.sqrt() / bias2_sqrt.view(shape)).add_(EPS)
                p_new = p - step_size.view(shape) * m_new / denom
                m.copy_(torch.where(on, m_new, m))
                v.copy_(torch.where(on, v_new, v))
                p.copy_(torch.where(on, p_new, p))

    def _noises(self, counts: np.ndarray) -> list:
        """Dropout masks (K, B, width) for this step, scaled by 1/(1-p). On the CPU
        each fit draws its rows' masks from its own stream, in the order a
        sequential fit would; on a GPU one draw from a seeded device generator."""
        noises, width = [], None
        for module in self.layers:
            if isinstance(module, torch.nn.Linear):
                width = module.out_features
            elif isinstance(module, torch.nn.Dropout):
                keep = 1 - module.p
                if self.exact_dropout:
                    noise = torch.zeros(len(self.fits), self.batch, width, device=self.device)
                    for k, n in enumerate(counts):
                        if n:
                            noise[k, :n].bernoulli_(keep, generator=self.fits[k].dropout).div_(keep)
                else:
                    noise = torch.empty(len(self.fits), self.batch, width, device=self.device)
                    noise.bernoulli_(keep, generator=self.dropout_gen).div_(keep)
                noises.append(noise)
        # The draws above follow layer order per step for all fits at once; a
        # sequential fit draws its layers in the same order, so per-fit streams agree.
        return noises

    def _epoch_plan(self):
        """This epoch's batches of every live fit, padded: rows (S, K, B), masks,
        rows per fit and step (S, K), and each active step's Adam step size and
        bias correction (host arithmetic in float64, as torch.optim.Adam's)."""
        K, B = len(self.fits), self.batch
        orders = [None if f.done else torch.randperm(len(f.fit_rows), generator=f.shuffler).numpy()
                  for f in self.fits]
        steps = [0 if o is None else sum(1 for s in range(0, len(o), B) if len(o[s:s + B]) >= MIN_ROWS)
                 for o in orders]
        S = max(steps)
        rows = np.zeros((S, K, B), dtype=np.int64)
        labels = np.zeros((S, K, B), dtype=np.int64)
        counts = np.zeros((S, K), dtype=np.int64)
        step_size, bias2 = np.ones((S, K)), np.ones((S, K))
        for k, (fit, order) in enumerate(zip(self.fits, orders, strict=False)):
            if order is None:
                continue
            lr = float(fit.estimator.learning_rate)
            for s in range(steps[k]):
                picked = order[s * B:(s + 1) * B]
                batch = fit.fit_rows[picked]
                rows[s, k, :len(batch)], rows[s, k, len(batch):] = batch, batch[0]
                labels[s, k, :len(batch)], labels[s, k, len(batch):] = (fit.y_fit_codes[picked],
                                                                        fit.y_fit_codes[picked[0]])
                counts[s, k] = len(batch)
                fit.steps += 1
                step_size[s, k] = lr / (1 - BETA1 ** fit.steps)
                bias2[s, k] = (1 - BETA2 ** fit.steps) ** 0.5
        mask = (np.arange(B)[None, None, :] < counts[:, :, None]).astype(np.float32)
        to = dict(device=self.device)
        return (counts, torch.as_tensor(counts, dtype=torch.float64, **to), torch.as_tensor(rows, **to),
                torch.as_tensor(labels, **to), torch.as_tensor(mask, **to), torch.as_tensor(counts > 0, **to),
                torch.as_tensor(step_size, dtype=torch.float32, **to),
                torch.as_tensor(bias2, dtype=torch.float32, **to))

    # --- epochs ----------------------------------------------------------------------

    @torch.no_grad()
    def _holdout_losses(self) -> list[float]:
        """Each fit's holdout loss, with its loss module on its own slice of the
        stacked parameters (eval mode: no dropout), as ``TorchClassifier._loss``."""
        n = len(self.linears)
        losses = []
        for k, fit in enumerate(self.fits):
            X = self.X_stop[fit.stop_rows]
            chunks = []
            for start in range(0, len(X), EVAL_BATCH):
                x, layer = X[start:start + EVAL_BATCH], 0
                for module in self.layers:
                    if isinstance(module, torch.nn.Linear):
                        x = torch.nn.functional.linear(x, self.params[layer][k], self.params[n + layer][k])
                        layer += 1
                    elif isinstance(module, torch.nn.ReLU):
                        x = torch.relu(x)
                chunks.append(x)
            losses.append(fit.loss(torch.cat(chunks), fit.y_stop))
        return torch.stack(losses).tolist()

    def run(self) -> None:
        keep_freed_memory()
        started = time.perf_counter()
        clip = self._per_fit([float(c) if c else math.inf for c in self.clip])
        max_epochs = max(int(f.estimator.max_epochs) for f in self.fits)
        for epoch in range(max_epochs):
            if all(f.done for f in self.fits):
                break
            counts, row_counts, rows, labels, mask, active, step_size, bias2 = self._epoch_plan()
            total = torch.zeros(len(self.fits), dtype=torch.float64, device=self.device)
            for s in range(len(counts)):
                noises = self._noises(counts[s])
                losses = self.loss_fn(self.params, self.X_fit, rows[s], labels[s], mask[s], noises, self.weights)
                grads = torch.autograd.grad(losses.sum(), self.params)
                self.update_fn(self.params, grads, self.moments, active[s], step_size[s], bias2[s], clip, self.decay)
                total += losses.detach().double() * row_counts[s]
            seen = counts.sum(0)
            train_losses = (total.cpu().numpy() / np.maximum(seen, 1)).tolist()
            val_losses = self._holdout_losses()
            improved = []
            for k, fit in enumerate(self.fits):
                if fit.done:
                    continue
                fit.history.append({"epoch": epoch, "train_loss": train_losses[k], "val_loss": val_losses[k]})
                if val_losses[k] < fit.best:  # NaN never improves
                    fit.best, fit.best_epoch, fit.since_best = val_losses[k], epoch, 0
                    improved.append(k)
                else:
                    fit.since_best += 1
                    patience = fit.estimator.patience
                    if patience is not None and fit.since_best >= patience:
                        fit.done = True
                if epoch + 1 >= int(fit.estimator.max_epochs):
                    fit.done = True
            if improved:  # a select, not index_copy_ (no deterministic CUDA kernel)
                keep = torch.zeros(len(self.fits), dtype=torch.bool)
                keep[improved] = True
                keep = keep.to(self.device)
                for best, p in zip(self.best_state, self.params, strict=False):
                    best.copy_(torch.where(keep.view((-1,) + (1,) * (p.dim() - 1)), p.detach(), best))
        self._finish(time.perf_counter() - started)

    def _finish(self, seconds: float) -> None:
        n = len(self.linears)
        for k, fit in enumerate(self.fits):
            if fit.best_epoch is None:
                raise FloatingPointError(f"loss was never finite in {len(fit.history)} epochs "
                                         "(learning rate too high? non-finite input?)")
            modules = _layers(fit.network)
            with torch.no_grad():
                for layer, i in enumerate(self.linears):
                    modules[i].weight.copy_(self.best_state[layer][k])
                    modules[i].bias.copy_(self.best_state[n + layer][k])
            estimator = fit.estimator
            estimator.history_ = fit.history
            estimator.best_epoch_ = fit.best_epoch
            estimator.network_ = fit.network.eval()
            estimator.n_epochs_ = len(fit.history)
            estimator.fit_seconds_ = seconds / len(self.fits)  # the stacked run's time, shared
