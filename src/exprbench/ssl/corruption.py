"""Corruptions that make the augmented views of the self-supervised methods.

A corruption is a mask (which entries change) plus replacement values (what they
become). Every function takes a ``torch.Generator`` so a seed fixes the draw;
the generator must live on the same device as the tensors.

Masks:
- ``exact_count_mask``: exactly ``int(rate * n_features)`` entries per row (SCARF code).
- ``bernoulli_mask``: each entry independently with probability ``rate`` (VIME, BYOL).
Replacements:
- ``empirical_marginal_values``: entry (i, j) takes feature j's value in a random
  training row, i.e. a draw from feature j's empirical marginal (SCARF and VIME papers).
- ``uniform_minmax_values``: Uniform(min_j, max_j) (the SCARF reference code's shortcut).
- ``inbatch_shuffle_values``: each column permuted within the batch (BYOL reference code).
"""

from __future__ import annotations

import torch

MASKS = ("exact_count", "bernoulli")
REPLACEMENTS = ("empirical_marginal", "uniform_minmax", "inbatch_shuffle")


def _check_rate(rate: float) -> float:
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"corruption rate must be in [0, 1], got {rate}")
    return float(rate)


def exact_count_mask(n_rows: int, n_features: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Boolean (n_rows, n_features) mask with exactly ``int(rate * n_features)`` True per row."""
    count = int(_check_rate(rate) * n_features)
    if count == 0:
        return torch.zeros(n_rows, n_features, dtype=torch.bool, device=generator.device)
    scores = torch.rand(n_rows, n_features, generator=generator, device=generator.device)
    # The ``count`` largest of i.i.d. scores are a uniform random subset (top-k is several
    # times faster than a full sort). index_put_ rather than scatter_: it has a
    # deterministic CUDA kernel.
    chosen = scores.topk(count, dim=1, sorted=False).indices
    rows = torch.arange(n_rows, device=generator.device).unsqueeze(1).expand_as(chosen)
    mask = torch.zeros(n_rows, n_features, dtype=torch.bool, device=generator.device)
    mask.index_put_((rows, chosen), torch.tensor(True, device=generator.device))
    return mask


def bernoulli_mask(n_rows: int, n_features: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Boolean mask whose entries are independently True with probability ``rate``."""
    rate = _check_rate(rate)
    return torch.rand(n_rows, n_features, generator=generator, device=generator.device) < rate


def make_mask(kind: str, n_rows: int, n_features: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    if kind == "exact_count":
        return exact_count_mask(n_rows, n_features, rate, generator)
    if kind == "bernoulli":
        return bernoulli_mask(n_rows, n_features, rate, generator)
    raise ValueError(f"unknown corruption mask {kind!r}; choose one of {', '.join(MASKS)}")


def empirical_marginal_values(pool: torch.Tensor, n_rows: int, generator: torch.Generator) -> torch.Tensor:
    """(n_rows, n_features): entry (i, j) = ``pool[r, j]`` for a uniform random row r,
    drawn independently per entry."""
    rows = torch.randint(0, pool.shape[0], (n_rows, pool.shape[1]), generator=generator, device=generator.device)
    return pool.gather(0, rows)


def uniform_minmax_values(low: torch.Tensor, high: torch.Tensor, n_rows: int,
                          generator: torch.Generator) -> torch.Tensor:
    """(n_rows, n_features) draws from Uniform(low_j, high_j) per feature."""
    unit = torch.rand(n_rows, low.shape[0], generator=generator, device=generator.device, dtype=low.dtype)
    return low + unit * (high - low)


def inbatch_shuffle_values(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each column of ``x`` permuted independently over the rows of ``x``."""
    order = torch.rand(x.shape, generator=generator, device=generator.device).argsort(dim=0)
    return x.gather(0, order)


class Corruptor:
    """A configured corruption: ``Corruptor(...).fit(X_train)`` then ``corrupt(x, generator)``.

    ``fit`` keeps what the replacement needs from the training matrix: the matrix
    itself for empirical marginals (a reference, not a copy), min and max per
    feature for uniform_minmax, nothing for the in-batch shuffle.
    """

    def __init__(self, mask: str = "exact_count", replacement: str = "empirical_marginal", rate: float = 0.3):
        if mask not in MASKS:
            raise ValueError(f"unknown corruption mask {mask!r}; choose one of {', '.join(MASKS)}")
        if replacement not in REPLACEMENTS:
            raise ValueError(f"unknown corruption {replacement!r}; choose one of {', '.join(REPLACEMENTS)}")
        self.mask = mask
        self.replacement = replacement
        self.rate = _check_rate(rate)

    def fit(self, X: torch.Tensor) -> Corruptor:
        if self.replacement == "empirical_marginal":
            self.pool = X
        elif self.replacement == "uniform_minmax":
            self.low, self.high = X.min(dim=0).values, X.max(dim=0).values
        return self

    def replacements(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.replacement == "empirical_marginal":
            return empirical_marginal_values(self.pool, x.shape[0], generator)
        if self.replacement == "uniform_minmax":
            return uniform_minmax_values(self.low, self.high, x.shape[0], generator)
        return inbatch_shuffle_values(x, generator)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(corrupted x, mask of the entries whose value really changed)."""
        mask = make_mask(self.mask, x.shape[0], x.shape[1], self.rate, generator)
        corrupted = torch.where(mask, self.replacements(x, generator), x)
        # A replacement equal to the original is no corruption (VIME labels it 0 too).
        return corrupted, corrupted != x
