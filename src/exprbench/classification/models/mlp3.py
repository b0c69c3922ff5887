"""Three-layer MLP: hidden widths in/2 and in/4 (2500 and 1250 for 5000 genes)."""

import torch

from . import register
from ._torch import TorchClassifier


@register
class ThreeLayerMLP(TorchClassifier):
    name = "mlp3"
    is_linear = False

    def build_network(self, n_features, n_classes):
        half, quarter = max(1, n_features // 2), max(1, n_features // 4)
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, half),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.5),
            torch.nn.Linear(half, quarter),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.5),
            torch.nn.Linear(quarter, n_classes),
        )
