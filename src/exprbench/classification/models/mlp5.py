"""Five-layer MLP: hidden widths in/2, in/2, in/2, in/4, each block
Linear, ReLU, BatchNorm and dropout 0.5 (BatchNorm against vanishing gradients)."""

import torch

from . import register
from ._torch import TorchClassifier


@register
class FiveLayerMLP(TorchClassifier):
    name = "mlp5"
    is_linear = False

    def build_network(self, n_features, n_classes):
        half, quarter = max(1, n_features // 2), max(1, n_features // 4)
        widths = [n_features, half, half, half, quarter]
        blocks = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=False):
            blocks += [
                torch.nn.Linear(width_in, width_out),
                torch.nn.ReLU(),
                torch.nn.BatchNorm1d(width_out),
                torch.nn.Dropout(0.5),
            ]
        return torch.nn.Sequential(*blocks, torch.nn.Linear(quarter, n_classes))
