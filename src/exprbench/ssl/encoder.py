"""The encoder shared by every self-supervised method and the fine-tuner.

Blocks of Linear -> BatchNorm1d -> ReLU -> Dropout, as in the reference code's
``SCARF_encoder`` (the paper's "4 x 256 with BN"). The representation is the
output of the last block, after its dropout (identity in eval mode).
"""

from __future__ import annotations

import torch

DEPTH_RANGE = (1, 64)


def make_encoder(n_features: int, depth: int = 4, width: int = 256, dropout: float = 0.1) -> torch.nn.Sequential:
    """``depth`` dense blocks mapping ``n_features`` inputs to ``width`` outputs."""
    if int(n_features) < 1:
        raise ValueError(f"the encoder needs at least one input feature, got n_features={n_features}")
    if not DEPTH_RANGE[0] <= int(depth) <= DEPTH_RANGE[1]:
        raise ValueError(f"encoder depth must be between {DEPTH_RANGE[0]} and {DEPTH_RANGE[1]}, got {depth}")
    if int(width) < 1:
        raise ValueError(f"encoder width must be a positive integer, got {width}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"encoder dropout must be in [0, 1), got {dropout}")
    layers: list[torch.nn.Module] = []
    inputs = int(n_features)
    for _ in range(int(depth)):
        layers += [
            torch.nn.Linear(inputs, int(width)),
            torch.nn.BatchNorm1d(int(width)),
            torch.nn.ReLU(),
            torch.nn.Dropout(float(dropout)),
        ]
        inputs = int(width)
    return torch.nn.Sequential(*layers)


def encoder_shape(state_dict: dict) -> tuple[int, int, int]:
    """(n_features, depth, width) of an encoder state dict made by ``make_encoder``."""
    weights = [key for key in state_dict if key.endswith(".weight") and state_dict[key].ndim == 2]
    if not weights:
        raise ValueError("the encoder state has no Linear layers; was it made by make_encoder?")
    first, last = state_dict[weights[0]], state_dict[weights[-1]]
    return int(first.shape[1]), len(weights), int(last.shape[0])
