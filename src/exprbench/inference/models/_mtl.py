"""Deep multitask comparators of the Deep-LSMTL paper: regularisers on the same
dense base network.

Every comparator trains the dense base network (:class:`DenseMLP`) with Adam on
the regression loss plus its own penalty on the task-specific parameters (the
output layer: one weight vector ``w_t`` per target gene over the last hidden
layer) or on the features. The subclasses say what extra parameters they carry
(``_extra``) and what they add to the loss (``_penalty``); some also weight the
per-task losses (asymmetric transfer).
"""

from __future__ import annotations

import torch
from torch import nn

from ._torch_regressor import regression_loss
from .dense import DenseRegressorBase


def per_task_loss(prediction: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """The regression loss of each target gene (column), averaged over the batch."""
    difference = prediction - target
    return difference.abs().mean(dim=0) if kind == "l1" else (difference ** 2).mean(dim=0)


class MtlNetwork(nn.Module):
    def __init__(self, base: nn.Module, extra: nn.Module):
        super().__init__()
        self.base = base
        self.extra = extra

    def forward(self, x):
        return self.base(x)


class MtlDenseRegressor(DenseRegressorBase):
    """Base of the comparators; subclasses define ``__init__``, ``_extra`` and ``_penalty``."""

    def _extra(self, n_features: int, n_tasks: int) -> nn.Module:
        return nn.Module()

    def _adapt_base(self, base: nn.Module, n_features: int, n_tasks: int) -> None:
        """Change the base network in place (GO-MTL factorises its output layer)."""

    def _build(self, n_inputs, n_outputs):
        base = self._base_network(n_inputs, n_outputs)
        n_features = int(list(self.hidden_sizes)[-1])
        self._adapt_base(base, n_features, n_outputs)
        return MtlNetwork(base, self._extra(n_features, n_outputs))

    def predictor(self):
        return self.network_.base

    def _setup(self):
        self.optimizer_ = self._adam(self.network_.parameters())

    def _objective(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Regression loss plus the penalty; asymmetric models override it."""
        prediction = self.network_.base(x)
        return regression_loss(prediction, y, self.reg_loss) + self._penalty(x, y, prediction)

    def _penalty(self, x, y, prediction) -> torch.Tensor:
        raise NotImplementedError

    def _loss(self, x, y):
        return self._objective(x, y)

    def task_weights(self) -> torch.Tensor:
        """Task-specific parameters as a (tasks x features) matrix."""
        return self.network_.base.output.weight
