"""Inference models: every registered regressor on a planted low-rank map, plus the
pieces of D-GEX and Deep-LSMTL that the paper's methods hinge on."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import Ridge

from exprbench.inference.batches import ArrayBatches
from exprbench.inference.models import INFERENCE_MODELS
from exprbench.inference.models import deep_lsmtl as lsmtl_module
from exprbench.inference.models.deep_lsmtl import RelationNetwork, mask_tasks, relation_loss, task_mask

torch.set_num_threads(1)

# Small settings per registered model; a new model adds its entry here.
TOY_PARAMS = {
    "lsr": {"penalty": "l2", "alpha": 1.0},
    "knn": {"n_neighbors": 5},
    "dgex": {"n_hidden_layers": 1, "hidden_size": 64, "dropout": 0.0, "learning_rate": 0.01, "max_epochs": 25,
             "batch_size": 20, "device": "cpu"},
    "dense": {"hidden_sizes": [64, 64], "dropout": 0.0, "learning_rate": 3e-3, "max_epochs": 25, "batch_size": 20,
              "reg_loss": "l2", "device": "cpu"},
    "deep_lsmtl": {"hidden_sizes": [64, 64], "dropout": 0.0, "learning_rate": 3e-3, "max_epochs": 25,
                   "batch_size": 20, "latent_dim": 4, "reg_loss": "l2", "device": "cpu"},
}
for _name, _own in {"deep_go_mtl": {"n_latent_tasks": 4}, "deep_cnmtl": {"n_clusters": 3},
                    "deep_amtl": {}, "deep_amtfl": {}}.items():
    TOY_PARAMS[_name] = {**TOY_PARAMS["dense"], **_own}


def planted_low_rank(n=260, p=12, q=24, rank=3, noise=0.1, seed=0):
    """Y = X A B + noise with A B of rank 3: targets co-vary, as genes do."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(np.float32)
    W = rng.standard_normal((p, rank)) @ rng.standard_normal((rank, q)) / np.sqrt(p)
    Y = (X @ W + noise * rng.standard_normal((n, q))).astype(np.float32)
    return X[:200], Y[:200], X[200:230], Y[200:230], X[230:], Y[230:]


@pytest.fixture(scope="module")
def toy():
    return planted_low_rank()


@pytest.mark.parametrize("name", INFERENCE_MODELS.names())
def test_model_recovers_planted_low_rank_map_deterministically(name, toy):
    X, Y, Xv, Yv, Xt, Yt = toy
    model = INFERENCE_MODELS.get(name)(**TOY_PARAMS[name], random_state=0)
    assert model.fit(X, Y, validation=(Xv, Yv)) is model
    prediction = model.predict(Xt)
    assert prediction.shape == Yt.shape
    mean_mae = np.abs(Yt - Y.mean(axis=0)).mean()
    assert np.abs(Yt - prediction).mean() < 0.6 * mean_mae
    again = INFERENCE_MODELS.get(name)(**TOY_PARAMS[name], random_state=0).fit(X, Y, validation=(Xv, Yv))
    np.testing.assert_array_equal(again.predict(Xt), prediction)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "n_features_in_")


@pytest.mark.parametrize("name", INFERENCE_MODELS.names())
def test_model_trains_from_a_batch_source(name, toy):
    X, Y, *_ = toy
    model = INFERENCE_MODELS.get(name)(**{**TOY_PARAMS[name], "max_epochs": 1} if "max_epochs" in TOY_PARAMS[name]
                                       else TOY_PARAMS[name])
    model.fit(ArrayBatches(X, Y, batch_size=50))
    assert model.predict(X[:3]).shape == (3, Y.shape[1])


def test_least_squares_l2_matches_ridge_and_plain_matches_lstsq(toy):
    X, Y, *_ = toy
    ours = INFERENCE_MODELS.get("lsr")(penalty="l2", alpha=3.0).fit(X, Y)
    ridge = Ridge(alpha=3.0).fit(X.astype(np.float64), Y.astype(np.float64))
    np.testing.assert_allclose(ours.coef_, ridge.coef_, atol=1e-4)
    plain = INFERENCE_MODELS.get("lsr")(penalty="none").fit(X, Y)
    design = np.hstack([X, np.ones((len(X), 1))]).astype(np.float64)
    np.testing.assert_allclose(plain.coef_, np.linalg.lstsq(design, Y, rcond=None)[0][:-1].T, atol=1e-4)
    with pytest.raises(ValueError, match="penalty"):
        INFERENCE_MODELS.get("lsr")(penalty="l3").fit(X, Y)


