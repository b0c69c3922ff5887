"""Deep-LSMTL (Ghasedi Dizaji, Chen & Huang, J Comput Biol 2021): the dense base
network regularised by a task-relation subnetwork.

The base network ``f`` predicts every target from the landmarks. The relation
network ``g`` (batch norm, a fully connected layer down to ``latent_dim`` units,
ReLU, a fully connected layer back to all targets) sees a target vector with a
random ``mask_ratio`` of its entries set to zero (a fresh mask per sample and
batch) and must reconstruct the masked entries from the others; through its
low-dimensional bottleneck it can only do that by learning how targets co-vary.
The loss is

    L = L_reg(y, f(x)) + relation_weight * L_rel

with ``L_rel`` the L1 or L2 error (``reg_loss``, shared with ``L_reg``) on the
masked entries only. ``relation_target`` says what ``g`` reconstructs:

* ``pred_to_truth`` (default): g(mask(f(x))) against the true y. g learns the
  true relations and f is pulled towards outputs whose unmasked entries let g
  recover the masked truth; a fixed target, so nothing rewards collapse.
* ``pred_detached``: g(mask(f(x))) against f(x) with f(x) held fixed as the
  target (no gradient through it), so f cannot shrink the target it is
  compared with.
* ``pred``: g(mask(f(x))) against f(x), gradients through both. Constant
  outputs minimise it (g's bias reconstructs them exactly), so a large weight
  collapses the predictions; kept for comparison.
* ``truth``: g(mask(y)) against y; g learns the true relations but does not act
  on f. ``both``: ``pred`` + ``truth``.

``schedule``: ``joint`` (one Adam over both networks), ``alternate`` (each batch,
one step of g on L_rel with f's output held fixed, then one step of f on L with
g held fixed) or ``pretrain_relation`` (g alone on the truth for
``relation_pretrain_epochs`` epochs, then joint).
"""

from __future__ import annotations

import torch
from torch import nn

from ...params import Real, StrOptions, at_least, between
from . import register
from ._contract import DENSE_CONSTRAINTS, DENSE_TEST_PARAMS
from ._torch_regressor import regression_loss
from .dense import DenseRegressorBase


class RelationNetwork(nn.Module):
    """Task-relation subnetwork: BN -> FC(latent) -> ReLU -> FC(all targets)."""

    def __init__(self, n_tasks: int, latent_dim: int):
        super().__init__()
        self.layers = nn.Sequential(nn.BatchNorm1d(n_tasks), nn.Linear(n_tasks, latent_dim), nn.ReLU(),
                                    nn.Linear(latent_dim, n_tasks))

    def forward(self, masked_outputs: torch.Tensor) -> torch.Tensor:
        return self.layers(masked_outputs)


class LsmtlNetwork(nn.Module):
    def __init__(self, base: nn.Module, relation: RelationNetwork):
        super().__init__()
        self.base = base
        self.relation = relation

    def forward(self, x):
        return self.base(x)


def task_mask(shape, ratio: float, device) -> torch.Tensor:
    """True for the entries to hide: each one independently with probability ``ratio``."""
    return torch.rand(shape, device=device) < ratio


