"""The progress bar: drawn with an ETA for a person at a terminal, never into logs or CI,
and not for short loops; the SSL and inference training loops report to it."""

import io

import numpy as np
import pytest

from exprbench import progress
from exprbench.progress import NoProgress, ProgressBar, progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_long_loop_draws_one_line_with_an_eta_and_ends_it(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    screen, clock = Terminal(), Clock()
    bar = ProgressBar(4, "scarf pretraining", screen, min_seconds=30, timer=clock)
    for epoch in range(4):
        clock.now += 10.0  # 40 s in all: above the threshold
        bar.update(epoch + 1, loss=1.0 / (epoch + 1))
    text = screen.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1, "one line, redrawn in place"
    first = text.split("\r")[1]
    assert first.startswith("scarf pretraining [######..................] 1/4 epochs 0:10 elapsed, ETA 0:30 loss 1")
    assert "4/4 epochs 0:40 elapsed, ETA 0:00 loss 0.25" in text.split("\r")[-1]


def test_a_short_loop_draws_nothing(monkeypatch):
    screen, clock = Terminal(), Clock()
    bar = ProgressBar(5, "dgex training", screen, min_seconds=30, timer=clock)
    for epoch in range(5):
        clock.now += 1.0
        bar.update(epoch + 1)
    assert screen.getvalue() == ""


@pytest.mark.parametrize("environment", [{}, {"CI": "true"}, {"TERM": "dumb"}])
def test_no_bar_in_logs_pipes_or_ci(monkeypatch, environment):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    stream = Terminal() if environment else io.StringIO()  # a log file is not a terminal
    assert isinstance(progress_bar(100, "x", stream), NoProgress)


def test_a_terminal_outside_ci_gets_a_bar(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(progress_bar(100, "x", Terminal()), ProgressBar)


def test_training_loops_report_every_epoch_to_the_bar(monkeypatch):
    import torch

    from exprbench.inference.models.dgex import Dgex
    from exprbench.ssl.methods.scarf import Scarf

    torch.set_num_threads(1)
    seen = []

    class Recorder(NoProgress):
        def __init__(self, total, label):
            self.label = label

        def update(self, done, **values):
            seen.append((self.label, done, sorted(values)))

    monkeypatch.setattr("exprbench.training.progress_bar", Recorder)  # every loop trains on the engine
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 6)).astype(np.float32)
    Dgex(n_hidden_layers=1, hidden_size=4, max_epochs=2, batch_size=16, device="cpu").fit(X, X[:, :2])
    Scarf(depth=2, width=8, max_epochs=3, batch_size=16, device="cpu").fit(X)
    assert seen == [("Dgex training", 1, ["train_loss"]), ("Dgex training", 2, ["train_loss"]),
                    ("scarf pretraining", 1, ["loss"]), ("scarf pretraining", 2, ["loss"]),
                    ("scarf pretraining", 3, ["loss"])]
    assert progress.MIN_SECONDS == 30.0
