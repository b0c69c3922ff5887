"""Per-fit speed-up on CUDA over CPU, and how far the GPU's results drift.

Fits every registered model on the same simulated problem, same seed, on CPU and
on CUDA, then prints for each model: seconds per fit on each device, the
speed-up, the largest absolute difference in decision values, and the share of
validation predictions that agree. Needs a CUDA build of torch and a GPU.

    .venv/bin/python benchmarks/gpu_vs_cpu.py [--samples 1000 --genes 5000 --epochs 20]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from exprbench.classification.models import MODELS
from exprbench.sources import SOURCES


def timed_fit(model_class, X_train, y_train, X_val, device, epochs, threads):
    torch.set_num_threads(threads)
    model = model_class(device=device, max_epochs=epochs, patience=epochs + 1, learning_rate=1e-3, random_state=0)
    model.fit(X_train[:64], y_train[:64])  # warm-up: CUDA context and kernels
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    model.fit(X_train, y_train)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, model.decision_function(X_val)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the CPU side")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device visible to torch: nothing to compare (install a CUDA build of torch==2.13.0)")
        return 1
    half = args.genes // 2
    data = SOURCES.get("simulated")(n_samples=args.samples, n_linear=half, n_nonlinear=args.genes - half).build()
    X = (data.expression - data.expression.mean(0)) / data.expression.std(0)
    y = (data.samples["label"].to_numpy() == "red").astype(int)
    split = int(0.8 * len(y))
    print(f"{torch.cuda.get_device_name()} vs CPU ({args.threads} threads); {args.samples} x {args.genes}, "
          f"{args.epochs} epochs, batch 16")
    print(f"{'model':22s} {'cpu s':>8s} {'cuda s':>8s} {'speed-up':>9s} {'max |diff|':>11s} {'agree':>6s}")
    for name in MODELS.names():
        model_class = MODELS.get(name)
        cpu_s, cpu_scores = timed_fit(model_class, X[:split], y[:split], X[split:], "cpu", args.epochs, args.threads)
        gpu_s, gpu_scores = timed_fit(model_class, X[:split], y[:split], X[split:], "cuda", args.epochs, args.threads)
        agree = np.mean(cpu_scores.argmax(1) == gpu_scores.argmax(1))
        print(f"{name:22s} {cpu_s:8.2f} {gpu_s:8.2f} {cpu_s / gpu_s:8.1f}x "
              f"{np.abs(cpu_scores - gpu_scores).max():11.2e} {agree:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
