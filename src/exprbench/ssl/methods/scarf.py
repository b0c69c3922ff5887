"""SCARF: contrastive pretraining with random feature corruption (Bahri et al., ICLR 2022).

Per sample, a fraction ``corruption_rate`` of the features (exactly
``int(rate * n_features)``, as in the reference code) is replaced. The anchor is
the clean sample, the positive its corrupted copy; encoder + 2-layer projector,
NT-Xent loss over the batch.

Defaults follow the reference pretraining script (methods.md A.3/A.8): batch 256,
Adam lr 1e-4, dropout 0.1, rate 0.3, temperature 1.0, projector 256. Deviations:
replacement values come from each feature's empirical marginal over the training
data (what the paper says) instead of the code's Uniform(min, max), which stays
available as ``corruption="uniform_minmax"``; 1000 epochs is the code's default
and is usually overridden by the config.
"""

from __future__ import annotations

import torch

from ...params import StrOptions, at_least, between, positive
from ..corruption import Corruptor
from ..losses import nt_xent
from . import register
from ._base import PRETRAINER_CONSTRAINTS, PRETRAINER_TEST_PARAMS, Pretrainer, projection_mlp


@register
class Scarf(Pretrainer):
    name = "scarf"
    _parameter_constraints = {
        **PRETRAINER_CONSTRAINTS, "corruption_rate": [between(0, 1)],
        "corruption": [StrOptions({"empirical_marginal", "uniform_minmax"})], "temperature": [positive()],
        "projector_dim": [at_least(1)],
    }
    _test_params = PRETRAINER_TEST_PARAMS

    def __init__(self, depth=4, width=256, dropout=0.1, max_epochs=1000, batch_size=256, learning_rate=1e-4,
                 random_state=0, device="auto", verbose=True, keep="last_epoch", corruption_rate=0.3,
                 corruption="empirical_marginal", temperature=1.0, projector_dim=256):
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
        self.corruption_rate = corruption_rate
        self.corruption = corruption
        self.temperature = temperature
        self.projector_dim = projector_dim

    def _build(self, X, ctx):
        if self.corruption not in ("empirical_marginal", "uniform_minmax"):
            raise ValueError(f"scarf: corruption must be empirical_marginal or uniform_minmax, got {self.corruption!r}")
        if float(self.temperature) <= 0:
            raise ValueError(f"scarf: temperature must be positive, got {self.temperature}")
        ctx.corruptor = Corruptor("exact_count", self.corruption, self.corruption_rate).fit(X)
        width, dim = int(self.width), int(self.projector_dim)
        projector = projection_mlp(width, dim, dim)
        return torch.nn.ModuleDict({"encoder": self._encoder(X.shape[1]), "projector": projector})

    def _batch_loss(self, nets, ctx, x, rows, generator):
        corrupted, _ = ctx.corruptor.corrupt(x, generator)
        anchor = nets["projector"](nets["encoder"](x))
        positive = nets["projector"](nets["encoder"](corrupted))
        return nt_xent(anchor, positive, float(self.temperature))
