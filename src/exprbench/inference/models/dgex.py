"""D-GEX (Chen et al. 2016), ported from ``uci-cbcl/D-GEX`` (pylearn2).

* ``n_hidden_layers`` (1-3) tanh layers of ``hidden_size`` units (paper grid
  3,000 / 6,000 / 9,000); dropout ``dropout`` on every hidden layer's output, none
  on the input; linear output.
* ``output_heads: 2`` (default) trains two independent networks, one per half of
  the targets, as D-GEX's ``0-4760`` / ``4760-9520`` scripts did (one per GPU):
  each half has its own optimiser, learning-rate decay and best epoch;
  ``1`` is one network for all targets.
* Init: hidden weights Glorot-uniform, output weights Uniform(+-1e-4), biases 0.
* Loss: squared error summed over outputs, averaged over the batch (pylearn2 ``Linear``).
* SGD with momentum 0.5, batch 200, learning rate 5e-4 (one hidden layer) or 3e-4
  (two or three) unless ``learning_rate`` is set; weights of every layer after
  the first learn ``later_layer_lr_scale`` (3) times faster.
* After each epoch the MAE on a fixed subset of ``monitor_samples`` (5,000)
  training samples is computed (per half); if it rose, that half's learning rate
  is multiplied by ``lr_decay`` (0.9), floored at ``min_lr`` (1e-5).
* The epoch with the lowest validation MAE is kept, per half.

torch's SGD applies momentum as ``v = m v + g; w -= lr v`` where pylearn2 uses
``v = m v - lr g; w += v``: the same steps while the rate is constant, slightly
different right after a decay.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...params import BOOLEAN, DEVICE, SEED, Options, Real, at_least, between, positive
from . import register
from ._torch_regressor import TorchRegressor


class TanhNetwork(nn.Module):
    def __init__(self, n_inputs: int, n_outputs: int, n_hidden_layers: int, hidden_size: int, dropout: float):
        super().__init__()
        self.hidden = nn.ModuleList()
        width = n_inputs
        for _ in range(n_hidden_layers):
            layer = nn.Linear(width, hidden_size)
            bound = math.sqrt(6.0 / (width + hidden_size))
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
            self.hidden.append(layer)
            width = hidden_size
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(width, n_outputs)
        nn.init.uniform_(self.output.weight, -1e-4, 1e-4)
        nn.init.zeros_(self.output.bias)

    def forward(self, x):
        for layer in self.hidden:
            x = self.dropout(torch.tanh(layer(x)))
        return self.output(x)


class SplitHeads(nn.Module):
    """Independent networks, each predicting a consecutive block of the targets."""

    def __init__(self, networks):
        super().__init__()
        self.networks = nn.ModuleList(networks)

    def forward(self, x):
        return torch.cat([network(x) for network in self.networks], dim=1)


@register
class Dgex(TorchRegressor):
    name = "dgex"
    _parameter_constraints = {
        "n_hidden_layers": [Options(int, {1, 2, 3})],
        "hidden_size": [at_least(1)],
        "dropout": [between(0, 1, closed="left")],
        "output_heads": [Options(int, {1, 2})],
        "learning_rate": [positive(), None],  # null: D-GEX's own schedule
        "momentum": [between(0, 1, closed="left")],
        "later_layer_lr_scale": [positive()],
        "lr_decay": [between(0, 1, closed="right")],
        "min_lr": [at_least(0, Real)],
        "monitor_samples": [at_least(1)],
        "max_epochs": [at_least(1)],
        "batch_size": [at_least(1)],
        "device": [DEVICE],
        "random_state": [SEED],
        "verbose": [BOOLEAN],
    }
    _test_params = {"n_hidden_layers": 1, "hidden_size": 8, "monitor_samples": 20, "max_epochs": 2,
                    "batch_size": 16, "device": "cpu"}

    def __init__(self, n_hidden_layers: int = 3, hidden_size: int = 9000, dropout: float = 0.1,
                 output_heads: int = 2, learning_rate: float | None = None, momentum: float = 0.5,
                 later_layer_lr_scale: float = 3.0, lr_decay: float = 0.9, min_lr: float = 1e-5,
                 monitor_samples: int = 5000, max_epochs: int = 200, batch_size: int = 200,
                 device: str = "auto", random_state: int = 0, verbose: bool = False):
        self.n_hidden_layers = n_hidden_layers
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.output_heads = output_heads
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.later_layer_lr_scale = later_layer_lr_scale
        self.lr_decay = lr_decay
        self.min_lr = min_lr
        self.monitor_samples = monitor_samples
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build(self, n_inputs, n_outputs):
        if not 1 <= int(self.n_hidden_layers) <= 3:
            raise ValueError(f"dgex: n_hidden_layers must be 1, 2 or 3, got {self.n_hidden_layers}")
        if int(self.output_heads) not in (1, 2) or n_outputs < int(self.output_heads):
            raise ValueError(f"dgex: output_heads must be 1 or 2 (and at most the number of targets), "
                             f"got {self.output_heads}")
        sizes = [n_outputs // 2 + n_outputs % 2, n_outputs // 2] if int(self.output_heads) == 2 else [n_outputs]
        self.head_columns_ = [slice(start, start + size) for start, size in zip([0, sizes[0]], sizes, strict=False)]
        return SplitHeads([TanhNetwork(n_inputs, size, int(self.n_hidden_layers), int(self.hidden_size),
                                       float(self.dropout)) for size in sizes])

    def _heads(self):
        return list(zip(self.head_columns_, self.network_.networks, strict=False))

    def _setup(self):
        """One SGD per half: D-GEX trained the halves as separate runs."""
        start = float(self.learning_rate or (5e-4 if int(self.n_hidden_layers) == 1 else 3e-4))
        self.optimizers_ = [self._sgd(network, start) for network in self.network_.networks]
        self.learning_rates_ = [start] * len(self.optimizers_)
        self._monitor_maes = [math.inf] * len(self.optimizers_)

    def _sgd(self, network, lr):
        layers = [*network.hidden, network.output]
        first = list(layers[0].parameters()) + [layer.bias for layer in layers[1:]]
        later = [layer.weight for layer in layers[1:]]
        groups = [{"params": first, "scale": 1.0}, {"params": later, "scale": float(self.later_layer_lr_scale)}]
        for group in groups:
            group["lr"] = lr * group["scale"]
        return torch.optim.SGD(groups, lr=lr, momentum=float(self.momentum))

    def _optimizers(self):
        # The halves share no parameters, so one backward pass gives each its own gradients.
        return self.optimizers_

    def _loss(self, x, y):
        return sum(((network(x) - y[:, columns]) ** 2).sum(dim=1).mean() for columns, network in self._heads())

    def _end_epoch(self, epoch, source):
        X, Y = source.subset(int(self.monitor_samples), "dgex-monitor")
        column_mae = self.column_mae((X, Y))
        record = {"train_mae": float(column_mae.mean())}
        for i, (columns, _) in enumerate(self._heads()):
            monitor = float(column_mae[columns].mean())
            if monitor > self._monitor_maes[i]:
                self.learning_rates_[i] = max(self.learning_rates_[i] * float(self.lr_decay), float(self.min_lr))
                for group in self.optimizers_[i].param_groups:
                    group["lr"] = self.learning_rates_[i] * group["scale"]
            self._monitor_maes[i] = monitor
            suffix = f"_head{i}" if len(self.optimizers_) > 1 else ""
            record.update({f"train_mae{suffix}": monitor, f"lr{suffix}": self.learning_rates_[i]})
        return record
