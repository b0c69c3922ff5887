"""One pretraining job and one fine-tuning job of the self-supervised protocol.

A fine-tuning job loops over the repeats and, within a repeat, over the nested
stratified subsets of the training pool (one per proportion p), each split into the
fitted samples and the early-stopping samples. Repeat r of seed s draws the same
subsets for every method and for the baseline, and the head starts from the same
seed, so curves differ only by the encoder's initialisation. Every test sample gets
a prediction in every fit.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..metrics import accuracy, balanced_accuracy
from ..seeding import derive_seed, make_rng
from .data import DownstreamData, ExperimentLayout
from .metrics import singular_value_spectrum, spectrum_table
from .settings import BASELINE, NO_PRETRAINING, architecture, pretrain_size
from .splits import fit_and_stop_subsets


def job_keys(exp: dict, method: str, mode: str | None, arch: str, pretrain: str, seed: int) -> dict:
    """The columns that identify a job's rows in every table it writes."""
    shape = architecture(exp, arch)
    keys = {"experiment": exp["name"], "pretrain_dataset": exp["pretrain_dataset"],
            "finetune_dataset": exp["finetune_dataset"], "method": method}
    if mode is not None:
        keys["mode"] = mode
    return {**keys, "architecture": arch, "depth": shape["depth"], "width": shape["width"], "pretrain": pretrain,
            "pretrain_size": np.nan if pretrain == NO_PRETRAINING else pretrain_size(exp, pretrain), "seed": seed}


