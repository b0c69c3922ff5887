"""The self-supervised pretrainers, the shared encoder and the fine-tuner."""

import numpy as np
import pytest
import torch
from conftest import separable_problem
from sklearn.base import clone

from exprbench.ssl.encoder import make_encoder
from exprbench.ssl.finetune import FineTuner
from exprbench.ssl.methods import SSL_METHODS

torch.set_num_threads(1)

# Small networks so the whole file runs in seconds on one core.
TINY = {"depth": 2, "width": 16, "max_epochs": 4, "batch_size": 16, "learning_rate": 1e-3, "device": "cpu",
        "verbose": False}
TINY_EXTRA = {
    "byol": {"hidden_dim": 32, "projection_dim": 16},
    "scarf": {"projector_dim": 16},
    "vime": {"decoder_depth": 1},
}
TUNE = {"depth": 2, "width": 16, "learning_rate": 1e-2, "max_epochs": 15, "device": "cpu"}


def tiny(name, **overrides):
    return SSL_METHODS.get(name)(**{**TINY, **TINY_EXTRA.get(name, {}), **overrides})


def toy(n=70, n_features=12, n_classes=3, seed=0):
    return separable_problem(n=n, n_features=n_features, n_classes=n_classes, seed=seed)


@pytest.fixture(params=SSL_METHODS.names())
def method(request):
    return request.param


# --- encoder ----------------------------------------------------------------------

@pytest.mark.parametrize("depth,width", [(2, 256), (4, 256), (10, 1024)])
def test_encoder_blocks(depth, width):
    encoder = make_encoder(30, depth=depth, width=width, dropout=0.1)
    kinds = [type(layer) for layer in encoder]
    assert kinds == [torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU, torch.nn.Dropout] * depth
    assert encoder(torch.zeros(3, 30)).shape == (3, width)


def test_encoder_rejects_a_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        make_encoder(10, depth=0)


# --- every registered method --------------------------------------------------------

def test_registry_holds_the_paper_methods():
    assert {"scarf", "vime", "byol"} <= set(SSL_METHODS.names())


def test_plain_init_and_clone(method):
    model = tiny(method)
    assert not any(key.endswith("_") for key in vars(model)), "no learned state before fit"
    assert clone(model).get_params() == model.get_params()


def test_fit_transform_and_determinism(method):
    X, _ = toy()
    model = tiny(method, random_state=3).fit(X)
    assert model.n_features_in_ == X.shape[1]
    assert [h["epoch"] for h in model.history_] == list(range(4))
    assert all(np.isfinite(h["loss"]) and h["val_loss"] is None for h in model.history_)
    assert model.history_[-1]["kept"] and model.kept_by_ == "last_epoch"
    assert not model.encoder_.training and next(model.encoder_.parameters()).device.type == "cpu"
    odd = X[:37]  # not a multiple of any batch size: every row must come back
    embedding = model.transform(odd)
    assert embedding.shape == (37, 16) and embedding.dtype == np.float32
    again = tiny(method, random_state=3).fit(X).transform(odd)
    np.testing.assert_array_equal(embedding, again)
    other = tiny(method, random_state=4).fit(X).transform(odd)
    assert not np.array_equal(embedding, other)
    np.testing.assert_allclose(clone(model).fit(X).transform(odd), embedding)


def test_the_last_epoch_is_kept_by_default_even_with_validation_samples(method):
    X, _ = toy()
    with_val = tiny(method).fit(X[:50], X_val=X[50:])
    assert with_val.kept_by_ == "last_epoch" and with_val.best_epoch_ == len(with_val.history_) - 1
    assert all(h["val_loss"] is not None for h in with_val.history_)
    # The held-out loss is only watched: the encoder is the one trained without it.
    without_val = tiny(method).fit(X[:50])
    np.testing.assert_array_equal(with_val.transform(X), without_val.transform(X))


