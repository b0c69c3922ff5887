"""Pretraining throughput of the self-supervised methods, in samples per second.

Every method runs at the default architecture (encoder 4 x 256) on a random
standardised matrix, with its own default batch size (SCARF 256, VIME 16, BYOL 32)
unless ``--batch-size`` sets one for all. The baseline, measured in the same run
and at the same batch size, is plain supervised training of the same encoder with
a linear head (one forward/backward per batch, ``FineTuner(mode="unfrozen")``).
The first epoch is a warm-up and is not timed. Runs on CPU, and on CUDA too when
it is available.

    .venv/bin/python benchmarks/ssl_throughput.py [--samples 2048 --genes 2000 --epochs 3 --threads 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from exprbench.ssl.finetune import FineTuner
from exprbench.ssl.methods import SSL_METHODS


def samples_per_second(history: list[dict], n_samples: int) -> float:
    timed = [record["seconds"] for record in history[1:]]  # epoch 0 is the warm-up
    return n_samples * len(timed) / sum(timed)


def baseline_throughput(X, y, batch_size, epochs, device) -> float:
    tuner = FineTuner(mode="unfrozen", batch_size=batch_size, max_epochs=epochs, device=device)
    return samples_per_second(tuner.fit(X, y).history_, len(X))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement, the first one untimed")
    parser.add_argument("--batch-size", type=int, default=None, help="one batch size for all (default: each method's)")
    parser.add_argument("--methods", nargs="+", default=SSL_METHODS.names(), choices=SSL_METHODS.names())
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first one is not timed)")
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.samples, args.genes), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)

    print(f"{args.samples} samples x {args.genes} genes, encoder 4 x 256, {args.epochs - 1} timed epochs, "
          f"{args.threads} CPU thread(s)")
    print(f"{'device':<7}{'method':<8}{'batch':>6}{'samples/s':>12}{'baseline/s':>12}{'ratio':>8}")
    for device in devices:
        if device == "cuda":
            print(f"# {torch.cuda.get_device_name()}")
        baselines: dict[int, float] = {}
        for name in args.methods:
            method = SSL_METHODS.get(name)(epochs=args.epochs, device=device, verbose=False)
            if args.batch_size:
                method.set_params(batch_size=args.batch_size)
            batch = method.batch_size
            if batch not in baselines:
                baselines[batch] = baseline_throughput(X, y, batch, args.epochs, device)
            speed = samples_per_second(method.fit(X).history_, len(X))
            base = baselines[batch]
            print(f"{device:<7}{name:<8}{batch:>6}{speed:>12.0f}{base:>12.0f}{speed / base:>8.2f}")


if __name__ == "__main__":
    main()
