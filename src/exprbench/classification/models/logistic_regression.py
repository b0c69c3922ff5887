"""Ridge logistic regression: one linear layer, cross-entropy, L2 via weight decay."""

import torch

from . import register
from ._torch import TorchClassifier


@register
class LogisticRegression(TorchClassifier):
    name = "logistic_regression"
    is_linear = True

    def build_network(self, n_features, n_classes):
        return torch.nn.Linear(n_features, n_classes)
