"""Deep-AMTFL (after Lee, Yang & Hwang 2018, asymmetric multitask feature learning):
knowledge moves from reliable tasks to the shared features instead of between task
parameters. The last hidden layer Z is reconstructed from the task predictions
through a non-negative task-to-feature matrix A (tasks x features), and a task's
out-going weights are penalised by its loss:

    sum_t (1 + outgoing_penalty * |A_t,:|_1) loss_t / T
        + feature_weight * |Z - relu(Y_hat A)|_F^2 / n + task_weight_decay * |W|_F^2
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from ._contract import DENSE_CONSTRAINTS, DENSE_TEST_PARAMS, WEIGHT
from ._mtl import MtlDenseRegressor, per_task_loss


class TaskToFeature(nn.Module):
    def __init__(self, n_tasks: int, n_features: int):
        super().__init__()
        self.raw = nn.Parameter(torch.full((n_tasks, n_features), -4.0))

    def matrix(self) -> torch.Tensor:
        return nn.functional.softplus(self.raw)


@register
class DeepAmtfl(MtlDenseRegressor):
    name = "deep_amtfl"
    _parameter_constraints = {**DENSE_CONSTRAINTS,
                              "feature_weight": [WEIGHT], "outgoing_penalty": [WEIGHT], "task_weight_decay": [WEIGHT]}
    _test_params = DENSE_TEST_PARAMS

    def __init__(self, hidden_sizes=(5000, 5000, 5000), architecture: str = "dense", negative_slope: float = 0.2,
                 dropout: float = 0.1, reg_loss: str = "l1", feature_weight: float = 1e-3,
                 outgoing_penalty: float = 0.1, task_weight_decay: float = 1e-5, learning_rate: float = 5e-4,
                 weight_decay: float = 0.0, max_epochs: int = 100, batch_size: int = 200, device: str = "auto",
                 random_state: int = 0, verbose: bool = False):
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.reg_loss = reg_loss
        self.feature_weight = feature_weight
        self.outgoing_penalty = outgoing_penalty
        self.task_weight_decay = task_weight_decay
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _extra(self, n_features, n_tasks):
        return TaskToFeature(n_tasks, n_features)

    def _objective(self, x, y):
        base = self.network_.base
        features = base.features(x)
        prediction = base.output(features)
        A = self.network_.extra.matrix()
        n_tasks = prediction.shape[1]
        weighted = ((1.0 + float(self.outgoing_penalty) * A.sum(dim=1)) *
                    per_task_loss(prediction, y, self.reg_loss)).sum() / n_tasks
        # Which tasks feed the features is learnt from their predictions, not the truth.
        reconstruction = torch.relu(prediction @ A)
        feature_loss = ((features - reconstruction) ** 2).sum(dim=1).mean()
        return weighted + float(self.feature_weight) * feature_loss + \
            float(self.task_weight_decay) * (self.task_weights() ** 2).sum()
