"""Latent diffusion for bulk profiles: the scLDM design (Palla et al.) adapted to bulk.

Two stages, both fitted on the training samples:

1. A VAE with a fixed-size latent. Each gene is a token, its learned gene
   embedding plus a projection of its (standardised) value. The encoder pools the
   tokens into ``n_latent_tokens`` latent tokens by multi-head cross-attention from
   learned queries: invariant to the order of the genes. The decoder unpools by
   cross-attention from the gene embeddings (as queries) to the latent tokens, so
   permuting the genes permutes its output: equivariant. Gaussian likelihood with a
   learned per-gene sd; KL weight ``beta`` (0.01: the latent is kept close to
   deterministic and the prior below models it, as in latent diffusion).
   The VAE is not conditioned on the class: the prior carries the condition.
2. A prior over the (standardised) posterior means: a small transformer denoiser
   over the latent tokens, with a time token and a class embedding, trained by flow
   matching on linear interpolants z_t = (1 - t) noise + t z (velocity target
   z - noise). The class is replaced by a null class with probability
   ``condition_dropout`` (0.1) so one network learns the conditional and the
   unconditional velocity. Sampling integrates dz/dt = v_u + w (v_c - v_u) with
   ``sampling_steps`` Euler steps from noise, w = ``guidance_scale``: 0 ignores the
   class, 1 is the plain conditional model, above 1 pushes further towards it.

The sizes below are the defaults used in the benchmark; at 500 genes they train in
seconds to a minute on a CPU, and on the GPU when there is one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..training import start, train
from . import register
from ._torch import TorchGenerator, gaussian_nll, kl_standard_normal


class _FeedForward(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 2 * d_model), nn.GELU(),
                                 nn.Linear(2 * d_model, d_model))

    def forward(self, h):
        return h + self.net(h)


def _heads(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    return t.unflatten(-1, (n_heads, t.shape[-1] // n_heads))


class _GeneSetVAE(nn.Module):
    """Cross-attention pooling over gene tokens and unpooling to gene queries.

    A gene token's key and value are its embedding's projections plus its value
    times a learned vector, so the per-sample work is elementwise over genes and
    the projections of the embeddings are shared by the batch; this keeps a
    500-gene VAE cheap on a CPU. The decoder's gene queries and read-out vectors
    come from the gene embeddings alone.
    """

    def __init__(self, n_genes: int, d_model: int, n_heads: int, n_latent_tokens: int, latent_dim: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        self.n_heads, self.scale = n_heads, (d_model // n_heads) ** -0.5
        self.gene_embedding = nn.Parameter(torch.randn(n_genes, d_model) * 0.5)
        # Encoder: learned latent queries attend over gene tokens.
        self.latent_queries = nn.Parameter(torch.randn(n_latent_tokens, d_model) * 0.5)
        self.key, self.value = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.key_per_unit, self.value_per_unit = nn.Parameter(torch.randn(d_model)), nn.Parameter(torch.randn(d_model))
        self.pooled = _FeedForward(d_model)
        self.to_latent = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 2 * latent_dim))
        # Decoder: gene queries attend over the latent tokens.
        self.from_latent = nn.Linear(latent_dim, d_model)
        self.latent_position = nn.Parameter(torch.randn(n_latent_tokens, d_model) * 0.1)
        self.latent_tokens = _FeedForward(d_model)
        self.gene_query, self.readout = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.latent_key, self.latent_value = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.gene_bias = nn.Parameter(torch.zeros(n_genes))
        self.log_sd = nn.Parameter(torch.zeros(n_genes))

    def encode(self, x):
        h = self.n_heads
        keys = _heads(self.key(self.gene_embedding) + x.unsqueeze(-1) * self.key_per_unit, h)        # B G H e
        values = _heads(self.value(self.gene_embedding) + x.unsqueeze(-1) * self.value_per_unit, h)  # B G H e
        queries = _heads(self.latent_queries, h)                                                     # L H e
        weights = torch.softmax(torch.einsum("lhe,bghe->bhlg", queries, keys) * self.scale, dim=-1)
        pooled = torch.einsum("bhlg,bghe->blhe", weights, values).flatten(-2) + self.latent_queries  # B L d
        mu, logvar = self.to_latent(self.pooled(pooled)).chunk(2, dim=-1)                           # B L k
        return mu, logvar.clamp(-10, 10)

    def decode(self, z):
        h = self.n_heads
        tokens = self.latent_tokens(self.from_latent(z) + self.latent_position)                      # B L d
        keys, values = _heads(self.latent_key(tokens), h), _heads(self.latent_value(tokens), h)     # B L H e
        queries = _heads(self.gene_query(self.gene_embedding), h)                                    # G H e
        weights = torch.softmax(torch.einsum("ghe,blhe->bhgl", queries, keys) * self.scale, dim=-1)
        unpooled = torch.einsum("bhgl,blhe->bghe", weights, values).flatten(-2)                      # B G d
        return (unpooled * self.readout(self.gene_embedding)).sum(-1) + self.gene_bias               # B G


def _time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    frequencies = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class _Denoiser(nn.Module):
    """Transformer over the latent tokens plus one condition token (time + class)."""

    def __init__(self, n_latent_tokens: int, latent_dim: int, d_model: int, n_heads: int, n_layers: int,
                 n_classes: int):
        super().__init__()
        self.d_model = d_model
        self.null_class = n_classes
        self.inp = nn.Linear(latent_dim, d_model)
        self.position = nn.Parameter(torch.randn(n_latent_tokens, d_model) * 0.1)
        self.time = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, d_model))
        self.class_embedding = nn.Embedding(n_classes + 1, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, latent_dim))

    def forward(self, z_t, t, c):
        condition = self.time(_time_features(t, self.d_model)) + self.class_embedding(c)
        h = self.inp(z_t) + self.position + condition[:, None, :]
        h = self.blocks(torch.cat([condition[:, None, :], h], dim=1))
        return self.out(h[:, 1:])


@register
class LatentDiffusion(TorchGenerator):
    name = "latent_diffusion"

    def __init__(self, d_model: int = 32, n_heads: int = 2, n_latent_tokens: int = 8, latent_dim: int = 8,
                 beta: float = 0.01, vae_epochs: int = 200, prior_layers: int = 2, prior_epochs: int = 400,
                 batch_size: int = 64, learning_rate: float = 2e-3, condition_dropout: float = 0.1,
                 guidance_scale: float = 1.5, sampling_steps: int = 50, sample_noise: bool = True,
                 device: str = "auto", random_state: int = 0):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_latent_tokens = n_latent_tokens
        self.latent_dim = latent_dim
        self.beta = beta
        self.vae_epochs = vae_epochs
        self.prior_layers = prior_layers
        self.prior_epochs = prior_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.condition_dropout = condition_dropout
        self.guidance_scale = guidance_scale
        self.sampling_steps = sampling_steps
        self.sample_noise = sample_noise
        self.device = device
        self.random_state = random_state

    def fit(self, X, y):
        X, y = self._start_fit(X, y)
        self.device_ = start(self.device, self.random_state, self.name, "vae")
        x = self._tensor(self._standardise(X))
        vae = _GeneSetVAE(X.shape[1], self.d_model, self.n_heads, self.n_latent_tokens, self.latent_dim)
        vae = vae.to(self.device_)

        def vae_loss(x_batch):
            mu, logvar = vae.encode(x_batch)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            nll = gaussian_nll(x_batch, vae.decode(z), vae.log_sd.clamp(-5, 3))
            return (nll + self.beta * kl_standard_normal(mu, logvar)).mean() / x_batch.shape[1]

        vae_history = train(vae, vae_loss, (x,), epochs=self.vae_epochs, batch_size=self.batch_size,
                            lr=self.learning_rate, random_state=self.random_state)
        self.vae_ = vae.eval()
        with torch.no_grad():
            latent = torch.cat([vae.encode(x[i : i + 1024])[0] for i in range(0, len(x), 1024)])
        # The prior models standardised latents (unit scale per coordinate).
        self.latent_mean_ = latent.mean(dim=0)
        self.latent_sd_ = latent.std(dim=0).clamp_min(1e-4) if len(latent) > 1 else torch.ones_like(latent[0])
        latent = (latent - self.latent_mean_) / self.latent_sd_

        start(self.device, self.random_state, self.name, "prior")
        prior = _Denoiser(self.n_latent_tokens, self.latent_dim, self.d_model, self.n_heads, self.prior_layers,
                          len(self.classes_)).to(self.device_)
        codes = self._tensor(self._codes(y), torch.long)

        def prior_loss(z1, c):
            z0 = torch.randn_like(z1)
            t = torch.rand(len(z1), device=z1.device)
            dropped = torch.rand(len(z1), device=z1.device) < self.condition_dropout
            c = torch.where(dropped, torch.full_like(c, prior.null_class), c)
            z_t = (1 - t)[:, None, None] * z0 + t[:, None, None] * z1
            return ((prior(z_t, t, c) - (z1 - z0)) ** 2).mean()

        prior_history = train(prior, prior_loss, (latent, codes), epochs=self.prior_epochs,
                              batch_size=self.batch_size, lr=self.learning_rate, random_state=self.random_state)
        self.prior_ = prior.eval()
        self.history_ = {"vae": vae_history, "prior": prior_history}
        return self

    @torch.no_grad()
    def sample_latent(self, y, guidance_scale: float | None = None) -> torch.Tensor:
        """Euler integration of the guided flow from noise (t = 0) to latents (t = 1)."""
        scale = self.guidance_scale if guidance_scale is None else guidance_scale
        codes = self._tensor(self._codes(y), torch.long)
        null = torch.full_like(codes, self.prior_.null_class)
        z = self._noise((len(y), self.n_latent_tokens, self.latent_dim), "latent", len(y))
        dt = 1.0 / self.sampling_steps
        for step in range(self.sampling_steps):
            t = torch.full((len(y),), step * dt, device=self.device_)
            v_u = self.prior_(z, t, null)
            v = v_u if scale == 0 else v_u + scale * (self.prior_(z, t, codes) - v_u)
            z = z + dt * v
        return z * self.latent_sd_ + self.latent_mean_

    @torch.no_grad()
    def sample(self, y, guidance_scale: float | None = None) -> np.ndarray:
        y = self._check_sample(y)
        z = self.sample_latent(y, guidance_scale)
        x = torch.cat([self.vae_.decode(z[i : i + 512]) for i in range(0, len(z), 512)])
        if self.sample_noise:
            x = x + self._noise(tuple(x.shape), "noise", len(y)) * self.vae_.log_sd.clamp(-5, 3).exp()
        return self._restore(x)
