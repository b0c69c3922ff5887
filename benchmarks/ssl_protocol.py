"""Cost of the self-supervised protocol's steps, measured in one run.

On the synthetic compendium: seconds per pretraining epoch of each method, and
seconds per fine-tuning fit (frozen, unfrozen) at several proportions p, each as a
ratio to the supervised baseline's fit on the same subset (unfrozen, random init),
the reference of every comparison. Frozen fits train the head on embeddings
computed once, so they should cost a fraction of an unfrozen fit.

    .venv/bin/python benchmarks/ssl_protocol.py [--samples 3000 --genes 800 --epochs 3 --device auto]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from exprbench.preprocess import GenePreprocessor
from exprbench.seeding import make_rng
from exprbench.sources import SOURCES
from exprbench.ssl.finetune import FineTuner
from exprbench.ssl.methods import SSL_METHODS
from exprbench.ssl.splits import downstream_split, fit_and_stop_subsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--genes", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=3, help="pretraining epochs timed per method")
    parser.add_argument("--max-epochs", type=int, default=30, help="fine-tuning epochs (no early stop)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    torch.set_num_threads(1)

    data = SOURCES.get("synthetic_compendium")(n_samples=args.samples, n_genes=args.genes).build()
    labels = data.samples["tissue"]
    unlabeled = labels.isna().to_numpy()
    X_unlabeled = GenePreprocessor().fit_transform(data.expression[unlabeled])
    y_names = labels[~unlabeled].astype(str).to_numpy()
    classes, y = np.unique(y_names, return_inverse=True)
    parts = downstream_split(y_names, 0.5, make_rng(0, "bench"))
    prep = GenePreprocessor().fit(data.expression[~unlabeled][parts.train_pool])
    X = prep.transform(data.expression[~unlabeled])
    print(f"device {args.device}; {X_unlabeled.shape[0]} unlabeled, pool {parts.train_pool.size}, "
          f"{len(classes)} classes, {args.genes} genes")

    encoders = {}
    print("\npretraining: seconds per epoch")
    for name in SSL_METHODS.names():
        started = time.perf_counter()
        model = SSL_METHODS.get(name)(epochs=args.epochs, batch_size=128, device=args.device, verbose=False)
        model.fit(X_unlabeled)
        encoders[name] = model.encoder_.state_dict()
        print(f"  {name:8s} {(time.perf_counter() - started) / args.epochs:7.2f}")

    X_pool, y_pool = X[parts.train_pool], y[parts.train_pool]

    def fit_seconds(mode, fitted, stopping, state) -> float:
        tuner = FineTuner(mode=mode, max_epochs=args.max_epochs, patience=args.max_epochs, device=args.device)
        started = time.perf_counter()
        tuner.fit(X_pool[fitted], y_pool[fitted], X_pool[stopping], y_pool[stopping],
                  classes=np.arange(len(classes)), encoder_state=state)
        return time.perf_counter() - started

    proportions = [0.1, 0.3, 1.0]
    subsets = fit_and_stop_subsets(y_pool, proportions, make_rng(0, "bench", 0), 0.15, 1)
    state = encoders[SSL_METHODS.names()[0]]
    print(f"\nfine-tuning ({args.max_epochs} epochs): seconds per fit and ratio to the baseline fit")
    print(f"  {'p':>5s} {'n':>5s} {'baseline':>9s} {'unfrozen':>9s} {'ratio':>6s} {'frozen':>8s} {'ratio':>6s}")
    for p, (fitted, stopping) in zip(proportions, subsets, strict=False):
        base = fit_seconds("unfrozen", fitted, stopping, None)
        unfrozen = fit_seconds("unfrozen", fitted, stopping, state)
        frozen = fit_seconds("frozen", fitted, stopping, state)
        print(f"  {p:5.2f} {fitted.size:5d} {base:9.2f} {unfrozen:9.2f} {unfrozen / base:6.2f} "
              f"{frozen:8.2f} {frozen / base:6.2f}")


if __name__ == "__main__":
    main()
