"""The shared training engine: batches, steps, early stopping, best-or-last epoch,
clipping, hooks and determinism."""

import numpy as np
import pytest
import torch

from exprbench.inference.batches import ArrayBatches
from exprbench.training import (
    Engine,
    Monitor,
    StreamedBatches,
    TensorBatches,
    autocast_dtype,
    clip_gradients,
    seed_training,
)

torch.set_num_threads(1)
CPU = torch.device("cpu")


def problem(n=50, features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.standard_normal((n, features)), dtype=torch.float32)
    y = X @ torch.arange(1.0, features + 1) + 0.1
    return X, y[:, None]


def network(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def mse(net):
    return lambda batch: torch.mean((net(batch[0]) - batch[1]) ** 2)


def scripted(values, key="val_loss"):
    """An evaluate hook reporting ``values`` one epoch after the other."""
    return lambda epoch: {key: values[epoch]}


def parameters(net):
    return [p.detach().clone() for p in net.parameters()]


def fit(net, max_epochs=5, seed=0, batch_size=8, **kwargs):
    X, y = problem()
    engine_args = {k: kwargs.pop(k) for k in ("patience", "restore_best", "clip_grad_norm", "on_epoch", "tracker",
                                              "mixed_precision") if k in kwargs}
    engine = Engine(CPU, max_epochs=max_epochs, **engine_args)
    batches = TensorBatches(X, y, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    return engine.fit(net, batches, mse(net), optimizer, **kwargs)


def test_early_stopping_waits_patience_epochs_after_the_best():
    result = fit(network(), max_epochs=10, patience=3, evaluate=scripted([3, 2, 2.5, 2.6, 2.7, 1.0, 0, 0, 0, 0]),
                 monitors=[Monitor("val_loss", network())])
    assert result.stopped_early and result.n_epochs == 5 and result.monitors[0].best_epoch == 1
    # An improvement resets the count; min_delta asks for more than a tie.
    net = network()
    result = fit(net, max_epochs=6, patience=2, evaluate=scripted([3, 2, 2.5, 1.0, 1.5, 1.4]),
                 monitors=[Monitor("val_loss", net, min_delta=0.2)])
    assert result.stopped_early and result.n_epochs == 6 and result.monitors[0].best_epoch == 3
    # Without validation values nothing is compared and every epoch runs.
    result = fit(network(), max_epochs=4, patience=1, evaluate=lambda epoch: {"val_loss": None},
                 monitors=[Monitor("val_loss", network())])
    assert not result.stopped_early and result.n_epochs == 4 and result.monitors[0].best_epoch is None


@pytest.mark.parametrize("restore_best", [True, False])
def test_best_or_last_epoch(restore_best):
    net, seen = network(), []
    monitor = Monitor("val_acc", net, mode="max")
    fit(net, max_epochs=5, restore_best=restore_best, evaluate=scripted([0.1, 0.5, 0.9, 0.2, 0.3], "val_acc"),
        monitors=[monitor], on_epoch=lambda record: seen.append(parameters(net)))
    assert monitor.best_epoch == 2
    kept = seen[2] if restore_best else seen[-1]
    assert all(torch.equal(a, b) for a, b in zip(parameters(net), kept, strict=True))


def test_clipping_bounds_the_gradient_norm():
    net = network()
    X, y = problem()
    before = parameters(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    engine = Engine(CPU, max_epochs=1, clip_grad_norm=0.5)
    engine.step(optimizer, lambda: torch.mean((net(X) - 100 * y) ** 2))
    change = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(parameters(net), before, strict=True)))
    assert change == pytest.approx(0.5, rel=1e-4)
    # A gradient under the limit is left exactly as it is.
    grads = [torch.full((3,), 0.1)]
    params = [torch.zeros(3, requires_grad=True)]
    params[0].grad = grads[0].clone()
    clip_gradients(params, 10.0)
    assert torch.equal(params[0].grad, grads[0])


def test_callback_tracker_and_progress_see_every_epoch():
    class Tracker:
        def __init__(self):
            self.calls = []

        def log_epoch(self, epoch, **metrics):
            self.calls.append((epoch, metrics))

    records, tracker = [], Tracker()
    result = fit(network(), max_epochs=3, on_epoch=records.append, tracker=tracker,
                 evaluate=lambda epoch: {"val_loss": float(epoch), "note": None})
    assert [r["epoch"] for r in records] == [0, 1, 2] and records == result.history
    assert [epoch for epoch, _ in tracker.calls] == [0, 1, 2]
    assert set(tracker.calls[0][1]) == {"train_loss", "val_loss"}
    assert all(np.isfinite(r["train_loss"]) for r in records)


def test_same_seed_same_parameters_and_the_same_as_a_plain_loop():
    seed_training(3)
    first = network(1)
    fit(first, seed=4)
    seed_training(3)
    again = network(1)
    fit(again, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(parameters(first), parameters(again), strict=True))
    # The loop the engine replaces: one draw per epoch, zero, backward, step.
    plain = network(1)
    X, y = problem()
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(4)
    for _ in range(5):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 8):
            rows = order[start:start + 8]
            if len(rows) < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = torch.mean((plain(X[rows]) - y[rows]) ** 2)
            loss.backward()
            optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(parameters(first), parameters(plain), strict=True))


