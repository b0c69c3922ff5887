"""Linear SVM: one linear layer trained with the multiclass hinge loss."""

import torch

from . import register
from ._torch import TorchClassifier


@register
class LinearSVM(TorchClassifier):
    name = "linear_svm"
    is_linear = True

    def build_network(self, n_features, n_classes):
        return torch.nn.Linear(n_features, n_classes)

    def build_loss(self, weight):
        return torch.nn.MultiMarginLoss(weight=weight)
