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
new ..., so the old loop sees the default allocator. The "old" loop is the
training loop as it was before the fast path (plain Adam, gradients freed and
re-faulted every step, clip always rewriting gradients, one host read per
step); it is kept here as the baseline and as the reference of
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
from exprbench.classification.models._torch import keep_freed_memory

BYTES_PER_PARAMETER_STEP = 44
FIT_FRACTION = 0.8  # early_stopping_fraction 0.2 of the samples is held out


def old_loop(model_class):
    """``model_class`` with the training step as it was before the fast path."""

    class OldLoop(model_class):
        def _prepare_training(self, network):
            return torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)

        def _train_epoch(self, network, optimizer, scaler, loss_fn, X, y, shuffler):
            network.train()
            order = torch.randperm(len(y), generator=shuffler).to(X.device)
            total, seen = 0.0, 0
            for start in range(0, len(y), self.batch_size):
                batch = order[start : start + self.batch_size]
                if len(batch) < 2:
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(network(X[batch]), y[batch])
                loss.backward()
                if self.clip_grad_norm:
                    torch.nn.utils.clip_grad_norm_(network.parameters(), self.clip_grad_norm)
                optimizer.step()
                total += float(loss.detach()) * len(batch)
                seen += len(batch)
            return total / max(seen, 1)

    OldLoop.__name__ = f"Old{model_class.__name__}"
    return OldLoop


def unfused_adam(model_class):
    """The fast loop with torch's default (unfused) Adam: bit-identical to the
    old loop, so it prices what fused Adam's last-bit changes buy."""

    class UnfusedAdam(model_class):
        def _prepare_training(self, network):
            keep_freed_memory()
            return torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)

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
    variant = {"new": lambda c: c, "old": old_loop, "unfused": unfused_adam}[loop]
    model_class = timed_steps(variant(MODELS.get(model)))
    settings = dict(max_epochs=epochs, patience=epochs + 1, device="cpu", random_state=0)
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
            print(f"{'  unfused Adam':<42} | {'':>7} {'':>7} {epoch:>7.2f} {epoch / old:>7.2f} {epoch / epoch_bound:>9.2f} | "
                  f"{'':>8} {'':>7} {step * 1e3:>7.2f} {step / old_step:>7.2f} {step / step_bound:>9.2f} | "
                  f"{'bit-identical' if same else 'DIFFERS':>13}", flush=True)


if __name__ == "__main__":
    main()
