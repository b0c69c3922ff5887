"""Deep-AMTL (after Lee, Yang & Hwang 2016, asymmetric multitask learning): every
task's weight vector is reconstructed from the others through a non-negative
task-to-task transfer matrix B (tasks x tasks, zero diagonal), and a task sends
knowledge in proportion to how well it is learnt:

    sum_s (1 + outgoing_penalty * |B_s,:|_1) loss_s / T + transfer_weight * |W - B^T W|_F^2 / T

B has tasks^2 entries (9,520^2 = 91M on the D-GEX data): the memory cost the
Deep-LSMTL paper points at."""

from __future__ import annotations

import torch
from torch import nn

from . import register
from ._contract import DENSE_CONSTRAINTS, DENSE_TEST_PARAMS, WEIGHT
from ._mtl import MtlDenseRegressor, per_task_loss


class TaskTransfer(nn.Module):
    def __init__(self, n_tasks: int):
        super().__init__()
        self.raw = nn.Parameter(torch.full((n_tasks, n_tasks), -4.0))

    def matrix(self) -> torch.Tensor:
        # Softplus keeps transfers non-negative; no task transfers to itself.
        return nn.functional.softplus(self.raw) * (1.0 - torch.eye(len(self.raw), device=self.raw.device))


@register
class DeepAmtl(MtlDenseRegressor):
    name = "deep_amtl"
    _parameter_constraints = {**DENSE_CONSTRAINTS,
                              "transfer_weight": [WEIGHT], "outgoing_penalty": [WEIGHT]}
    _test_params = DENSE_TEST_PARAMS

    def __init__(self, hidden_sizes=(7000, 7000, 7000), architecture: str = "dense", negative_slope: float = 0.2,
                 dropout: float = 0.1, reg_loss: str = "l1", transfer_weight: float = 1e-3,
                 outgoing_penalty: float = 0.1, learning_rate: float = 5e-4, weight_decay: float = 0.0,
                 max_epochs: int = 100, batch_size: int = 200, device: str = "auto", random_state: int = 0,
                 verbose: bool = False):
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.reg_loss = reg_loss
        self.transfer_weight = transfer_weight
        self.outgoing_penalty = outgoing_penalty
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _extra(self, n_features, n_tasks):
        return TaskTransfer(n_tasks)

    def _objective(self, x, y):
        prediction = self.network_.base(x)
        B = self.network_.extra.matrix()
        W = self.task_weights()
        n_tasks = W.shape[0]
        weighted = ((1.0 + float(self.outgoing_penalty) * B.sum(dim=1)) *
                    per_task_loss(prediction, y, self.reg_loss)).sum() / n_tasks
        return weighted + float(self.transfer_weight) * ((W - B.T @ W) ** 2).sum() / n_tasks
