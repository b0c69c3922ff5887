"""VIME self-supervised pretraining (Yoon et al., NeurIPS 2020): mask estimation
and feature reconstruction from a corrupted sample.

A Bernoulli(``mask_rate``) mask selects entries, which take values drawn from
each feature's empirical marginal (the value of the same feature in a random
training row). From the encoding of the corrupted sample, a mask decoder predicts
which entries changed and a feature decoder reconstructs the clean sample.
Loss = BCE(mask) + ``alpha`` * MSE(features). Each decoder is ``decoder_depth``
ReLU layers of ``width`` units and a linear output layer, as in the reference.

Defaults follow methods.md A.4/A.8: mask_rate 0.3, alpha 2.0, batch 16, RMSprop
with Keras' defaults (lr 1e-3, rho 0.9, eps 1e-7), 1000 epochs. Deviations from the
reference code: a new corruption every epoch (drawn per batch; the code draws it
once before training, kept as ``resample_each_epoch=False``); the feature decoder
has a linear output instead of a sigmoid, which cannot fit standardised (negative)
targets, and the mask decoder outputs logits whose sigmoid is inside the loss;
dropout 0.1 like the other methods (reference 0.2), so every method shares one encoder.
The mask label is 1 only where the value really changed, as in the reference.
"""

from __future__ import annotations

import torch

from ...params import BOOLEAN, Real, at_least, between
from ..corruption import Corruptor
from ..losses import vime_loss
from . import register
from ._base import PRETRAINER_CONSTRAINTS, PRETRAINER_TEST_PARAMS, Pretrainer


def _decoder(width: int, depth: int, n_features: int) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_features))


@register
class Vime(Pretrainer):
    name = "vime"
    _parameter_constraints = {
        **PRETRAINER_CONSTRAINTS, "mask_rate": [between(0, 1)], "alpha": [at_least(0, Real)],
        "resample_each_epoch": [BOOLEAN], "decoder_depth": [at_least(0)],
    }
    _test_params = PRETRAINER_TEST_PARAMS

    def __init__(self, depth=4, width=256, dropout=0.1, max_epochs=1000, batch_size=16, learning_rate=1e-3,
                 random_state=0, device="auto", verbose=True, keep="last_epoch", mask_rate=0.3, alpha=2.0,
                 resample_each_epoch=True, decoder_depth=4):
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
        self.mask_rate = mask_rate
        self.alpha = alpha
        self.resample_each_epoch = resample_each_epoch
        self.decoder_depth = decoder_depth

    def _build(self, X, ctx):
        if int(self.decoder_depth) < 0:
            raise ValueError(f"vime: decoder_depth must be >= 0, got {self.decoder_depth}")
        ctx.corruptor = Corruptor("bernoulli", "empirical_marginal", self.mask_rate).fit(X)
        ctx.fixed = None
        width, n_features = int(self.width), X.shape[1]
        return torch.nn.ModuleDict({
            "encoder": self._encoder(n_features),
            "mask_decoder": _decoder(width, int(self.decoder_depth), n_features),
            "feature_decoder": _decoder(width, int(self.decoder_depth), n_features),
        })

    def _optimizer(self, params):
        return torch.optim.RMSprop(params, lr=self.learning_rate, alpha=0.9, eps=1e-7)  # Keras' RMSprop defaults

    def _start_epoch(self, nets, ctx, X, epoch, generator):
        if not self.resample_each_epoch and ctx.fixed is None:
            ctx.fixed = ctx.corruptor.corrupt(X, generator)  # one draw for the whole matrix, reused

    def _batch_loss(self, nets, ctx, x, rows, generator):
        if rows is not None and ctx.fixed is not None:
            corrupted, mask = ctx.fixed[0][rows], ctx.fixed[1][rows]
        else:
            corrupted, mask = ctx.corruptor.corrupt(x, generator)
        code = nets["encoder"](corrupted)
        return vime_loss(nets["mask_decoder"](code), mask, nets["feature_decoder"](code), x, float(self.alpha))