def test_keep_best_val_loss_returns_the_best_held_out_epoch(method):
    X, _ = toy()
    # A large learning rate makes the held-out loss go up and down, so the best epoch is not the last.
    settings = {"max_epochs": 8, "learning_rate": {"scarf": 0.05, "vime": 0.01, "byol": 0.01}.get(method, 0.05)}
    model = tiny(method, keep="best_val_loss", **settings).fit(X[:50], X_val=X[50:])
    losses = [h["val_loss"] for h in model.history_]
    assert model.kept_by_ == "best_val_loss" and model.best_epoch_ == int(np.argmin(losses))
    assert model.best_epoch_ < settings["max_epochs"] - 1
    assert [h["kept"] for h in model.history_].count(True) == 1
    # Its encoder is the one a fit stopped after that epoch gives.
    stopped = tiny(method, **{**settings, "max_epochs": model.best_epoch_ + 1}).fit(X[:50])
    np.testing.assert_array_equal(model.transform(X), stopped.transform(X))


def test_keep_rejects_an_unknown_choice():
    with pytest.raises(ValueError, match="keep must be one of last_epoch, best_val_loss"):
        tiny("scarf", keep="best").fit(toy()[0])


def test_pretrained_encoder_initialises_the_fine_tuner(method):
    X, y = toy()
    model = tiny(method).fit(X)
    tuner = FineTuner(**TUNE, mode="frozen").fit(X, y, X[:20], y[:20], encoder_state=model.encoder_.state_dict())
    np.testing.assert_allclose(tuner.embed(X), model.transform(X), rtol=1e-5, atol=1e-6)


def test_defaults_follow_the_specification():
    scarf, vime, byol = (SSL_METHODS.get(name)() for name in ("scarf", "vime", "byol"))
    for model in (scarf, vime, byol):
        assert (model.depth, model.width, model.dropout) == (4, 256, 0.1)
    assert (scarf.corruption_rate, scarf.corruption, scarf.temperature, scarf.projector_dim) == (
        0.3, "empirical_marginal", 1.0, 256)
    assert (vime.mask_rate, vime.alpha, vime.resample_each_epoch) == (0.3, 2.0, True)
    assert (byol.ema_decay, byol.hidden_dim, byol.projection_dim, byol.mask_rate) == (0.99, 4096, 256, 0.3)


def test_reference_options_run():
    X, _ = toy()
    tiny("scarf", corruption="uniform_minmax").fit(X)
    fixed = tiny("vime", resample_each_epoch=False).fit(X)
    fresh = tiny("vime").fit(X)
    assert fixed.history_[-1]["loss"] != fresh.history_[-1]["loss"]
    tiny("byol", corruption="inbatch_shuffle", ema_decay=0.9).fit(X)


@pytest.mark.parametrize("name,key,value", [("scarf", "corruption", "gaussian"), ("byol", "corruption", "uniform"),
                                            ("scarf", "temperature", 0.0), ("vime", "batch_size", 1)])
def test_bad_parameters_are_rejected(name, key, value):
    X, _ = toy()
    with pytest.raises(ValueError, match=key):
        tiny(name, **{key: value}).fit(X)


def test_bad_input_is_rejected():
    X, _ = toy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tiny("scarf").fit(X)


# --- fine-tuner ------------------------------------------------------------------------

def test_fine_tuner_clone_and_plain_init():
    tuner = FineTuner(**TUNE)
    assert not any(key.endswith("_") for key in vars(tuner))
    assert clone(tuner).get_params() == tuner.get_params()


@pytest.mark.parametrize("mode", ["frozen", "unfrozen"])
def test_baseline_learns_a_separable_problem(mode):
    X, y = toy(n=90)
    X_test, y_test = toy(n=45, seed=1)
    # A random frozen encoder needs more units to keep the classes apart.
    width = 64 if mode == "frozen" else 16
    tuner = FineTuner(**{**TUNE, "width": width}, mode=mode).fit(X, y, X_test[:15], y_test[:15])
    assert (tuner.predict(X_test) == y_test).mean() >= 0.9
    assert {"model_", "classes_", "n_epochs_", "best_epoch_", "history_"} <= set(vars(tuner))


def test_frozen_mode_leaves_the_encoder_untouched():
    X, y = toy()
    state = make_encoder(X.shape[1], 2, 16).state_dict()
    tuner = FineTuner(**TUNE, mode="frozen").fit(X, y, X[:10], y[:10], encoder_state=state)
    for key, value in tuner.model_.encoder.state_dict().items():  # weights and BatchNorm statistics
        assert torch.equal(value, state[key]), key
    assert not any(p.requires_grad for p in tuner.model_.encoder.parameters())
    unfrozen = FineTuner(**TUNE, mode="unfrozen").fit(X, y, X[:10], y[:10], encoder_state=state)
    assert not torch.equal(unfrozen.model_.encoder.state_dict()["0.weight"], state["0.weight"])


