"""Compressed sensing with a generative prior (Bora et al. 2017), beyond the 2019 study.

The study's GAN would not train; here the generator G is the decoder of a VAE
trained on the training samples (per-gene 0-1 scaling from training statistics,
sigmoid output). Recovery: z_hat = argmin ||A G(z) - y||^2 + reg ||z||^2 by Adam
from ``n_restarts`` starts (z = 0, then N(0, I) draws), keeping each sample's
lowest measurement error; X_hat = G(z_hat).
"""

from __future__ import annotations

import sys
import time

from ...devices import resolve_device
from ...params import DEVICE, SEED, Real, at_least, positive
from ...seeding import derive_seed
from . import register
from ._base import RecoveryMethod, check_expression
from ._mlp import MinMax, build_mlp


def _vae(n_genes: int, hidden: list[int], latent: int):
    import torch

    class VAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = build_mlp(n_genes, hidden, 2 * latent)
            self.decoder = torch.nn.Sequential(build_mlp(latent, hidden[::-1], n_genes), torch.nn.Sigmoid())

        def forward(self, x):
            mean, log_var = self.encoder(x).chunk(2, dim=1)
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
            return self.decoder(z), mean, log_var

    return VAE()


@register
class GenerativePrior(RecoveryMethod):
    name = "generative_prior"
    _parameter_constraints = {
        "latent_dim": [at_least(1)], "hidden_sizes": [list, tuple], "max_epochs": [at_least(1)],
        "batch_size": [at_least(1)], "learning_rate": [positive()], "kl_weight": [at_least(0, Real)],
        "recovery_lr": [positive()], "recovery_steps": [at_least(1)], "n_restarts": [at_least(1)],
        "z_penalty": [at_least(0, Real)], "device": [DEVICE], "random_state": [SEED],
    }
    _test_params = {"latent_dim": 2, "hidden_sizes": [8], "max_epochs": 2, "batch_size": 16, "recovery_steps": 5,
                    "device": "cpu"}

    def __init__(self, latent_dim=20, hidden_sizes=(256,), max_epochs=200, batch_size=128, learning_rate=1e-3,
                 kl_weight=1.0, recovery_steps=300, recovery_lr=0.05, z_penalty=0.01, n_restarts=2,
                 device="auto", random_state=0):
        self.latent_dim = latent_dim
        self.hidden_sizes = hidden_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.kl_weight = kl_weight
        self.recovery_steps = recovery_steps
        self.recovery_lr = recovery_lr
        self.z_penalty = z_penalty
        self.n_restarts = n_restarts
        self.device = device
        self.random_state = random_state

    def fit(self, X, y=None):
        import torch

        from ...training import Engine, TensorBatches

        X = check_expression(X)
        started = time.perf_counter()
        self.device_ = resolve_device(self.device)
        self.scale_ = MinMax(X)
        torch.manual_seed(derive_seed(self.random_state, "vae"))
        vae = _vae(X.shape[1], list(self.hidden_sizes), self.latent_dim).to(self.device_)
        data = torch.as_tensor(self.scale_.forward(X), dtype=torch.float32, device=self.device_)
        optimizer = torch.optim.Adam(vae.parameters(), lr=self.learning_rate)
        shuffler = torch.Generator().manual_seed(derive_seed(self.random_state, "vae batches"))
        # Shuffled every epoch, even as one batch; a final batch of one row is trained on (no BatchNorm).
        batches = TensorBatches(data, batch_size=min(int(self.batch_size), X.shape[0]), generator=shuffler,
                                min_rows=1)

        def loss(batch):
            x = batch[0]
            out, mean, log_var = vae(x)
            recon = torch.sum((out - x) ** 2, dim=1).mean()
            kl = -0.5 * torch.sum(1 + log_var - mean ** 2 - log_var.exp(), dim=1).mean()
            return recon + self.kl_weight * kl

        def report(record):
            epoch = record["epoch"] + 1
            if epoch == 1 or epoch % max(1, self.max_epochs // 5) == 0 or epoch == self.max_epochs:
                print(f"vae epoch {epoch}/{self.max_epochs}: loss {record['train_loss']:.4f}, "
                      f"{time.perf_counter() - started:.1f}s", file=sys.stderr)

        Engine(self.device_, max_epochs=self.max_epochs, on_epoch=report).fit(vae, batches, loss, optimizer)
        self.decoder_ = vae.decoder.eval()
        for p in self.decoder_.parameters():
            p.requires_grad_(False)
        from ...devices import as_device_tensor

        # Made once: generate() runs at every step of every recovery.
        self.low_ = as_device_tensor(self.scale_.low, self.device_)
        self.span_ = as_device_tensor(self.scale_.span, self.device_)
        self.n_iter_ = self.max_epochs
        return self

    def generate(self, z):
        """G(z) in expression units (torch in, torch out)."""
        return self.decoder_(z) * self.span_ + self.low_

    def recover(self, Y, A):
        import torch

        from ...devices import as_device_tensor
        from ...training import Engine

        Yt = as_device_tensor(Y, self.device_)
        At = as_device_tensor(A, self.device_)
        generator = torch.Generator().manual_seed(derive_seed(self.random_state, "restarts", A.shape[0]))
        engine = Engine(self.device_, max_epochs=self.recovery_steps)
        best_z, best_err = None, None
        for restart in range(self.n_restarts):
            z0 = torch.zeros(Yt.shape[0], self.latent_dim)
            if restart:
                z0 = torch.randn(Yt.shape[0], self.latent_dim, generator=generator)
            z = z0.to(self.device_).requires_grad_(True)
            optimizer = torch.optim.Adam([z], lr=self.recovery_lr)

            def loss(z=z):
                err = torch.sum((self.generate(z) @ At.T - Yt) ** 2, dim=1)
                return torch.sum(err + self.z_penalty * torch.sum(z * z, dim=1))

            # Recovery optimises the latent codes, not a network: a fixed number of full-batch
            # steps with no epochs, batches or best epoch, so it takes the engine's steps directly.
            for _ in range(self.recovery_steps):
                engine.step(optimizer, loss)
            with torch.no_grad():
                err = torch.sum((self.generate(z) @ At.T - Yt) ** 2, dim=1)
                if best_z is None:
                    best_z, best_err = z.detach().clone(), err
                else:
                    better = err < best_err
                    best_z[better], best_err[better] = z.detach()[better], err[better]
        with torch.no_grad():
            return self.generate(best_z).cpu().numpy().astype(float)
