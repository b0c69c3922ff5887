"""Losses, EMA update and corruptions of the self-supervised methods, checked by hand."""

import math

import numpy as np
import pytest
import torch

from exprbench.ssl.corruption import (
    Corruptor,
    bernoulli_mask,
    empirical_marginal_values,
    exact_count_mask,
    inbatch_shuffle_values,
    uniform_minmax_values,
)
from exprbench.ssl.losses import byol_loss, ema_update, nt_xent, vime_loss

torch.set_num_threads(1)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


# --- NT-Xent ---------------------------------------------------------------------

def test_nt_xent_orthogonal_pairs_by_hand():
    # Normalised embeddings e1, e2, e1, e2: each anchor has its positive at cosine 1
    # and two other entries at cosine 0, so loss = -log(e^(1/t) / (e^(1/t) + 2)).
    z = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    assert float(nt_xent(z, z.clone(), 1.0)) == pytest.approx(math.log(2 + math.e) - 1, abs=1e-6)
    assert float(nt_xent(z, z.clone(), 0.5)) == pytest.approx(math.log(2 + math.e**2) - 2, abs=1e-6)


def test_nt_xent_matches_a_loop_over_anchors():
    rng = np.random.default_rng(0)
    z1, z2 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    z = np.concatenate([z1, z2])
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    t, n = 0.7, len(z)
    losses = []
    for i in range(n):
        positive = (i + 3) % n
        denominator = sum(math.exp(z[i] @ z[j] / t) for j in range(n) if j != i)
        losses.append(-math.log(math.exp(z[i] @ z[positive] / t) / denominator))
    value = nt_xent(torch.tensor(z1, dtype=torch.float64), torch.tensor(z2, dtype=torch.float64), t)
    assert float(value) == pytest.approx(np.mean(losses), rel=1e-10)


def test_nt_xent_rejects_a_non_positive_temperature():
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.ones(2, 2), torch.ones(2, 2), 0.0)


# --- VIME --------------------------------------------------------------------------

def test_vime_loss_by_hand():
    # Logits 0 -> BCE = log 2 per entry whatever the mask; MSE = (1 + 4) / 2 = 2.5.
    x = torch.tensor([[1.0, 2.0]])
    loss = vime_loss(torch.zeros(1, 2), torch.tensor([[True, False]]), torch.zeros(1, 2), x, alpha=2.0)
    assert float(loss) == pytest.approx(math.log(2) + 2.0 * 2.5, abs=1e-6)


def test_vime_loss_mask_term_by_hand():
    # BCE with logit 2 for a true mask entry: -log(sigmoid(2)); for a false one: -log(1 - sigmoid(2)).
    logits, mask = torch.tensor([[2.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    expected = (-math.log(1 / (1 + math.exp(-2))) - math.log(1 - 1 / (1 + math.exp(-2)))) / 2
    x = torch.zeros(1, 2)
    assert float(vime_loss(logits, mask, x, x, alpha=5.0)) == pytest.approx(expected, abs=1e-6)


# --- BYOL ---------------------------------------------------------------------------

def test_byol_loss_is_two_minus_two_cosine_averaged():
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    z = torch.tensor([[0.0, 1.0], [2.0, 0.0], [1.0, 0.0]])
    expected = (2.0 + 0.0 + (2 - 2 / math.sqrt(2))) / 3
    assert float(byol_loss(p, z)) == pytest.approx(expected, abs=1e-6)


def test_byol_loss_sends_no_gradient_to_the_target():
    p = torch.randn(4, 3, requires_grad=True)
    z = torch.randn(4, 3, requires_grad=True)
    byol_loss(p, z).backward()
    assert p.grad is not None and z.grad is None


def test_ema_update_follows_its_formula():
    torch.manual_seed(0)
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    ema_update(target, online, 0.9)
    for old, new, current in zip(before, target.parameters(), online.parameters(), strict=False):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * current)


def test_ema_update_leaves_batchnorm_statistics_alone():
    online, target = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    online.running_mean.fill_(5.0)
    ema_update(target, online, 0.5)
    assert torch.equal(target.running_mean, torch.zeros(3))


# --- corruptions ----------------------------------------------------------------------

def test_exact_count_mask_corrupts_exactly_the_rate_per_row():
    mask = exact_count_mask(500, 20, 0.3, generator())
    assert (mask.sum(dim=1) == 6).all()
    per_feature = mask.float().mean(dim=0)  # every feature equally likely to be chosen
    assert per_feature.min() > 0.2 and per_feature.max() < 0.4


def test_bernoulli_mask_rate():
    mask = bernoulli_mask(1000, 50, 0.3, generator())
    assert float(mask.float().mean()) == pytest.approx(0.3, abs=0.01)
    assert mask.sum(dim=1).unique().numel() > 3, "not an exact count per row"


def test_empirical_marginal_draws_each_training_row_of_the_same_feature():
    pool = torch.arange(40, dtype=torch.float32).reshape(10, 4)  # column j holds 4 r + j
    values = empirical_marginal_values(pool, 5000, generator())
    columns = torch.arange(4)
    assert ((values - columns) % 4 == 0).all(), "a value came from another feature"
    counts = torch.bincount(((values - columns) / 4).long().flatten(), minlength=10).float()
    assert (counts / counts.sum() - 0.1).abs().max() < 0.01, "rows should be drawn uniformly"


def test_uniform_minmax_values_stay_in_range():
    low, high = torch.tensor([0.0, -2.0]), torch.tensor([1.0, 4.0])
    values = uniform_minmax_values(low, high, 4000, generator())
    assert (values >= low).all() and (values <= high).all()
    torch.testing.assert_close(values.mean(dim=0), (low + high) / 2, atol=0.1, rtol=0)


def test_inbatch_shuffle_permutes_each_column_on_its_own():
    x = torch.randn(30, 5, generator=generator(1))
    shuffled = inbatch_shuffle_values(x, generator())
    assert torch.equal(shuffled.sort(dim=0).values, x.sort(dim=0).values)
    assert not torch.equal(shuffled, x)


@pytest.mark.parametrize("mask,replacement", [("exact_count", "empirical_marginal"), ("exact_count", "uniform_minmax"),
                                              ("bernoulli", "empirical_marginal"), ("bernoulli", "inbatch_shuffle")])
def test_corruptor_changes_only_masked_entries_and_is_seeded(mask, replacement):
    X = torch.randn(1000, 20, generator=generator(2))
    corruptor = Corruptor(mask, replacement, 0.3).fit(X)
    corrupted, changed = corruptor.corrupt(X, generator(5))
    assert torch.equal(corrupted[~changed], X[~changed])
    assert float(changed.float().mean()) == pytest.approx(0.3, abs=0.015)
    again, _ = corruptor.corrupt(X, generator(5))
    assert torch.equal(corrupted, again)


def test_corruptor_rejects_unknown_names():
    with pytest.raises(ValueError, match="uniform_minmax"):
        Corruptor("exact_count", "gaussian")
    with pytest.raises(ValueError, match="rate"):
        Corruptor("bernoulli", "empirical_marginal", 1.5)
