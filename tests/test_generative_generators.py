"""Generators of the generative family on planted classes: shapes, class balance,
fidelity against a negative control, and classifier-free guidance."""

import numpy as np
import pytest

from exprbench.generative.fidelity import LOWER_IS_BETTER, METRICS, fidelity, split_halves
from exprbench.generative.generators import GENERATORS

# Small enough to train in seconds on a CPU, large enough to learn planted classes.
TINY = {
    "cvae": {"max_epochs": 80, "hidden_sizes": (64, 32), "latent_dim": 8, "device": "cpu"},
    # A one-layer prior: guidance still moves each class mean by over 0.35 more than the 0.1 asked (seeds 0-4).
    "latent_diffusion": {"vae_epochs": 150, "prior_epochs": 150, "prior_layers": 1, "d_model": 16, "latent_dim": 4,
                         "n_latent_tokens": 4, "sampling_steps": 20, "device": "cpu"},
}


def planted(n, n_genes=24, n_classes=3, seed=0, data_seed=0):
    """Classes with distinct means on a shared low-rank structure, genes with distinct scales."""
    fixed = np.random.default_rng(data_seed)
    loadings = fixed.standard_normal((3, n_genes))
    means = fixed.standard_normal((n_classes, n_genes)) * 1.5
    scales = np.exp(fixed.normal(0, 0.4, n_genes))
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = (rng.standard_normal((n, 3)) @ loadings + means[y] + 0.5 * rng.standard_normal((n, n_genes))) * scales
    return X, y


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch and one BLAS thread: on a shared machine, idle threads of a small model
    spin and slow it tenfold (the fidelity discriminator's L-BFGS most of all)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    X, y = planted(180, seed=1)
    X_test, y_test = planted(120, seed=2)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return {name: GENERATORS.get(name)(**TINY.get(name, {}), random_state=0).fit(X, y) for name in GENERATORS.names()}


def test_every_generator_samples_the_requested_classes(fitted):
    labels = np.array([0] * 5 + [1] * 3 + [2] * 7)
    for name, model in fitted.items():
        X = model.sample(labels)
        assert X.shape == (15, 24), name
        assert np.all(np.isfinite(X)), name
        np.testing.assert_array_equal(model.sample(labels), X, err_msg=f"{name}: sampling is not seeded")
        with pytest.raises(ValueError, match="cannot generate"):
            model.sample(np.array([5]))


def test_a_class_seen_once_can_still_be_generated():
    X, y = planted(31)
    y[-1] = 3  # one sample only
    for name in ("gaussian_class", "smote", "shuffled_genes"):
        model = GENERATORS.get(name)(random_state=0).fit(X, y)
        assert model.sample(np.array([3, 3])).shape == (2, 24)


def test_gaussian_class_matches_planted_gaussian_classes():
    X, y = planted(600, n_genes=10, seed=3)
    X_test, y_test = planted(300, n_genes=10, seed=4)
    model = GENERATORS.get("gaussian_class")(random_state=0).fit(X, y)
    result = fidelity(X_test, y_test, model.sample(y_test), y_test, seed=0)
    control = fidelity(X_test, y_test, GENERATORS.get("shuffled_genes")().fit(X, y).sample(y_test), y_test, seed=0)
    assert abs(result["mmd"]) < 0.02 and control["mmd"] > 10 * abs(result["mmd"])
    assert abs(result["discriminator_auc"] - 0.5) < 0.08
    assert result["mean_corr"] > 0.9 and result["var_corr"] > 0.9 and result["corr_corr"] > 0.9


def _better(metric, a, b) -> bool:
    if metric in LOWER_IS_BETTER:
        return a < b
    if metric == "discriminator_auc":
        return abs(a - 0.5) < abs(b - 0.5)
    return a > b


@pytest.mark.parametrize("name", ["cvae", "latent_diffusion"])
def test_deep_generators_beat_shuffled_genes_on_every_metric(fitted, data, name):
    _, _, X_test, y_test = data
    first, second = split_halves(y_test, np.random.default_rng(0))
    labels = y_test[second]
    ours = fidelity(X_test[first], y_test[first], fitted[name].sample(labels), labels, seed=0)
    control = fidelity(X_test[first], y_test[first], fitted["shuffled_genes"].sample(labels), labels, seed=0)
    worse = [m for m in METRICS if not _better(m, ours[m], control[m])]
    assert not worse, f"{name} does not beat shuffled genes on {worse}: {ours} vs {control}"


def test_guidance_moves_class_means_towards_their_class(fitted, data):
    X, y, _, _ = data
    model = fitted["latent_diffusion"]
    overall = X.mean(axis=0)
    labels = np.repeat([0, 1, 2], 60)
    shift = {}
    for scale in (0.0, 2.0):
        generated = model.sample(labels, guidance_scale=scale)
        # Projection of the generated class mean's offset on the real one's, per class.
        shift[scale] = [float((generated[labels == c].mean(0) - overall) @ (X[y == c].mean(0) - overall)
                              / np.sum((X[y == c].mean(0) - overall) ** 2)) for c in range(3)]
    assert all(abs(s) < 0.35 for s in shift[0.0]), shift  # unconditional: near the overall mean
    assert all(g > u + 0.1 for g, u in zip(shift[2.0], shift[0.0], strict=False)), shift  # guided: towards each class


def test_latent_diffusion_encoder_ignores_gene_order(fitted, data):
    import torch

    X, _, _, _ = data
    vae = fitted["latent_diffusion"].vae_
    x = torch.as_tensor(X[:4], dtype=torch.float32)
    order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mu, _ = vae.encode(x)
        permuted = type(vae)(x.shape[1], 16, 2, 4, 4)
        permuted.load_state_dict(vae.state_dict())
        permuted.gene_embedding.data = vae.gene_embedding.data[order]
        permuted.gene_bias.data = vae.gene_bias.data[order]
        mu_permuted, _ = permuted.encode(x[:, order])
        np.testing.assert_allclose(mu_permuted.numpy(), mu.numpy(), atol=1e-5)
        # The decoder is equivariant: permuted genes in, permuted genes out.
        np.testing.assert_allclose(permuted.decode(mu).numpy(), vae.decode(mu)[:, order].numpy(), atol=1e-5)
