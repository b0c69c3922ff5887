"""Deep-GO-MTL (after Kumar & Daume 2012, GO-MTL): the task weight vectors are sparse
combinations of a few shared latent tasks, W = S L with L (``n_latent_tasks`` x
features) and S (tasks x ``n_latent_tasks``). The output layer is factorised that
way and the loss adds ``sparsity`` * |S|_1 + ``basis_penalty`` * |L|_F^2."""

from __future__ import annotations

import torch
from torch import nn

from ...params import at_least
from . import register
from ._contract import DENSE_CONSTRAINTS, DENSE_TEST_PARAMS, WEIGHT
from ._mtl import MtlDenseRegressor


class FactorisedOutput(nn.Module):
    def __init__(self, n_features: int, n_tasks: int, n_latent: int):
        super().__init__()
        self.basis = nn.Linear(n_features, n_latent, bias=False)  # L
        self.combination = nn.Linear(n_latent, n_tasks)  # S and the task biases

    @property
    def weight(self) -> torch.Tensor:
        return self.combination.weight @ self.basis.weight

    def forward(self, h):
        return self.combination(self.basis(h))


@register
class DeepGoMtl(MtlDenseRegressor):
    name = "deep_go_mtl"
    _parameter_constraints = {**DENSE_CONSTRAINTS,
                              "n_latent_tasks": [at_least(1)], "sparsity": [WEIGHT], "basis_penalty": [WEIGHT]}
    _test_params = {**DENSE_TEST_PARAMS, "n_latent_tasks": 2}

    def __init__(self, hidden_sizes=(8000, 8000, 8000), architecture: str = "dense", negative_slope: float = 0.2,
                 dropout: float = 0.1, reg_loss: str = "l1", n_latent_tasks: int = 100, sparsity: float = 1e-5,
                 basis_penalty: float = 1e-5, learning_rate: float = 5e-4, weight_decay: float = 0.0,
                 max_epochs: int = 100, batch_size: int = 200, device: str = "auto", random_state: int = 0,
                 verbose: bool = False):
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.reg_loss = reg_loss
        self.n_latent_tasks = n_latent_tasks
        self.sparsity = sparsity
        self.basis_penalty = basis_penalty
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _adapt_base(self, base, n_features, n_tasks):
        base.output = FactorisedOutput(n_features, n_tasks, int(self.n_latent_tasks))

    def _penalty(self, x, y, prediction):
        output = self.network_.base.output
        return float(self.sparsity) * output.combination.weight.abs().sum() + \
            float(self.basis_penalty) * (output.basis.weight ** 2).sum()
