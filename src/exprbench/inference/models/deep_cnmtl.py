"""Deep-CNMTL (after Jacob, Bach & Vert 2009, clustered multitask learning): the task
weight vectors w_t are pulled into ``n_clusters`` groups. Penalty:

    mean_weight * |w_mean|^2 + between_weight * sum_c n_c |m_c - w_mean|^2
                             + within_weight * sum_t |w_t - m_c(t)|^2

with learnable cluster centres m_c and each task assigned to its nearest centre at
every step (a hard, k-means-like stand-in for the paper's convex relaxation)."""

from __future__ import annotations

import torch
from torch import nn

from ...params import at_least
from . import register
from ._contract import DENSE_CONSTRAINTS, DENSE_TEST_PARAMS, WEIGHT
from ._mtl import MtlDenseRegressor


class ClusterCentres(nn.Module):
    def __init__(self, n_clusters: int, n_features: int):
        super().__init__()
        self.centres = nn.Parameter(torch.randn(n_clusters, n_features) * 0.01)


@register
class DeepCnmtl(MtlDenseRegressor):
    name = "deep_cnmtl"
    _parameter_constraints = {**DENSE_CONSTRAINTS,
                              "n_clusters": [at_least(1)], "mean_weight": [WEIGHT], "between_weight": [WEIGHT],
                              "within_weight": [WEIGHT]}
    _test_params = {**DENSE_TEST_PARAMS, "n_clusters": 2}

    def __init__(self, hidden_sizes=(4000, 4000, 4000), architecture: str = "dense", negative_slope: float = 0.2,
                 dropout: float = 0.1, reg_loss: str = "l1", n_clusters: int = 20, mean_weight: float = 1e-4,
                 between_weight: float = 1e-4, within_weight: float = 1e-3, learning_rate: float = 5e-4,
                 weight_decay: float = 0.0, max_epochs: int = 100, batch_size: int = 200, device: str = "auto",
                 random_state: int = 0, verbose: bool = False):
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.reg_loss = reg_loss
        self.n_clusters = n_clusters
        self.mean_weight = mean_weight
        self.between_weight = between_weight
        self.within_weight = within_weight
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _extra(self, n_features, n_tasks):
        return ClusterCentres(min(int(self.n_clusters), n_tasks), n_features)

    def _penalty(self, x, y, prediction):
        W = self.task_weights()
        centres = self.network_.extra.centres
        mean = W.mean(dim=0)
        nearest = torch.cdist(W.detach(), centres.detach()).argmin(dim=1)
        # one_hot().sum() rather than bincount: bincount has no deterministic CUDA kernel.
        sizes = nn.functional.one_hot(nearest, len(centres)).sum(dim=0).to(W.dtype)
        between = (sizes * ((centres - mean) ** 2).sum(dim=1)).sum()
        within = ((W - centres[nearest]) ** 2).sum()
        return float(self.mean_weight) * (mean ** 2).sum() + float(self.between_weight) * between + \
            float(self.within_weight) * within
