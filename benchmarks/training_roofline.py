"""The classifier training loop against the memory-bandwidth bound of a CPU.

At batch 16 a step of a 5,000-gene MLP does ~2 FLOP per byte it must move, so
its floor is set by memory bandwidth. Bytes one step must move, fp32, P
parameters (counted from each model's own parameters):

    forward        read W                                   4 B x P
    backward       read W (input gradients), write grad W   8 B x P
    clip           read grad (norm); scaling is skipped      4 B x P
                   when the norm is under the limit
    Adam (fused)   read p, g, m, v; write p, m, v          28 B x P
                                                  total   44 B x P (~40 B x P)

(the first layer's input gradient is not needed, so a little less for the
MLPs; activations at batch 16 are < 1 % of it). A bound per epoch is
steps x 44 B x P / bandwidth plus one forward pass over the early-stopping
holdout (4 B x P). The bandwidth is a STREAM-like copy (bytes read + written
per second) with numpy and torch, on one thread and on --threads.

Each (model, loop) runs in its own fresh process, interleaved old, new, old,
new ..., so the old loop sees the default allocator. The "old" loop
(:func:`old_fit`) is the training loop as it was before the fast path and the
shared engine (plain Adam, gradients freed and re-faulted every step, clip
always rewriting gradients, one host read per step), written out on its own:
it is the baseline here and the reference of
tests/test_trainer_speed_equivalence.py. The machine may be shared: numbers
are noisy, so the minimum of --repeats is reported. Run under nice:

    nice -n 10 .venv/bin/python benchmarks/training_roofline.py [--models mlp3 --epochs 2 --repeats 2 --unfused]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

from exprbench.classification.models import MODELS
from exprbench.classification.models._torch import EVAL_BATCH, class_weights, keep_freed_memory
from exprbench.seeding import make_rng, seed_everything
from exprbench.splits import group_holdout

BYTES_PER_PARAMETER_STEP = 44
FIT_FRACTION = 0.8  # early_stopping_fraction 0.2 of the samples is held out


class OldFit:
    """What :func:`old_fit` learned, named as a fitted classifier names it."""

    def __init__(self, network, history, best_epoch, seconds, step_times):
        self.network_, self.history_, self.best_epoch_ = network, history, best_epoch
        self.n_epochs_, self.fit_seconds_, self.step_times_ = len(history), seconds, step_times

    @torch.no_grad()
    def decision_function(self, X) -> np.ndarray:
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        return torch.cat([self.network_.eval()(X[i : i + EVAL_BATCH])
                          for i in range(0, len(X), EVAL_BATCH)]).float().numpy()


def old_fit(model, X, y, groups=None) -> OldFit:
    """``model`` (an unfitted classifier: its network, loss and settings) trained
    on the CPU by the loop as it was before the shared engine and the fast path:
    plain Adam, gradients freed and re-faulted every step, clipping that always
    rewrites the gradients, one host read of the loss per step. A stand-alone
    copy, so the engine is compared with a different implementation."""
    y = np.asarray(y)
    classes = np.unique(y)
    codes = np.searchsorted(classes, y)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    seed_everything(model.random_state)
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    fit_idx, stop_idx = group_holdout(groups, model.early_stopping_fraction, make_rng(model.random_state, "holdout"))
    if stop_idx.size == 0:
        fit_idx, stop_idx = np.arange(len(y)), np.arange(len(y))
    labels = torch.as_tensor(codes, dtype=torch.long)
    X_fit, y_fit = X[torch.as_tensor(fit_idx)], labels[torch.as_tensor(fit_idx)]
    X_stop, y_stop = X[torch.as_tensor(stop_idx)], labels[torch.as_tensor(stop_idx)]
    weight = torch.as_tensor(class_weights(codes[fit_idx], len(classes)))
    network = model.build_network(X.shape[1], len(classes))
    loss_fn = model.build_loss(weight)
    optimizer = torch.optim.Adam(network.parameters(), lr=model.learning_rate, weight_decay=model.weight_decay)
    shuffler = torch.Generator(device="cpu").manual_seed(int(model.random_state))

    best_loss, best_state, best_epoch, since_best, history, step_times = np.inf, None, None, 0, [], []
    started = time.perf_counter()
    for epoch in range(model.max_epochs):
        network.train()
        order = torch.randperm(len(y_fit), generator=shuffler)
        total, seen = 0.0, 0
        for start in range(0, len(y_fit), model.batch_size):
            batch = order[start : start + model.batch_size]
            if len(batch) < 2:  # BatchNorm cannot train on a single sample
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(X_fit[batch]), y_fit[batch])
            loss.backward()
            if model.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(network.parameters(), model.clip_grad_norm)
            optimizer.step()
            step_times.append(time.perf_counter())
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        network.eval()
        with torch.no_grad():
            logits = torch.cat([network(X_stop[i : i + EVAL_BATCH]) for i in range(0, len(X_stop), EVAL_BATCH)])
            stop_loss = float(loss_fn(logits, y_stop))
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": stop_loss})
        if stop_loss < best_loss:
            best_loss, best_epoch, since_best = stop_loss, epoch, 0
            best_state = {name: value.detach().clone() for name, value in network.state_dict().items()}
        else:
            since_best += 1
            if since_best >= model.patience:
                break
    if best_state is None:
        raise FloatingPointError(f"loss was never finite in {len(history)} epochs")
    network.load_state_dict(best_state)
    return OldFit(network.eval(), history, best_epoch, time.perf_counter() - started, step_times)


def unfused_adam(model_class):
    """The fast loop with torch's default (unfused) Adam: bit-identical to the
    old loop, so it prices what fused Adam's last-bit changes buy."""

    class UnfusedAdam(model_class):
        def _prepare_training(self, network):
            keep_freed_memory()
            return torch.optim.Adam(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)

    return UnfusedAdam