def mask_tasks(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The values with the masked entries replaced by zero (the relation network's input)."""
    return values.masked_fill(mask, 0.0)


def relation_loss(reconstruction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, kind: str) -> torch.Tensor:
    """Reconstruction error on the masked entries only (zero when none is masked)."""
    # Weighting by the mask instead of indexing with it: no data-dependent shapes, so no host sync on GPUs.
    weight = mask.to(reconstruction.dtype)
    difference = reconstruction - target
    error = difference.abs() if kind == "l1" else difference ** 2
    if kind not in ("l1", "l2"):
        raise ValueError(f"loss must be 'l1' or 'l2', got {kind!r}")
    return (error * weight).sum() / weight.sum().clamp(min=1.0)


#: What the relation network reconstructs (module docstring); the first is the default.
RELATION_TARGETS = ("pred_to_truth", "pred_detached", "pred", "truth", "both")


@register
class DeepLsmtl(DenseRegressorBase):
    name = "deep_lsmtl"
    _parameter_constraints = {
        **DENSE_CONSTRAINTS,
        "mask_ratio": [between(0, 1)],
        "latent_dim": [at_least(1)],
        "relation_weight": [at_least(0, Real)],
        "relation_target": [StrOptions(set(RELATION_TARGETS))],
        "schedule": [StrOptions({"joint", "alternate", "pretrain_relation"})],
        "relation_pretrain_epochs": [at_least(0)],
    }
    _test_params = {**DENSE_TEST_PARAMS, "latent_dim": 4}

    def __init__(self, hidden_sizes=(9000, 9000, 9000), architecture: str = "dense", negative_slope: float = 0.2,
                 dropout: float = 0.1, reg_loss: str = "l1", mask_ratio: float = 0.5, latent_dim: int = 100,
                 relation_weight: float = 0.1, relation_target: str = "pred_to_truth", schedule: str = "joint",
                 relation_pretrain_epochs: int = 5, learning_rate: float = 5e-4, weight_decay: float = 0.0,
                 max_epochs: int = 100, batch_size: int = 200, device: str = "auto", random_state: int = 0,
                 verbose: bool = False):
        self.hidden_sizes = hidden_sizes
        self.architecture = architecture
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.reg_loss = reg_loss
        self.mask_ratio = mask_ratio
        self.latent_dim = latent_dim
        self.relation_weight = relation_weight
        self.relation_target = relation_target
        self.schedule = schedule
        self.relation_pretrain_epochs = relation_pretrain_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build(self, n_inputs, n_outputs):
        if not 0.0 < float(self.mask_ratio) < 1.0:
            raise ValueError(f"deep_lsmtl: mask_ratio must lie strictly between 0 and 1, got {self.mask_ratio}")
        if self.relation_target not in RELATION_TARGETS:
            raise ValueError(f"deep_lsmtl: relation_target must be one of {', '.join(RELATION_TARGETS)}, "
                             f"got {self.relation_target!r}")
        if self.schedule not in ("joint", "alternate", "pretrain_relation"):
            raise ValueError(f"deep_lsmtl: schedule must be joint, alternate or pretrain_relation, "
                             f"got {self.schedule!r}")
        return LsmtlNetwork(self._base_network(n_inputs, n_outputs), RelationNetwork(n_outputs, int(self.latent_dim)))

    def predictor(self):
        return self.network_.base

    def _setup(self):
        self.optimizer_ = self._adam(self.network_.parameters())
        self.base_optimizer_ = self._adam(self.network_.base.parameters())
        self.relation_optimizer_ = self._adam(self.network_.relation.parameters())

    def relation_term(self, prediction, y, mask) -> torch.Tensor:
        """``L_rel`` for one batch, given the base network's ``prediction`` and a mask."""
        relation, kind = self.network_.relation, self.reg_loss
        # (what g sees masked, what it must reconstruct on the masked entries)
        pairs = {"pred_to_truth": [(prediction, y)], "pred_detached": [(prediction, prediction.detach())],
                 "pred": [(prediction, prediction)], "truth": [(y, y)],
                 "both": [(prediction, prediction), (y, y)]}[self.relation_target]
        return sum(relation_loss(relation(mask_tasks(seen, mask)), target, mask, kind) for seen, target in pairs)

    def _train_step(self, x, y, epoch, step=None):
        # Alternating steps of two optimisers per batch: the engine's step is called once for each.
        # Every step clears the gradients of both networks (a step of one leaves some on the other).
        step = self._stepper(step)
        mask = task_mask(y.shape, float(self.mask_ratio), y.device)
        if self.schedule == "pretrain_relation" and epoch < int(self.relation_pretrain_epochs):
            return step(self.relation_optimizer_, lambda: relation_loss(
                self.network_.relation(mask_tasks(y, mask)), y, mask, self.reg_loss), zero=self.network_)
        if self.schedule == "alternate":
            def relation_alone():
                with torch.no_grad():
                    fixed = self.network_.base(x)
                return self.relation_term(fixed, y, mask)

            step(self.relation_optimizer_, relation_alone, zero=self.network_)
            optimizer = self.base_optimizer_
        else:
            optimizer = self.optimizer_

        def full_loss():
            prediction = self.network_.base(x)
            return regression_loss(prediction, y, self.reg_loss) + float(self.relation_weight) * \
                self.relation_term(prediction, y, mask)

        return step(optimizer, full_loss, zero=self.network_)