# ------------------------------------------------------------------------------ D-GEX


def test_dgex_scales_later_weights_and_decays_when_training_mae_rises(toy):
    X, Y, *_ = toy
    model = INFERENCE_MODELS.get("dgex")(n_hidden_layers=2, hidden_size=8, max_epochs=1, batch_size=50, device="cpu",
                                         output_heads=1).fit(X, Y)
    assert model.learning_rates_[0] in (3e-4, 3e-4 * 0.9)  # two hidden layers: D-GEX's 3e-4
    first, later = model.optimizers_[0].param_groups
    assert later["lr"] == pytest.approx(3 * first["lr"])
    network = model.network_.networks[0]
    later_ids = {id(p) for p in later["params"]}
    assert id(network.hidden[1].weight) in later_ids and id(network.hidden[1].bias) not in later_ids
    assert id(network.hidden[0].weight) not in later_ids
    lr = model.learning_rates_[0]
    model._monitor_maes = [0.0]  # the next monitor MAE is higher: decay
    model._end_epoch(1, ArrayBatches(X, Y))
    assert model.learning_rates_[0] == pytest.approx(lr * 0.9)
    model._monitor_maes, model.learning_rates_ = [0.0], [1.05e-5]
    model._end_epoch(2, ArrayBatches(X, Y))
    assert model.learning_rates_[0] == pytest.approx(1e-5)  # floored


def test_dgex_default_is_two_half_networks_each_decaying_on_its_own_training_mae(toy):
    X, Y, *_ = toy
    model = INFERENCE_MODELS.get("dgex")(n_hidden_layers=1, hidden_size=8, max_epochs=1, batch_size=50,
                                         device="cpu").fit(X, Y)
    halves = model.network_.networks
    assert len(halves) == 2 and [h.output.out_features for h in halves] == [12, 12]
    assert model.predict(X[:2]).shape == (2, Y.shape[1])
    # Two optimisers, each holding exactly one half's parameters.
    for optimizer, half in zip(model.optimizers_, halves, strict=False):
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        assert held == {id(p) for p in half.parameters()}
    lr = list(model.learning_rates_)
    # Half 0's training MAE rises (previous 0), half 1's falls (previous inf): only half 0 decays.
    model._monitor_maes = [0.0, np.inf]
    record = model._end_epoch(1, ArrayBatches(X, Y))
    assert model.learning_rates_ == pytest.approx([lr[0] * 0.9, lr[1]])
    assert record["lr_head0"] == pytest.approx(lr[0] * 0.9) and record["lr_head1"] == pytest.approx(lr[1])
    assert [g["lr"] for g in model.optimizers_[0].param_groups] == pytest.approx([lr[0] * 0.9, lr[0] * 2.7])
    assert [g["lr"] for g in model.optimizers_[1].param_groups] == pytest.approx([lr[1], lr[1] * 3])


def test_dgex_halves_are_independent_and_keep_their_own_best_epoch(toy):
    X, Y, Xv, Yv, Xt, _ = toy
    params = {"n_hidden_layers": 1, "hidden_size": 32, "dropout": 0.0, "learning_rate": 0.01, "max_epochs": 12,
              "batch_size": 20, "device": "cpu"}
    model = INFERENCE_MODELS.get("dgex")(**params).fit(X, Y, validation=(Xv, Yv))
    # Second half's targets replaced by noise: it learns nothing, decays and selects differently,
    # and the first half must not notice.
    rng = np.random.default_rng(1)
    noisy, noisy_val = Y.copy(), Yv.copy()
    noisy[:, 12:] = 5 * rng.standard_normal((len(Y), 12))
    noisy_val[:, 12:] = 5 * rng.standard_normal((len(Yv), 12))
    other = INFERENCE_MODELS.get("dgex")(**params).fit(X, noisy, validation=(Xv, noisy_val))
    np.testing.assert_array_equal(other.predict(Xt)[:, :12], model.predict(Xt)[:, :12])
    assert other.best_epochs_[0] == model.best_epochs_[0] and other.best_epochs_[1] != other.best_epochs_[0]
    assert [r["lr_head0"] for r in other.history_] == [r["lr_head0"] for r in model.history_]