def timed_steps(model_class):
    """``model_class`` recording when each optimizer step ends: the fastest
    step-to-step interval is a step's cost without the neighbours' load."""

    class TimedSteps(model_class):
        def _prepare_training(self, network):
            optimizer = super()._prepare_training(network)
            self.step_times_ = []
            optimizer.register_step_post_hook(lambda *_: self.step_times_.append(time.perf_counter()))
            return optimizer

    return TimedSteps


def copy_bandwidth(threads: int, n_bytes: int = 1 << 26, repeats: int = 40) -> dict:
    """Bytes read + written per second by a large copy, numpy and torch."""
    torch.set_num_threads(threads)
    source = torch.ones(n_bytes // 4)
    target = torch.empty_like(source)
    target.fill_(0)
    best = {"torch": np.inf, "numpy": np.inf}
    for _ in range(repeats):
        started = time.perf_counter()
        target.copy_(source)
        best["torch"] = min(best["torch"], time.perf_counter() - started)
    source_np, target_np = source.numpy(), target.numpy()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy's copy is single-threaded anyway
        threadpool_limits = None
    for _ in range(repeats):
        started = time.perf_counter()
        if threadpool_limits is None:
            np.copyto(target_np, source_np)
        else:
            with threadpool_limits(threads):
                np.copyto(target_np, source_np)
        best["numpy"] = min(best["numpy"], time.perf_counter() - started)
    return {name: 2 * n_bytes / seconds for name, seconds in best.items()}


def one_run(model: str, loop: str, samples: int, genes: int, epochs: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((samples, genes), dtype=np.float32))
    y = rng.integers(0, 2, samples)
    settings = dict(max_epochs=epochs, patience=epochs + 1, device="cpu", random_state=0)
    if loop == "old":
        old_fit(MODELS.get(model)(**{**settings, "max_epochs": 1}), X[:64], y[:64])  # first-use costs inside torch
        fitted = old_fit(MODELS.get(model)(**settings), X, y)
    else:
        model_class = timed_steps({"new": lambda c: c, "unfused": unfused_adam}[loop](MODELS.get(model)))
        model_class(**{**settings, "max_epochs": 1}).fit(X[:64], y[:64])  # first-use costs inside torch
        fitted = model_class(**settings).fit(X, y)
    n_parameters = sum(p.numel() for p in fitted.network_.parameters())
    intervals = np.diff(fitted.step_times_)
    return {"seconds_per_epoch": fitted.fit_seconds_ / fitted.n_epochs_, "parameters": n_parameters,
            "fastest_step": float(intervals.min()), "median_step": float(np.median(intervals)),
            "decision": fitted.decision_function(X[:32]).tolist(), "best_epoch": fitted.best_epoch_}


def measure(args, model: str, loop: str) -> dict:
    command = [sys.executable, __file__, "--one", model, loop, "--samples", str(args.samples),
               "--genes", str(args.genes), "--epochs", str(args.epochs), "--threads", str(args.threads)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["logistic_regression", "mlp3", "mlp5"])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="the job's thread count (threads_per_job)")
    parser.add_argument("--unfused", action="store_true",
                        help="also time the fast loop with unfused Adam (bit-identical to the old loop)")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "LOOP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(*args.one, args.samples, args.genes, args.epochs, args.threads)))
        return

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{pool['internal_api']} {pool['num_threads']}" for pool in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"threads: torch {torch.get_num_threads()}, torch inter-op {torch.get_num_interop_threads()} "
          f"(unused by eager CPU training), native pools {blas}")
    one_thread = copy_bandwidth(1)
    job_threads = copy_bandwidth(args.threads)
    bandwidth = max(job_threads.values())
    print(f"copy bandwidth (read + write), 1 thread: numpy {one_thread['numpy'] / 1e9:.1f} GB/s, "
          f"torch {one_thread['torch'] / 1e9:.1f} GB/s; {args.threads} thread(s): "
          f"numpy {job_threads['numpy'] / 1e9:.1f} GB/s, torch {job_threads['torch'] / 1e9:.1f} GB/s")
    fit_samples = int(round(args.samples * FIT_FRACTION))
    steps = fit_samples // 16
    print(f"{args.samples} x {args.genes}, {fit_samples} fit samples, batch 16 ({steps} steps per epoch), "
          f"{args.epochs} epochs, {args.threads} thread(s), min of {args.repeats} interleaved repeats; "
          f"bound = {steps} x {BYTES_PER_PARAMETER_STEP} B x params / {bandwidth / 1e9:.1f} GB/s")
    print("per epoch: wall seconds (min of repeats); per step: the fastest step-to-step interval in ms,")
    print("which load from other processes inflates least; its x steps is the epoch it implies")
    print(f"{'model':<20} {'params':>11} {'MB/step':>8} | {'bound s':>7} {'old s':>7} {'new s':>7} {'new/old':>7} "
          f"{'new/bound':>9} | {'bound ms':>8} {'old ms':>7} {'new ms':>7} {'new/old':>7} {'new/bound':>9} | "
          f"{'max|dec diff|':>13} {'best epoch':>10}")
    for model in args.models:
        runs = {"old": [], "new": [], **({"unfused": []} if args.unfused else {})}
        for _ in range(args.repeats):
            for loop in runs:
                runs[loop].append(measure(args, model, loop))
        parameters = runs["new"][0]["parameters"]
        step_bytes = BYTES_PER_PARAMETER_STEP * parameters
        step_bound = step_bytes / bandwidth
        epoch_bound = steps * step_bound + 4 * parameters / bandwidth
        old, new = (min(r["seconds_per_epoch"] for r in runs[loop]) for loop in ("old", "new"))
        old_step, new_step = (min(r["fastest_step"] for r in runs[loop]) for loop in ("old", "new"))
        drift = np.abs(np.array(runs["old"][0]["decision"]) - np.array(runs["new"][0]["decision"])).max()
        print(f"{model:<20} {parameters:>11,} {step_bytes / 1e6:>8.0f} | {epoch_bound:>7.2f} {old:>7.2f} {new:>7.2f} "
              f"{new / old:>7.2f} {new / epoch_bound:>9.2f} | {step_bound * 1e3:>8.2f} {old_step * 1e3:>7.2f} "
              f"{new_step * 1e3:>7.2f} {new_step / old_step:>7.2f} {new_step / step_bound:>9.2f} | {drift:>13.1e} "
              f"{runs['old'][0]['best_epoch']:>5}/{runs['new'][0]['best_epoch']}", flush=True)
        if args.unfused:
            epoch = min(r["seconds_per_epoch"] for r in runs["unfused"])
            step = min(r["fastest_step"] for r in runs["unfused"])
            same = runs["unfused"][0]["decision"] == runs["old"][0]["decision"]
            print(f"{'  unfused Adam':<42} | {'':>7} {'':>7} "
                  f"{epoch:>7.2f} {epoch / old:>7.2f} {epoch / epoch_bound:>9.2f} | "
                  f"{'':>8} {'':>7} {step * 1e3:>7.2f} {step / old_step:>7.2f} {step / step_bound:>9.2f} | "
                  f"{'bit-identical' if same else 'DIFFERS':>13}", flush=True)


if __name__ == "__main__":
    main()
