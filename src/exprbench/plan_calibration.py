"""Measured costs behind ``exprbench plan``: seconds per sample-epoch of each
model shape, and the start-up of one job process.

Measurements are cached in ``$XDG_CACHE_HOME/exprbench/calibration.json``
(``~/.cache`` by default), keyed by torch version, CPU model and device, so a
machine pays for each shape once.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .atomic import write_text
from .family import family

# Rows of the synthetic calibration set; epochs are timed as the difference of a
# short and a longer fit, so network set-up and the holdout split cancel out.
CALIBRATION_SAMPLES = 256
# Epochs grow until the timed difference is long enough to measure.
SHORT_EPOCHS, MAX_EPOCHS, MIN_TIMED_SECONDS = 1, 64, 0.2

# What a fit job process does before its first real fit: imports, and the first
# torch ops (a fit of a few samples); limma jobs also start R.
STARTUP_IMPORTS = ("import numpy as np, torch, pandas, sklearn, exprbench.cli, exprbench.classification.job; "
                   "from exprbench.classification.models import MODELS; "
                   "MODELS.get('logistic_regression')(max_epochs=1).fit("
                   "np.zeros((8, 3), dtype=np.float32), np.array([0, 1] * 4), groups=np.arange(8))")
STARTUP_R = ("import numpy as np; from exprbench.limma import remove_batch_effect; "
             "remove_batch_effect(np.zeros((4, 3), dtype=np.float32), np.array([0, 0, 1, 1]))")


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "exprbench" / "calibration.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return cpu_model()


def machine_key(device: str) -> str:
    import torch

    return f"torch {torch.__version__} | {device} | {device_name(device)}"


class Calibration:
    """Cached measurements; ``measure=False`` only reads the cache (tests, quick looks)."""

    def __init__(self, path: Path | None = None, measure: bool = True, refresh: bool = False):
        self.path = Path(path) if path else cache_path()
        self.measure, self.refresh, self.refreshed = measure, refresh, set()
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.path, json.dumps(self.entries, indent=1, sort_keys=True) + "\n")

    def _cached(self, key: str, compute):
        stale = self.refresh and key not in self.refreshed
        if key not in self.entries or stale:
            if not self.measure:
                return None
            self.entries[key] = compute()
            self.refreshed.add(key)
            self._save()
        return self.entries[key]

    def fit_cost(self, model: dict, n_genes: int, n_classes: int, device: str = "cpu") -> dict | None:
        """One thread's seconds of a fit of ``model``: ``sample_epoch`` per sample passed
        to ``fit`` per epoch, plus ``fit`` per fit (network set-up, holdout split)."""
        params = model["params"]
        shape = f"{model['estimator']} genes={n_genes} classes={n_classes} batch={params.get('batch_size', 16)}"
        return self._cached(f"fit cost | {machine_key(device)} | {shape}",
                            lambda: _time_fit(model, n_genes, n_classes, device))

    def startup_seconds(self) -> dict | None:
        """Seconds a fresh job process spends before its first fit: imports, and R for limma."""
        return self._cached(f"startup | {machine_key('cpu')} | {sys.executable}", _time_startup)


def _time_fit(model: dict, n_genes: int, n_classes: int, device: str) -> dict:
    import torch

    MODELS = family("classification").module("models").MODELS

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the planner's unit is one thread, as a fit job runs by default
    try:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((CALIBRATION_SAMPLES, n_genes), dtype=np.float32)
        y = np.arange(CALIBRATION_SAMPLES) % n_classes
        groups = np.arange(CALIBRATION_SAMPLES)

        def fit_seconds(epochs: int) -> float:
            estimator = MODELS.get(model["estimator"])(**{**model["params"], "max_epochs": epochs,
                                                         "patience": epochs + 1, "device": device, "random_state": 0})
            started = time.perf_counter()
            estimator.fit(X, y, classes=np.arange(n_classes), groups=groups)
            if device == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - started

        fit_seconds(SHORT_EPOCHS)  # warm-up: first-call costs are start-up, not fitting
        long_epochs = SHORT_EPOCHS + 2
        while True:
            # Best of 3 of each: other processes on the machine only ever add time.
            short = min(fit_seconds(SHORT_EPOCHS) for _ in range(3))
            extra = min(fit_seconds(long_epochs) for _ in range(3)) - short
            if extra >= MIN_TIMED_SECONDS or long_epochs >= MAX_EPOCHS:
                break
            long_epochs *= 2
        sample_epoch = max(extra, 0.0) / ((long_epochs - SHORT_EPOCHS) * CALIBRATION_SAMPLES)
        return {"sample_epoch": sample_epoch,
                "fit": max(short - SHORT_EPOCHS * CALIBRATION_SAMPLES * sample_epoch, 0.0)}
    finally:
        torch.set_num_threads(threads)


def _process_seconds(code: str) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def _time_startup() -> dict:
    process = min(_process_seconds(STARTUP_IMPORTS) for _ in range(2))
    with_r = min(_process_seconds(f"{STARTUP_IMPORTS}; {STARTUP_R}") for _ in range(2))
    return {"process": round(process, 3), "r": round(max(with_r - process, 0.0), 3)}
