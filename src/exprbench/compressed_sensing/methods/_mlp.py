"""A fully connected regressor trained with MSE + L2, with (lr, L2) picked on a
validation split, as in the 2019 study (grid search; it reports lr 1e-3 and
lambda 1.0 but not how its loss was scaled).

Inputs and targets are scaled to [0, 1] per column with training statistics and
un-scaled on output. The L2 term is ``l2 * mean(w^2)`` over all weight entries:
like the MSE (a mean over samples and genes) it is a per-entry average, so an
``l2`` value means the same for any layer width and training size. The earlier
``l2 * sum(w^2) / (2 n)`` grew with the width and shrank only with n: at l2 0.1-1
it outweighed the MSE of [0, 1]-scaled targets and flattened the network to the
training mean.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ...seeding import derive_seed, make_rng


class MinMax:
    def __init__(self, X: np.ndarray):
        self.low = X.min(axis=0)
        span = X.max(axis=0) - self.low
        self.span = np.where(span > 0, span, 1.0)

    def forward(self, X):
        return (X - self.low) / self.span

    def inverse(self, X):
        return X * self.span + self.low


def build_mlp(n_in: int, hidden: list[int], n_out: int):
    import torch

    layers, width = [], n_in
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    layers.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*layers)


def train_mlp(X: np.ndarray, Y: np.ndarray, hidden: list[int], lr: float, l2: float, epochs: int,
              batch_size, seed: int, device):
    """Network trained on scaled arrays (numpy in, torch module out)."""
    import torch

    from ...training import Engine, TensorBatches

    torch.manual_seed(seed)
    net = build_mlp(X.shape[1], hidden, Y.shape[1]).to(device)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    Yt = torch.as_tensor(Y, dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    n_weights = sum(w.numel() for w in weights)
    n = X.shape[0]
    # One batch of all rows is not shuffled; a final batch of one row is trained on (no BatchNorm).
    batches = TensorBatches(Xt, Yt, batch_size=batch_size if batch_size is None else min(int(batch_size), n),
                            generator=torch.Generator().manual_seed(seed), min_rows=1, shuffle_whole=False)

    def loss(batch):
        x, y = batch
        value = torch.mean((net(x) - y) ** 2)
        if l2:
            value = value + l2 * sum(torch.sum(w * w) for w in weights) / n_weights
        return value

    Engine(device, max_epochs=epochs).fit(net, batches, loss, optimizer)
    return net


def predict(net, X: np.ndarray, device) -> np.ndarray:
    import torch

    with torch.no_grad():
        return net(torch.as_tensor(X, dtype=torch.float32, device=device)).cpu().numpy().astype(float)


class TunedRegressor:
    """Scaling + MLP whose (lr, l2) is chosen on a validation split, then refit on all rows."""

    def __init__(self, hidden, learning_rates, l2_values, epochs, batch_size, validation_fraction, seed, device):
        self.hidden, self.learning_rates, self.l2_values = list(hidden), list(learning_rates), list(l2_values)
        self.epochs, self.batch_size, self.validation_fraction = epochs, batch_size, validation_fraction
        self.seed, self.device = seed, device

    def fit(self, X: np.ndarray, Y: np.ndarray, label: str = "mlp"):
        started = time.perf_counter()
        self.x_scale, self.y_scale = MinMax(X), MinMax(Y)
        Xs, Ys = self.x_scale.forward(X), self.y_scale.forward(Y)
        grid = [(lr, l2) for lr in self.learning_rates for l2 in self.l2_values]
        self.validation_ = {}
        if len(grid) > 1:
            order = make_rng(self.seed, "validation").permutation(X.shape[0])
            n_val = max(1, int(round(self.validation_fraction * X.shape[0])))
            val, fit = order[:n_val], order[n_val:]
            for lr, l2 in grid:
                net = train_mlp(Xs[fit], Ys[fit], self.hidden, lr, l2, self.epochs, self.batch_size,
                                derive_seed(self.seed, "net"), self.device)
                self.validation_[(lr, l2)] = float(np.mean((predict(net, Xs[val], self.device) - Ys[val]) ** 2))
        self.lr_, self.l2_ = min(self.validation_, key=self.validation_.get) if self.validation_ else grid[0]
        self.net_ = train_mlp(Xs, Ys, self.hidden, self.lr_, self.l2_, self.epochs, self.batch_size,
                              derive_seed(self.seed, "net"), self.device)
        print(f"{label}: lr {self.lr_}, l2 {self.l2_} chosen from {len(grid)} settings, "
              f"{time.perf_counter() - started:.1f}s", file=sys.stderr)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.y_scale.inverse(predict(self.net_, self.x_scale.forward(X), self.device))
