"""BYOL for tabular data (Grill et al., NeurIPS 2020), as adapted by the reference code.

View 1 is the sample itself, view 2 a VIME-style corruption of it (Bernoulli
``mask_rate`` mask, replacements from each feature's empirical marginal). Online
network = encoder -> projector -> predictor; target network = encoder -> projector,
an exponential moving average of the online one. Both views go through both
networks in one batch of 2B (BatchNorm sees the two views together, as in the
reference); the loss is the normalised L2 of BYOL's eq. 2, symmetrised:
l(q(v1), z'(v2)) + l(q(v2), z'(v1)) with l = 2 - 2 cos.

Defaults (methods.md A.5/A.8): batch 32, Adam lr 1e-4, 200 epochs, projector and
predictor 256 -> 4096 -> 256 (Linear, BN, ReLU, Linear). Deviations from the
reference code: EMA decay 0.99 (BYOL's and lucidrains' default; the reference
uses 0.9, available as ``ema_decay=0.9``); replacement values from the training
data's empirical marginals (the code shuffles within the batch, available as
``corruption="inbatch_shuffle"``); no dropout in the projector/predictor (added at
the reference HEAD together with a syntax error); batches are shuffled (the code
uses ``shuffle=False``); dropout 0.1 in the encoder like the other methods (reference 0.2).
"""

from __future__ import annotations

import copy

import torch

from ...params import StrOptions, at_least, between
from ..corruption import Corruptor
from ..losses import byol_loss, ema_update
from . import register
from ._base import PRETRAINER_CONSTRAINTS, PRETRAINER_TEST_PARAMS, Pretrainer, projection_mlp


@register
class Byol(Pretrainer):
    name = "byol"
    _parameter_constraints = {
        **PRETRAINER_CONSTRAINTS, "ema_decay": [between(0, 1)], "hidden_dim": [at_least(1)],
        "projection_dim": [at_least(1)], "mask_rate": [between(0, 1)],
        "corruption": [StrOptions({"empirical_marginal", "inbatch_shuffle"})],
    }
    _test_params = PRETRAINER_TEST_PARAMS

    def __init__(self, depth=4, width=256, dropout=0.1, max_epochs=200, batch_size=32, learning_rate=1e-4,
                 random_state=0, device="auto", verbose=True, keep="last_epoch", ema_decay=0.99, hidden_dim=4096,
                 projection_dim=256, mask_rate=0.3, corruption="empirical_marginal"):
        self.depth = depth
        self.width = width
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.keep = keep
        self.ema_decay = ema_decay
        self.hidden_dim = hidden_dim
        self.projection_dim = projection_dim
        self.mask_rate = mask_rate
        self.corruption = corruption

    def _build(self, X, ctx):
        if self.corruption not in ("empirical_marginal", "inbatch_shuffle"):
            raise ValueError(f"byol: corruption must be empirical_marginal or inbatch_shuffle, got {self.corruption!r}")
        if not 0.0 <= float(self.ema_decay) <= 1.0:
            raise ValueError(f"byol: ema_decay must be in [0, 1], got {self.ema_decay}")
        ctx.corruptor = Corruptor("bernoulli", self.corruption, self.mask_rate).fit(X)
        hidden, dim = int(self.hidden_dim), int(self.projection_dim)
        encoder = self._encoder(X.shape[1])
        projector = projection_mlp(int(self.width), hidden, dim)
        nets = torch.nn.ModuleDict({
            "encoder": encoder,
            "projector": projector,
            "predictor": projection_mlp(dim, hidden, dim),
            "target": copy.deepcopy(torch.nn.Sequential(encoder, projector)),
        })
        nets["target"].requires_grad_(False)
        return nets

    def _trainable(self, nets):
        return [p for key in ("encoder", "projector", "predictor") for p in nets[key].parameters()]

    def _after_step(self, nets, ctx):
        online = torch.nn.Sequential(nets["encoder"], nets["projector"])
        ema_update(nets["target"], online, float(self.ema_decay))

    def _batch_loss(self, nets, ctx, x, rows, generator):
        corrupted, _ = ctx.corruptor.corrupt(x, generator)
        both = torch.cat([x, corrupted])
        predictions = nets["predictor"](nets["projector"](nets["encoder"](both)))
        with torch.no_grad():
            targets = nets["target"](both)
        p1, p2 = predictions.chunk(2)
        z1, z2 = targets.chunk(2)
        return byol_loss(p1, z2) + byol_loss(p2, z1)