def _with_keys(keys: dict, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the job's identifying columns in front."""
    return pd.concat([pd.DataFrame([keys] * len(table)), table], axis=1)


def pretrain(exp: dict, method: str, arch: str, pretrain_label: str, seed: int, device: str,
             pretrain_path, finetune_path):
    """Fit one pretrainer; returns (pretrainer, history table, spectrum table)."""
    from .methods import SSL_METHODS

    shape = architecture(exp, arch)
    q = pretrain_size(exp, pretrain_label)
    data = ExperimentLayout(exp, pretrain_path, finetune_path).pretrain_data(q)
    print(f"pretraining {method} {arch} on {data.X_train.shape[0]} samples x {data.X_train.shape[1]} genes "
          f"(q = {q:g} of {data.n_pool - data.X_val.shape[0]}), {data.X_val.shape[0]} held out",
          file=sys.stderr, flush=True)
    model = SSL_METHODS.get(method)(depth=shape["depth"], width=shape["width"], random_state=seed, device=device,
                                    verbose=True, **exp["method_params"][method])
    has_val = data.X_val.shape[0] >= 2
    model.fit(data.X_train, X_val=data.X_val if has_val else None)
    keys = job_keys(exp, method, None, arch, pretrain_label, seed)
    history = pd.DataFrame(model.history_)
    history = _with_keys(keys, history)
    # The collapse spectrum uses held-out samples; without any, the training samples.
    embedded = model.transform(data.X_val if has_val else data.X_train)
    spectrum = spectrum_table(singular_value_spectrum(embedded), exp["collapse_tolerance"])
    spectrum.insert(0, "n_embedded", embedded.shape[0])
    spectrum = _with_keys(keys, spectrum)
    return model, history, spectrum


def run_protocol(data: DownstreamData, make_tuner: Callable[[int], object], proportions, repeats: int, seed: int,
                 subset_key: str, encoder_state=None, label: str = "", *, stop_fraction: float,
                 stop_min_per_class: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fine-tune on every (repeat, p) subset; returns (scores, predictions).

    ``make_tuner(fit_seed)`` builds an unfitted FineTuner; ``subset_key`` names the
    experiment, so all jobs of one experiment draw the same subsets per repeat.
    ``stop_fraction`` and ``stop_min_per_class`` size each subset's early-stopping part.
    """
    n_classes = len(data.classes)
    scores, predictions = [], []
    started = time.perf_counter()
    for repeat in range(repeats):
        subsets = fit_and_stop_subsets(data.y_pool, proportions, make_rng(seed, "finetune subsets", subset_key, repeat),
                                       stop_fraction, stop_min_per_class)
        for p, (fitted, stopping) in zip(proportions, subsets, strict=False):
            tuner = make_tuner(derive_seed(seed, "finetune", f"{p:g}", repeat))
            fit_start = time.perf_counter()
            tuner.fit(data.X_pool[fitted], data.y_pool[fitted], data.X_pool[stopping], data.y_pool[stopping],
                      classes=np.arange(n_classes), encoder_state=encoder_state)
            predicted = np.asarray(tuner.predict(data.X_test))
            if predicted.shape[0] != data.X_test.shape[0]:
                raise RuntimeError(f"{predicted.shape[0]} predictions for {data.X_test.shape[0]} test samples")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores.append({
                    "proportion": p, "repeat": repeat, "n_train": int(fitted.size), "n_val": int(stopping.size),
                    "n_test": int(predicted.shape[0]), "accuracy": accuracy(data.y_test, predicted),
                    "balanced_accuracy": balanced_accuracy(data.y_test, predicted),
                    "epochs": int(tuner.n_epochs_),
                    "best_epoch": tuner.best_epoch_,
                    "hit_epoch_cap": bool(tuner.hit_epoch_cap_),
                    "fit_seconds": round(time.perf_counter() - fit_start, 3),
                })
            predictions.append(pd.DataFrame({
                "proportion": p, "repeat": repeat, "sample_id": data.test_ids,
                "true": data.classes[data.y_test], "predicted": data.classes[predicted],
            }))
        last = scores[-1]
        print(f"{label} repeat {repeat + 1}/{repeats}: accuracy at p = {last['proportion']:g} "
              f"{last['accuracy']:.3f} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return pd.DataFrame(scores), pd.concat(predictions, ignore_index=True)


def finetune(exp: dict, method: str, mode: str, arch: str, pretrain_label: str, seed: int, device: str,
             pretrain_path, finetune_path, encoder_path=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One fine-tuning job: returns (scores, predictions), each with the job's key columns."""
    import torch

    from .finetune import FineTuner

    if (method == BASELINE) != (encoder_path is None):
        raise ValueError(f"method {method!r}: the baseline takes no encoder, a pretraining method needs one")
    shape = architecture(exp, arch)
    settings = exp["finetune"]
    dropout = exp["dropout"] if method == BASELINE else exp["method_params"][method].get("dropout", exp["dropout"])
    state = None if encoder_path is None else torch.load(encoder_path, map_location="cpu", weights_only=True)
    data = ExperimentLayout(exp, pretrain_path, finetune_path).downstream_data()
    print(f"fine-tuning {method} ({mode}, {arch}): pool {len(data.y_pool)} (fitted and early-stopping samples), "
          f"test {len(data.y_test)}, {len(data.classes)} classes, {data.X_pool.shape[1]} genes",
          file=sys.stderr, flush=True)

    def make_tuner(fit_seed: int):
        return FineTuner(mode=mode, depth=shape["depth"], width=shape["width"], dropout=dropout,
                         learning_rate=settings["learning_rate"], batch_size=settings["batch_size"],
                         max_epochs=settings["max_epochs"],
                         patience=settings["patience"], min_delta=settings["min_delta"], monitor=settings["monitor"],
                         restore_best=settings["restore_best"], random_state=fit_seed, device=device, verbose=False)

    scores, predictions = run_protocol(data, make_tuner, settings["proportions"], settings["repeats"], seed,
                                       exp["name"], state, label=f"{method} {mode} {arch}",
                                       stop_fraction=exp["split"]["val_fraction"],
                                       stop_min_per_class=exp["split"]["val_min_per_class"])
    keys = job_keys(exp, method, mode, arch, pretrain_label, seed)
    scores = _with_keys(keys, scores)
    predictions = _with_keys(keys, predictions)
    return scores, predictions
