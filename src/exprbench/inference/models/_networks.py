"""Network bodies shared by the neural inference models."""

from __future__ import annotations

import torch
from torch import nn


class DenseMLP(nn.Module):
    """Densely connected hidden layers: layer ``k`` sees the input concatenated
    with the outputs of layers ``1..k-1`` (``architecture: dense``), or only the
    previous layer (``architecture: mlp``). LeakyReLU, dropout after every hidden
    layer, a linear output on the last hidden layer."""

    def __init__(self, n_inputs: int, n_outputs: int, hidden_sizes, architecture: str = "dense",
                 negative_slope: float = 0.2, dropout: float = 0.1):
        super().__init__()
        if architecture not in ("dense", "mlp"):
            raise ValueError(f"architecture must be 'dense' or 'mlp', got {architecture!r}")
        if not hidden_sizes:
            raise ValueError("hidden_sizes needs at least one layer")
        self.dense = architecture == "dense"
        self.hidden = nn.ModuleList()
        width = n_inputs
        for size in hidden_sizes:
            self.hidden.append(nn.Linear(width, int(size)))
            width = width + int(size) if self.dense else int(size)
        self.activation = nn.LeakyReLU(negative_slope)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(int(hidden_sizes[-1]), n_outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (what the task-specific output weights act on)."""
        features = x
        h = x
        for layer in self.hidden:
            h = self.dropout(self.activation(layer(features)))
            features = torch.cat([features, h], dim=1) if self.dense else h
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x))
