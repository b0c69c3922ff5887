"""The dense base network of Deep-LSMTL on its own (the paper's "DenseNet" baseline).

Densely connected hidden layers (``hidden_sizes``, paper: three of 9,000),
LeakyReLU (``negative_slope``), dropout, a linear output per target; Adam on an
L1 or L2 regression loss (``reg_loss``). ``architecture: mlp`` drops the dense
connections (the paper's MLP-base ablation).
"""

from __future__ import annotations

import torch

from . import register
from ._contract import DENSE_CONSTRAINTS, DENSE_TEST_PARAMS
from ._networks import DenseMLP
from ._torch_regressor import TorchRegressor, regression_loss


class DenseRegressorBase(TorchRegressor):
    """Shared by the dense network and the multitask models built on it."""

    def _base_network(self, n_inputs, n_outputs):
        return DenseMLP(n_inputs, n_outputs, list(self.hidden_sizes), self.architecture,
                        float(self.negative_slope), float(self.dropout))

    def _adam(self, parameters):
        return torch.optim.Adam(parameters, lr=float(self.learning_rate), weight_decay=float(self.weight_decay))


@register
class DenseRegressor(DenseRegressorBase):
    name = "dense"
    _parameter_constraints = DENSE_CONSTRAINTS
    _test_params = DENSE_TEST_PARAMS

    def __init__(self, hidden_sizes=(9000, 9000, 9000), architecture: str = "dense", negative_slope: float = 0.2,
                 dropout: float = 0.1, reg_loss: str = "l1", learning_rate: float = 5e-4, weight_decay: float = 0.0,
                 max_epochs: int = 100, batch_size: int = 200, device: str = "auto", random_state: int = 0,
                 verbose: bool = False):
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.reg_loss = reg_loss
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build(self, n_inputs, n_outputs):
        return self._base_network(n_inputs, n_outputs)

    def _setup(self):
        self.optimizer_ = self._adam(self.network_.parameters())

    def _loss(self, x, y):
        return regression_loss(self.network_(x), y, self.reg_loss)
