"""Fits per second of the classifiers, one by one against stacked, on the
accelerator and on the CPU in the same run.

The work is what a nested search does: K fits of one model on K different
two-thirds of the training rows, each with its own learning rate, weight
decay and seed, a few epochs each (early stopping off, so every fit does the
same work). Sizes: 1,000 x 5,000 (two classes, the paper's tasks) and
17,000 x 5,000 with 31 classes (GTEx multiclass). Sequential = K calls of
``fit``; stacked = one ``classification.stacked.fit_stacked`` call (mlp5 does
not stack: BatchNorm). The CPU does the same fits, fewer of them at the large
size (``--cpu-fits``); fits/s counts fits of the same epochs either way.

    nice .venv/bin/python benchmarks/gpu_throughput.py --quick          # CPU, small sizes, a minute
    .venv/bin/python benchmarks/gpu_throughput.py --fits 16 --compile   # on a GPU machine

Prints the device, then one line per (size, model): fits/s sequential and
stacked on the device and on the CPU, stacked/sequential and device/CPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.base import clone

from exprbench.classification.models import MODELS
from exprbench.classification.stacked import fit_stacked, stackable

SIZES = {"full": [(1000, 5000, 2), (17000, 5000, 31)], "quick": [(300, 500, 2), (1200, 500, 31)]}


def estimators(model: str, n_fits: int, epochs: int, device: str) -> list:
    rng = np.random.default_rng(0)
    base = MODELS.get(model)(device=device, max_epochs=epochs, patience=epochs + 1)
    return [clone(base).set_params(**{"learning_rate": float(10 ** rng.uniform(-4, -2)),
                                      "weight_decay": float(10 ** rng.uniform(-6, -1)), "random_state": k})
            for k in range(n_fits)]


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def fits_per_second(model, X, y, row_sets, epochs, device, stacked, compile_steps=False) -> float:
    models = estimators(model, len(row_sets), epochs, device)
    classes = np.unique(y)
    synchronize(device)
    started = time.perf_counter()
    if stacked:
        fit_stacked(models, X, y, row_sets, classes=classes, compile_steps=compile_steps)
    else:
        for m, rows in zip(models, row_sets, strict=False):
            m.fit(X[torch.as_tensor(rows, device=X.device)], y[rows], classes=classes)
    synchronize(device)
    return len(row_sets) / (time.perf_counter() - started)


def measure(model, samples, genes, n_classes, n_fits, epochs, device, compile_steps) -> dict:
    rng = np.random.default_rng(1)
    y = rng.integers(0, n_classes, samples)
    X_host = rng.standard_normal((samples, genes), dtype=np.float32)
    X_host[:, :n_classes] += np.eye(n_classes, dtype=np.float32)[y]
    X = torch.as_tensor(X_host, device=device)  # resident on the device, as a job keeps it
    row_sets = [np.sort(rng.choice(samples, size=2 * samples // 3, replace=False)) for _ in range(n_fits)]
    warm = [row_sets[0][:64]]
    fits_per_second(model, X, y, warm, 1, device, stacked=False)  # first-use costs inside torch
    result = {"sequential": fits_per_second(model, X, y, row_sets, epochs, device, stacked=False)}
    if stackable(MODELS.get(model)()) is None:
        fits_per_second(model, X, y, warm * 2, 1, device, stacked=True)
        result["stacked"] = fits_per_second(model, X, y, row_sets, epochs, device, stacked=True)
        if compile_steps:
            fits_per_second(model, X, y, row_sets, 1, device, stacked=True, compile_steps=True)  # compiles
            result["compiled"] = fits_per_second(model, X, y, row_sets, epochs, device, stacked=True,
                                                 compile_steps=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["logistic_regression", "linear_svm", "mlp3", "mlp5"])
    parser.add_argument("--fits", type=int, default=8, help="fits per measurement (K)")
    parser.add_argument("--cpu-fits", type=int, default=2, help="fits per CPU measurement at the large size")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (a job's threads_per_job)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a CPU-only machine")
    parser.add_argument("--compile", action="store_true", help="also time stacked fits with compile_steps")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurements")
    parser.add_argument("--sizes", nargs="+", choices=["small", "large"], default=["small", "large"],
                        help="small: 1,000 x 5,000; large: 17,000 x 5,000, 31 classes (--quick: smaller)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    accelerator = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if accelerator == "cuda" else "CPU only (no CUDA device)"
    print(f"device: {accelerator} ({name}); torch {torch.__version__}; CPU threads {torch.get_num_threads()}")
    print(f"{args.fits} fits per measurement ({args.cpu_fits} on the CPU at the large size), {args.epochs} epochs "
          f"each, batch 16, rows: a random two thirds per fit")
    devices = [accelerator] + ([] if accelerator == "cpu" or args.no_cpu else ["cpu"])
    header = f"{'size':<18} {'model':<20}"
    for device in devices:
        header += f" | {device + ' seq':>9} {device + ' stack':>10} {'stack/seq':>9}"
        if args.compile:
            header += f" {'compiled':>9}"
    if len(devices) > 1:
        header += f" | {'seq dev/cpu':>11} {'stack dev/cpu':>13}"
    print(header + "   (fits/s)")
    for index, (samples, genes, n_classes) in enumerate(SIZES["quick" if args.quick else "full"]):
        if ["small", "large"][index] not in args.sizes:
            continue
        for model in args.models:
            line = f"{f'{samples:,} x {genes:,}, {n_classes}':<18} {model:<20}"
            results = {}
            for device in devices:
                n_fits = args.fits if device != "cpu" or index == 0 or accelerator == "cpu" else args.cpu_fits
                r = results[device] = measure(model, samples, genes, n_classes, n_fits, args.epochs, device,
                                              args.compile)
                stacked = r.get("stacked")
                line += (f" | {r['sequential']:>9.2f} {stacked if stacked is not None else float('nan'):>10.2f} "
                         f"{(stacked or float('nan')) / r['sequential']:>9.2f}")
                if args.compile:
                    line += f" {r.get('compiled', float('nan')):>9.2f}"
            if len(devices) > 1:
                dev, cpu = results[devices[0]], results["cpu"]
                line += (f" | {dev['sequential'] / cpu['sequential']:>11.1f} "
                         f"{dev.get('stacked', float('nan')) / cpu.get('stacked', float('nan')):>13.1f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
