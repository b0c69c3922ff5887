"""Shared by the torch generators: per-gene standardisation and seeded noise."""

from __future__ import annotations

import numpy as np
import torch

from ._base import Generator


class TorchGenerator(Generator):
    uses_torch = True

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        """Genes to training mean 0 and sd 1, so the Gaussian likelihood weighs genes alike."""
        self.offset_ = X.mean(axis=0)
        spread = X.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        return (X - self.offset_) / self.scale_

    def _restore(self, Z: torch.Tensor) -> np.ndarray:
        return Z.detach().cpu().double().numpy() * self.scale_ + self.offset_

    def _tensor(self, values, dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values), dtype=dtype, device=self.device_)

    def _codes(self, y) -> np.ndarray:
        """Positions of labels in ``classes_`` (the embedding rows)."""
        return np.searchsorted(self.classes_, np.asarray(y))

    def _noise(self, shape, *keys) -> torch.Tensor:
        """Standard normal noise drawn on the CPU, so CPU and GPU samples share it."""
        generator = torch.Generator(device="cpu").manual_seed(int(self._rng(*keys).integers(2**31)))
        return torch.randn(shape, generator=generator).to(self.device_)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sd: torch.Tensor) -> torch.Tensor:
    """Per-sample negative log-likelihood (summed over genes, constant dropped)."""
    return (log_sd + 0.5 * ((x - mean) * torch.exp(-log_sd)) ** 2).sum(dim=-1)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, summed over latent dimensions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=-1)
