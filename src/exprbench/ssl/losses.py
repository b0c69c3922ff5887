"""Losses of the self-supervised methods and the EMA update of BYOL's target."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """NT-Xent (InfoNCE) over 2B embeddings where (z1[i], z2[i]) are the positives.

    Cosine similarities s over all pairs; for each of the 2B anchors the loss is
    -log(exp(s_pos / t) / sum over the 2B - 1 other embeddings of exp(s / t)),
    the positive included in the denominator; the result is the mean over anchors.
    """
    if temperature <= 0:
        raise ValueError(f"NT-Xent temperature must be positive, got {temperature}")
    if z1.shape != z2.shape:
        raise ValueError(f"the two views have different shapes: {tuple(z1.shape)} and {tuple(z2.shape)}")
    batch = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * batch, dtype=torch.bool, device=z.device), float("-inf"))
    positives = torch.cat([torch.arange(batch, 2 * batch), torch.arange(batch)]).to(z.device)
    return F.cross_entropy(logits, positives)


def vime_loss(mask_logits: torch.Tensor, mask: torch.Tensor, feature_pred: torch.Tensor, x: torch.Tensor,
              alpha: float = 2.0) -> torch.Tensor:
    """BCE(mask estimate, mask) + alpha * MSE(reconstruction, x), both averaged over entries.

    ``mask_logits`` are logits (the sigmoid sits inside the loss); the feature
    reconstruction is unbounded because inputs are standardised.
    """
    mask_term = F.binary_cross_entropy_with_logits(mask_logits, mask.to(mask_logits.dtype))
    return mask_term + alpha * F.mse_loss(feature_pred, x)


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z) (BYOL eq. 2);
    no gradient flows into the target ``z``."""
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()


@torch.no_grad()
def ema_update(target: torch.nn.Module, online: torch.nn.Module, decay: float) -> None:
    """target <- decay * target + (1 - decay) * online, parameter by parameter.

    Buffers (BatchNorm running statistics) are not averaged: the target keeps its
    own, updated by its forward passes, as in the BYOL reference implementations.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
    targets, onlines = list(target.parameters()), list(online.parameters())
    if len(targets) != len(onlines):
        raise ValueError(f"target has {len(targets)} parameter tensors, online has {len(onlines)}")
    # lerp(t, o, w) = t + w (o - t) = decay * t + (1 - decay) * o; one fused call for all tensors.
    torch._foreach_lerp_(targets, onlines, 1.0 - decay)