def test_batches_skip_single_rows_and_whole_batches_draw_nothing():
    X, y = problem(n=17)
    generator = torch.Generator().manual_seed(0)
    sizes = [len(b[0]) for b in TensorBatches(X, y, batch_size=8, generator=generator).epoch(0)]
    assert sizes == [8, 8]  # the 17th row alone would break BatchNorm
    sizes = [len(b[0]) for b in TensorBatches(X, y, batch_size=8, generator=generator, min_rows=1).epoch(0)]
    assert sizes == [8, 8, 1]
    state = generator.get_state()
    whole = list(TensorBatches(X, y, batch_size=None, generator=generator, shuffle_whole=False).epoch(0))
    assert len(whole) == 1 and whole[0][0] is X and torch.equal(generator.get_state(), state)
    x, rows = next(iter(TensorBatches(X, batch_size=5, generator=generator, with_rows=True).epoch(0)))
    assert torch.equal(x, X[rows])
    streamed = list(StreamedBatches(ArrayBatches(X.numpy(), y.numpy(), batch_size=8), CPU).epoch(0))
    assert [len(b[0]) for b in streamed] == [8, 8] and isinstance(streamed[0][1], torch.Tensor)


def test_hooks_and_several_steps_per_batch():
    net, steps, starts = network(), [], []
    X, y = problem()
    engine = Engine(CPU, max_epochs=2)
    first, second = (torch.optim.SGD(layer.parameters(), lr=0.01) for layer in (net[0], net[2]))

    def two_steps(batch, epoch):
        engine.step(first, lambda: mse(net)(batch), zero=net, after_step=lambda: steps.append("first"))
        return engine.step(second, lambda: mse(net)(batch), zero=net, after_step=lambda: steps.append("second"))

    batches = TensorBatches(X, y, batch_size=25, generator=torch.Generator().manual_seed(0))
    result = engine.fit(net, batches, train_batch=two_steps, start_epoch=starts.append)
    assert starts == [0, 1] and steps == ["first", "second"] * 4 and result.n_epochs == 2


def test_mixed_precision_choice_and_a_bfloat16_fit_on_the_cpu():
    assert autocast_dtype(CPU, False) is None and autocast_dtype(CPU, "auto") is None
    assert autocast_dtype(CPU, True) == torch.bfloat16
    assert autocast_dtype(torch.device("cuda"), "auto") == torch.float16
    result = fit(network(), max_epochs=2, mixed_precision=True)
    assert all(np.isfinite(r["train_loss"]) for r in result.history)
    with pytest.raises(ValueError, match="train_batch"):
        Engine(CPU, max_epochs=1).fit(network(), TensorBatches(*problem(), batch_size=8, generator=None))
