"""How the family's generators train on the shared engine (``exprbench.training``):
Adam over seeded mini-batches, gradient norms clipped at 5, a fixed number of epochs.

The generators train without early stopping (a generator has no validation loss
that says when its samples are best); clipping keeps one bad batch from throwing
the weights off.
"""

from __future__ import annotations

import math

import torch

from ..devices import resolve_device
from ..seeding import derive_seed, seed_everything
from ..training import Engine, TensorBatches


def start(device: str, random_state: int, *keys) -> torch.device:
    """Seed torch for one fit and return its device (CUDA for ``auto`` when present)."""
    seed_everything(derive_seed(random_state, *keys))
    return resolve_device(device)


def train(network: torch.nn.Module, loss_fn, tensors: tuple[torch.Tensor, ...], *, epochs: int, batch_size: int,
          lr: float, random_state: int, weight_decay: float = 0.0, clip: float = 5.0) -> list[float]:
    """Minimise ``loss_fn(*batch)`` over mini-batches of the row-aligned ``tensors``
    with the trainable parameters of ``network``; returns the mean loss of each epoch."""
    parameters = [p for p in network.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    shuffler = torch.Generator(device="cpu").manual_seed(int(random_state))
    # A last batch of one row is dropped (LayerNorm and variance terms need two), unless it is all there is.
    batches = TensorBatches(*tensors, batch_size=batch_size, generator=shuffler,
                            min_rows=2 if len(tensors[0]) > 1 else 1)
    engine = Engine(tensors[0].device, max_epochs=epochs, clip_grad_norm=clip)
    result = engine.fit(network, batches, lambda batch: loss_fn(*batch), optimizer, parameters=parameters)
    history = [record["train_loss"] for record in result.history]
    if history and not math.isfinite(history[-1]):
        raise FloatingPointError(f"the training loss is not finite after {epochs} epochs (learning rate too high?)")
    return history
