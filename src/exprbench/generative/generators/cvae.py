"""Class-conditional VAE (Polepalli): the augmentation generator of the abstract.

The abstract gives the idea, not the architecture; the choices here:
- input: standardised genes concatenated with the one-hot class;
- encoder: ``hidden_sizes`` (256, 128) ReLU layers to a ``latent_dim`` (32) Gaussian;
- decoder: the latent concatenated with the one-hot class, the hidden sizes reversed,
  to the per-gene mean; a learned per-gene noise sd (the Gaussian likelihood's
  variance, so the reconstruction and KL terms are on one scale);
- loss: negative ELBO with KL weight ``beta`` (1.0, the plain VAE), the KL weight
  rising linearly over the first ``warmup_fraction`` (0.2) of epochs so the latent
  is used before it is pulled to the prior;
- ``epochs`` 300, Adam lr 1e-3, batch 32.
Sampling draws the latent from the prior N(0, I), decodes it with the requested
class and adds the learned per-gene noise (``sample_noise``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..training import start, train
from . import register
from ._torch import TorchGenerator, gaussian_nll, kl_standard_normal


def _mlp(sizes: list[int]) -> torch.nn.Sequential:
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class _CVAE(torch.nn.Module):
    def __init__(self, n_genes: int, n_classes: int, hidden_sizes, latent_dim: int):
        super().__init__()
        self.n_classes = n_classes
        hidden = list(hidden_sizes)
        self.encoder = _mlp([n_genes + n_classes, *hidden, 2 * latent_dim])
        self.decoder = _mlp([latent_dim + n_classes, *reversed(hidden), n_genes])
        self.log_sd = torch.nn.Parameter(torch.zeros(n_genes))

    def decode(self, z, onehot):
        return self.decoder(torch.cat([z, onehot], dim=1))

    def forward(self, x, onehot):
        mu, logvar = self.encoder(torch.cat([x, onehot], dim=1)).chunk(2, dim=1)
        logvar = logvar.clamp(-10, 10)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z, onehot), mu, logvar


@register
class ConditionalVAE(TorchGenerator):
    name = "cvae"

    def __init__(self, latent_dim: int = 32, hidden_sizes=(256, 128), beta: float = 1.0, max_epochs: int = 300,
                 batch_size: int = 32, learning_rate: float = 1e-3, warmup_fraction: float = 0.2,
                 sample_noise: bool = True, device: str = "auto", random_state: int = 0):
        self.latent_dim = latent_dim
        self.hidden_sizes = hidden_sizes
        self.beta = beta
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_fraction = warmup_fraction
        self.sample_noise = sample_noise
        self.device = device
        self.random_state = random_state

    def fit(self, X, y):
        X, y = self._start_fit(X, y)
        self.device_ = start(self.device, self.random_state, self.name)
        model = _CVAE(X.shape[1], len(self.classes_), self.hidden_sizes, self.latent_dim).to(self.device_)
        x = self._tensor(self._standardise(X))
        onehot = torch.nn.functional.one_hot(self._tensor(self._codes(y), torch.long), len(self.classes_)).float()
        warmup_steps = max(1, int(self.warmup_fraction * self.max_epochs) * -(-len(y) // self.batch_size))
        step = [0]

        def loss(x_batch, c_batch):
            step[0] += 1
            weight = self.beta * min(1.0, step[0] / warmup_steps)
            recon, mu, logvar = model(x_batch, c_batch)
            nll = gaussian_nll(x_batch, recon, model.log_sd.clamp(-5, 3))
            return (nll + weight * kl_standard_normal(mu, logvar)).mean() / x_batch.shape[1]

        self.history_ = train(model, loss, (x, onehot), epochs=self.max_epochs, batch_size=self.batch_size,
                              lr=self.learning_rate, random_state=self.random_state)
        self.model_ = model.eval()
        return self

    @torch.no_grad()
    def sample(self, y) -> np.ndarray:
        y = self._check_sample(y)
        model = self.model_
        onehot = torch.nn.functional.one_hot(self._tensor(self._codes(y), torch.long), len(self.classes_)).float()
        z = self._noise((len(y), self.latent_dim), "latent", len(y))
        x = model.decode(z, onehot)
        if self.sample_noise:
            x = x + self._noise(tuple(x.shape), "noise", len(y)) * model.log_sd.clamp(-5, 3).exp()
        return self._restore(x)