def test_dgex_without_input_dropout_and_with_tiny_output_init():
    model = INFERENCE_MODELS.get("dgex")(n_hidden_layers=1, hidden_size=8, dropout=0.5)
    network = model._build(5, 4).networks[0]
    assert network.output.weight.abs().max() <= 1e-4 and network.output.bias.abs().max() == 0
    network.train()
    x = torch.ones(3, 5)
    seen = []
    network.hidden[0].register_forward_hook(lambda layer, inputs, output: seen.append(inputs[0]))
    network(x)
    # Input dropout would zero (and rescale) some inputs; instead the first layer sees them all.
    torch.testing.assert_close(seen[0], x)
    with pytest.raises(ValueError, match="n_hidden_layers"):
        INFERENCE_MODELS.get("dgex")(n_hidden_layers=4)._build(5, 4)


# ------------------------------------------------------------------------- Deep-LSMTL


def test_relation_loss_is_zero_when_outputs_match_the_reconstruction_on_masked_entries():
    torch.manual_seed(0)
    outputs = torch.randn(6, 10)
    mask = task_mask(outputs.shape, 0.5, "cpu")
    reconstruction = torch.where(mask, outputs, outputs + 5.0)  # wrong only where nothing was masked
    for kind in ("l1", "l2"):
        assert float(relation_loss(reconstruction, outputs, mask, kind)) == 0.0
        assert float(relation_loss(outputs + 1.0, outputs, mask, kind)) == pytest.approx(1.0)
    assert float(relation_loss(outputs + 1.0, outputs, torch.zeros_like(mask), "l1")) == 0.0


def test_masking_never_reveals_the_masked_entries():
    torch.manual_seed(0)
    values = torch.randn(8, 20)
    mask = task_mask(values.shape, 0.3, "cpu")
    assert bool(mask.any()) and not bool(mask.all())
    hidden = mask_tasks(values, mask)
    assert bool((hidden[mask] == 0).all()) and torch.equal(hidden[~mask], values[~mask])
    relation = RelationNetwork(20, 4).eval()
    changed = torch.where(mask, values * 100 + 7, values)
    torch.testing.assert_close(relation(mask_tasks(values, mask)), relation(mask_tasks(changed, mask)))


