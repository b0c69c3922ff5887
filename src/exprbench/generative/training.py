"""The family's small torch training loop: Adam over seeded mini-batches.

The generators train without early stopping (a generator has no validation loss
that says when its samples are best), for a fixed number of epochs; gradients are
clipped so one bad batch cannot throw the weights off.
"""

from __future__ import annotations

import torch

from ..devices import resolve_device
from ..seeding import derive_seed, seed_everything


def start(device: str, random_state: int, *keys) -> torch.device:
    """Seed torch for one fit and return its device (CUDA for ``auto`` when present)."""
    seed_everything(derive_seed(random_state, *keys))
    return resolve_device(device)


def train(parameters, loss_fn, tensors: tuple[torch.Tensor, ...], *, epochs: int, batch_size: int, lr: float,
          random_state: int, weight_decay: float = 0.0, clip: float = 5.0) -> list[float]:
    """Minimise ``loss_fn(*batch)`` over mini-batches of the row-aligned ``tensors``;
    returns the mean loss of each epoch. A last batch of one row is dropped
    (LayerNorm and variance terms need two)."""
    parameters = [p for p in parameters if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    shuffler = torch.Generator(device="cpu").manual_seed(int(random_state))
    n = len(tensors[0])
    history = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=shuffler).to(tensors[0].device)
        total, seen = 0.0, 0
        for first in range(0, n, batch_size):
            rows = order[first : first + batch_size]
            if len(rows) < 2 and n > 1:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(*(t[rows] for t in tensors))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()
            total += float(loss.detach()) * len(rows)
            seen += len(rows)
        history.append(total / max(seen, 1))
    if not all(map(lambda v: v == v and abs(v) != float("inf"), history[-1:])):
        raise FloatingPointError(f"the training loss is not finite after {epochs} epochs (learning rate too high?)")
    return history
