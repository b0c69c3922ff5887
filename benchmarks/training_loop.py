"""Our training epoch against the reference pipeline's data path, in one run.

The reference fed networks through a torch DataLoader over a Dataset whose
__getitem__ looked each sample up in a pandas DataFrame (and evaluated its
early-stopping set one sample at a time). Ours keeps the matrix in one tensor,
slices batches from it and evaluates in large batches. Same network, same
batch size (16), same number of epochs; prints seconds and the speed-up.

    .venv/bin/python benchmarks/training_loop.py [--samples 1000 --genes 5000 --epochs 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from exprbench.models import MODELS


class PandasSampleDataset(torch.utils.data.Dataset):
    """Reference-style dataset: genes x samples DataFrame, one column per item."""

    def __init__(self, frame: pd.DataFrame, labels: dict):
        self.frame, self.labels = frame, labels

    def __len__(self):
        return self.frame.shape[1]

    def __getitem__(self, index):
        sample = list(self.frame.columns)[index]  # the reference rebuilt the sample list per item
        values = torch.tensor(self.frame[sample].to_numpy(), dtype=torch.float32)
        return values, self.labels[sample]


def reference_epochs(network, X, y, epochs, batch_size):
    frame = pd.DataFrame(X.T, columns=[f"s{i}" for i in range(len(y))])
    labels = dict(zip(frame.columns, y.tolist()))
    dataset = PandasSampleDataset(frame, labels)
    n_tune = len(y) // 5
    train_set = torch.utils.data.Subset(dataset, range(n_tune, len(y)))
    tune_set = torch.utils.data.Subset(dataset, range(n_tune))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        network.train()
        for batch, target in torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True):
            optimizer.zero_grad()
            loss_fn(network(batch), target).backward()
            optimizer.step()
        network.eval()
        with torch.no_grad():
            for batch, target in torch.utils.data.DataLoader(tune_set, batch_size=1):
                loss_fn(network(batch), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.samples, args.genes), dtype=np.float32)
    y = rng.integers(0, 2, args.samples)

    ours = MODELS.get("mlp3")(max_epochs=args.epochs, patience=args.epochs + 1, lr=1e-4, device="cpu")
    ours.fit(X[:50], y[:50])  # warm-up: first-use imports inside torch
    started = time.perf_counter()
    ours.fit(X, y)
    ours_seconds = time.perf_counter() - started

    network = ours.build_network(args.genes, 2)
    started = time.perf_counter()
    reference_epochs(network, X, y, args.epochs, batch_size=16)
    reference_seconds = time.perf_counter() - started

    print(f"{args.samples} samples x {args.genes} genes, 3-layer MLP, {args.epochs} epochs, batch 16, "
          f"{args.threads} thread(s)")
    print(f"reference data path (pandas per item, tune batch 1): {reference_seconds:.2f} s")
    print(f"exprbench (tensor slices, batched evaluation):      {ours_seconds:.2f} s")
    print(f"speed-up: {reference_seconds / ours_seconds:.1f}x")


if __name__ == "__main__":
    main()