@pytest.mark.parametrize("target", lsmtl_module.RELATION_TARGETS)
def test_relation_network_sees_only_unmasked_entries_during_training(toy, monkeypatch, target):
    X, Y, *_ = toy
    masks, inputs = [], []
    real_mask = lsmtl_module.task_mask

    def recording_mask(shape, ratio, device):
        masks.append(real_mask(shape, ratio, device))
        return masks[-1]

    monkeypatch.setattr(lsmtl_module, "task_mask", recording_mask)
    model = INFERENCE_MODELS.get("deep_lsmtl")(hidden_sizes=[16], latent_dim=3, max_epochs=1, batch_size=100,
                                               relation_target=target, device="cpu")
    original_forward = RelationNetwork.forward

    def recording_forward(self, masked):
        inputs.append(masked.detach().clone())
        return original_forward(self, masked)

    monkeypatch.setattr(RelationNetwork, "forward", recording_forward)
    model.fit(X, Y)
    per_step = 2 if target == "both" else 1
    assert len(inputs) == per_step * len(masks) == per_step * 2
    for i, seen in enumerate(inputs):
        assert bool((seen[masks[i // per_step]] == 0).all())


@pytest.mark.parametrize("schedule", ["alternate", "pretrain_relation"])
def test_deep_lsmtl_schedules_train(toy, schedule):
    X, Y, Xv, Yv, *_ = toy
    model = INFERENCE_MODELS.get("deep_lsmtl")(hidden_sizes=[16], latent_dim=3, max_epochs=2, batch_size=50,
                                               schedule=schedule, relation_pretrain_epochs=1, device="cpu")
    model.fit(X, Y, validation=(Xv, Yv))
    assert np.isfinite(model.history_[-1]["val_mae"]) and len(model.history_) == 2
    with pytest.raises(ValueError, match="schedule"):
        INFERENCE_MODELS.get("deep_lsmtl")(schedule="later", max_epochs=1).fit(X, Y)


def planted_tanh_low_rank(n=300, p=30, q=300, rank=5, noise=0.6, seed=0):
    """Y = tanh(X A) B + noise, B of rank 5: 300 targets driven by 5 shared factors,
    the setting a task-relation regulariser is meant for."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    factors = np.tanh(1.5 * X @ rng.standard_normal((p, rank)) / np.sqrt(p))
    Y = factors @ rng.standard_normal((rank, q)) / np.sqrt(rank) + noise * rng.standard_normal((n, q))
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    return X[:180], Y[:180], X[180:240], Y[180:240], X[240:], Y[240:]


def _concordance(truth, prediction):
    cov = ((truth - truth.mean(0)) * (prediction - prediction.mean(0))).mean(0)
    return float(np.mean(2 * cov / (truth.var(0) + prediction.var(0) + (truth.mean(0) - prediction.mean(0)) ** 2)))


def test_deep_lsmtl_is_at_least_as_good_as_its_dense_base_network_and_does_not_collapse():
    X, Y, Xv, Yv, Xt, Yt = planted_tanh_low_rank()
    shared = {"hidden_sizes": [64, 64], "dropout": 0.1, "learning_rate": 3e-3, "max_epochs": 30, "batch_size": 32,
              "device": "cpu", "random_state": 0}

    def scores(name, **params):
        prediction = INFERENCE_MODELS.get(name)(**shared, **params).fit(X, Y, validation=(Xv, Yv)).predict(Xt)
        return np.abs(prediction - Yt).mean(), _concordance(Yt, prediction), prediction.std(axis=0).mean()

    dense_mae, dense_ccc, dense_std = scores("dense")
    for weight in (0.1, 1.0):  # the default weight, and one where the `pred` target collapses
        mae, ccc, std = scores("deep_lsmtl", latent_dim=8, relation_weight=weight)
        assert mae <= dense_mae + 0.005 and ccc >= dense_ccc - 0.005, (weight, mae, ccc, dense_mae, dense_ccc)
        assert std >= 0.8 * dense_std
    # The `pred` target (kept as an option) collapses at weight 1.0: this check would see it.
    _, collapsed_ccc, collapsed_std = scores("deep_lsmtl", latent_dim=8, relation_weight=1.0, relation_target="pred")
    assert collapsed_ccc < 0.5 * dense_ccc and collapsed_std < 0.2 * dense_std


# ------------------------------------------------------------------ multitask comparators


def test_comparators_parameterise_their_task_relations(toy):
    X, Y, *_ = toy
    small = {"hidden_sizes": [8], "max_epochs": 1, "batch_size": 100, "device": "cpu"}
    go = INFERENCE_MODELS.get("deep_go_mtl")(n_latent_tasks=2, **small).fit(X, Y)
    assert torch.linalg.matrix_rank(go.task_weights().detach()) <= 2  # W = S L with 2 latent tasks
    amtl = INFERENCE_MODELS.get("deep_amtl")(**small).fit(X, Y)
    B = amtl.network_.extra.matrix().detach()
    assert B.shape == (Y.shape[1], Y.shape[1]) and bool((B.diagonal() == 0).all()) and bool((B >= 0).all())
    amtfl = INFERENCE_MODELS.get("deep_amtfl")(**small).fit(X, Y)
    assert amtfl.network_.extra.matrix().shape == (Y.shape[1], 8)
    cn = INFERENCE_MODELS.get("deep_cnmtl")(n_clusters=3, **small).fit(X, Y)
    assert cn.network_.extra.centres.shape == (3, 8)
    # Only the base network predicts: the comparators' extra parameters are training devices.
    assert all(m.predictor() is m.network_.base for m in (go, amtl, amtfl, cn))