def test_no_sample_is_dropped_and_softmax_is_over_classes():
    X, y = toy(n=41)  # 41 = 5 batches of 8 + one sample: the lone training sample is skipped, not evaluation
    tuner = FineTuner(**TUNE).fit(X, y, X[:13], y[:13])
    assert len(tuner.predict(X[:13])) == 13 and tuner.embed(X[:13]).shape == (13, 16)
    proba = tuner.predict_proba(X)
    logits = tuner.decision_function(X)
    np.testing.assert_allclose(proba, torch.softmax(torch.as_tensor(logits), dim=1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert not np.allclose(logits.sum(axis=1), 1.0), "the network must return logits, not probabilities"
    assert not any(isinstance(m, torch.nn.Softmax) for m in tuner.model_.modules())
    # A prediction depends on its own sample only, not on the rest of the batch.
    np.testing.assert_allclose(tuner.predict_proba(X[5:6]), proba[5:6], rtol=1e-5)


def test_class_list_is_kept_when_a_class_is_absent():
    X, y = toy(n=60)
    names = np.array(["a", "b", "c"])
    keep = y != 0
    tuner = FineTuner(**TUNE).fit(X[keep], names[y[keep]], X[:9], names[y[:9]], classes=names)
    assert tuner.predict_proba(X).shape == (60, 3)
    assert (tuner.predict(X[keep]) == names[y[keep]]).mean() >= 0.9
    by_index = FineTuner(**TUNE).fit(X[keep], y[keep], X[:9], y[:9], classes=names)  # integer codes into classes
    np.testing.assert_array_equal(by_index.predict_proba(X), tuner.predict_proba(X))


def test_early_stopping_restores_the_best_epoch():
    X, y = toy(n=60)
    X_val, y_val = toy(n=20, seed=2)
    tuner = FineTuner(**{**TUNE, "max_epochs": 40, "learning_rate": 3e-2}, patience=3, min_delta=0.0)
    tuner.fit(X, y, X_val, y_val)
    losses = [h["val_loss"] for h in tuner.history_]
    assert tuner.best_epoch_ == int(np.argmin(losses))
    assert tuner.n_epochs_ == 40 or tuner.n_epochs_ - 1 - tuner.best_epoch_ == 3
    logits = torch.as_tensor(tuner.decision_function(X_val))
    restored = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y_val)))
    assert restored == pytest.approx(min(losses), rel=1e-5)


def test_fits_that_run_out_of_epochs_are_flagged():
    X, y = toy(n=60)
    X_val, y_val = toy(n=20, seed=2)
    stopped = FineTuner(**{**TUNE, "max_epochs": 200, "learning_rate": 3e-2}, patience=3).fit(X, y, X_val, y_val)
    assert stopped.n_epochs_ < 200 and not stopped.hit_epoch_cap_
    capped = FineTuner(**{**TUNE, "max_epochs": 3}, patience=30).fit(X, y, X_val, y_val)
    assert capped.n_epochs_ == 3 and capped.hit_epoch_cap_
    assert FineTuner(**{**TUNE, "max_epochs": 3}).fit(X, y).hit_epoch_cap_  # no early stopping without validation


def test_fine_tuner_is_deterministic():
    X, y = toy()
    first = FineTuner(**TUNE, random_state=1).fit(X, y, X[:10], y[:10]).predict_proba(X)
    second = FineTuner(**TUNE, random_state=1).fit(X, y, X[:10], y[:10]).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_mismatched_encoder_is_rejected():
    X, y = toy()
    state = make_encoder(X.shape[1], depth=3, width=16).state_dict()
    with pytest.raises(ValueError, match="depth=3"):
        FineTuner(**TUNE).fit(X, y, X[:10], y[:10], encoder_state=state)


def test_unknown_label_is_rejected():
    X, y = toy()
    with pytest.raises(ValueError, match="not among classes"):
        FineTuner(**TUNE).fit(X, y, X[:10], y[:10], classes=np.array([0, 1]))
