"""The estimator contract, run over every registered model."""

import numpy as np
import pytest
from conftest import separable_problem
from sklearn.base import clone

from exprbench.classification.models import MODELS
from exprbench.metrics import balanced_accuracy

FAST = {"max_epochs": 30, "learning_rate": 1e-2, "device": "cpu"}


@pytest.fixture(params=MODELS.names())
def model_class(request):
    return MODELS.get(request.param)


def test_registry_holds_the_paper_models():
    assert {"logistic_regression", "linear_svm", "mlp3", "mlp5"} <= set(MODELS.names())


def test_plain_init_and_clone(model_class):
    model = model_class(**FAST)
    assert not any(name.endswith("_") for name in vars(model)), "no learned state before fit"
    assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_learns_a_separable_problem(model_class, n_classes):
    X, y = separable_problem(n_classes=n_classes)
    model = model_class(**FAST).fit(X, y)
    assert isinstance(model, model_class)
    assert {"classes_", "network_", "n_epochs_", "best_epoch_", "history_"} <= set(vars(model))
    X_test, y_test = separable_problem(n_classes=n_classes, seed=1)
    assert balanced_accuracy(y_test, model.predict(X_test)) >= 0.9


def test_fixed_class_list_keeps_encoding_when_a_class_is_absent(model_class):
    X, y = separable_problem(n_classes=3)
    keep = y != 0  # class 0 absent from training
    model = model_class(**FAST).fit(X[keep], y[keep], classes=np.array([0, 1, 2]))
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.decision_function(X).shape == (len(X), 3)
    predicted = model.predict(X[keep])
    assert balanced_accuracy(y[keep], predicted) >= 0.9, "codes 1 and 2 must keep their meaning"


def test_unknown_label_is_rejected(model_class):
    X, y = separable_problem()
    with pytest.raises(ValueError, match="not among classes"):
        model_class(**FAST).fit(X, y, classes=np.array([0]))


def test_same_seed_same_model(model_class):
    X, y = separable_problem(n=60)
    first = model_class(**FAST, random_state=3).fit(X, y).decision_function(X)
    second = model_class(**FAST, random_state=3).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(first, second)


def test_patience_counter_resets_on_improvement():
    """Stops only after ``patience`` epochs in a row without a better holdout loss."""
    model_class = MODELS.get("logistic_regression")
    X, y = separable_problem(n=80)
    model = model_class(max_epochs=50, patience=3, learning_rate=1e-3, device="cpu").fit(X, y)
    losses = [h["val_loss"] for h in model.history_]
    best, since = np.inf, 0
    for loss in losses[:-1]:
        since = 0 if loss < best else since + 1
        best = min(best, loss)
        assert since < 3, "training went on past the patience limit"
    assert model.n_epochs_ == 50 or since + (losses[-1] >= best) == 3


def test_tracker_receives_each_epoch():
    class Recorder:
        def __init__(self):
            self.epochs = []

        def log_epoch(self, epoch, **metrics):
            self.epochs.append((epoch, sorted(metrics)))

    recorder = Recorder()
    X, y = separable_problem(n=40)
    model = MODELS.get("mlp3")(max_epochs=4, patience=10, device="cpu").fit(X, y, tracker=recorder)
    assert recorder.epochs == [(e, ["train_loss", "val_loss"]) for e in range(model.n_epochs_)]


def test_accepts_device_tensors_and_matches_numpy_input(model_class):
    import torch

    X, y = separable_problem(n=60)
    from_numpy = model_class(**FAST, random_state=1).fit(X, y).decision_function(X)
    tensor = torch.as_tensor(X)
    from_tensor = model_class(**FAST, random_state=1).fit(tensor, y).decision_function(tensor)
    np.testing.assert_array_equal(from_numpy, from_tensor)


def test_mixed_precision_is_off_by_default_and_trains_when_on():
    model_class = MODELS.get("mlp3")
    assert model_class().mixed_precision is False
    X, y = separable_problem()
    model = model_class(**FAST, mixed_precision=True).fit(X, y)
    assert balanced_accuracy(y, model.predict(X)) >= 0.9


def test_zero_epochs_is_a_clear_error():
    X, y = separable_problem(n=20)
    with pytest.raises(ValueError, match="max_epochs must be at least 1"):
        MODELS.get("mlp3")(max_epochs=0).fit(X, y)


def test_correction_runs_on_the_fit_part_and_the_holdout_each_on_its_own():
    """Signal removal inside training: the trainer corrects the two parts it cuts,
    never the whole set first (that would give the parts opposite class gaps)."""
    X, y = separable_problem(n=50)
    parts = []

    def centre_classes(X_part, y_part):
        parts.append((X_part.numpy().copy(), np.asarray(y_part)))
        centred = X_part.clone()
        for label in np.unique(y_part):
            rows = np.flatnonzero(y_part == label)
            centred[rows] -= centred[rows].mean(0)
        return centred

    model = MODELS.get("logistic_regression")(max_epochs=2, device="cpu", early_stopping_fraction=0.2)
    model.fit(X, y, groups=np.arange(50), correct=centre_classes)
    assert [len(part_y) for _, part_y in parts] == [40, 10]
    rows = [np.flatnonzero((X[:, None, :] == part_X[None]).all(axis=2).any(axis=1)) for part_X, _ in parts]
    assert sorted(np.concatenate(rows).tolist()) == list(range(50)), "the two parts split the training set"
    for (_, part_y), part_rows in zip(parts, rows, strict=False):
        np.testing.assert_array_equal(part_y, y[part_rows])
