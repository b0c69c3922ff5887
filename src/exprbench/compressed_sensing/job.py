"""One job: (experiment, method, seed). Load the data, fit the method once, then for
every measurement count simulate observations of the test samples and recover them."""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from ..seeding import derive_seed, make_rng
from .data import load_experiment
from .measurement import observe, random_measurement_matrix
from .metrics import recovery_metrics


def build_method(experiment: dict, method: str, seed: int, device: str, threads: int = 1):
    from .methods import METHODS

    cls = METHODS.get(method)
    params = dict(experiment["method_params"].get(method, {}))
    defaults = cls().get_params()
    # The experiment owns the decoding sparsity, the seed and the device; the job's
    # threads become SMAF's U-step processes unless the config sets n_jobs.
    owned = {"sparsity": experiment["sparsity"], "random_state": derive_seed(seed, "method", method),
             "device": device}
    if "n_jobs" in defaults and "n_jobs" not in params:
        params["n_jobs"] = threads
    params.update({k: v for k, v in owned.items() if k in defaults})
    return cls(**params)


def measurement_setup(experiment: dict, seed: int, d: int, n_genes: int, X_test: np.ndarray):
    """A and Y for one measurement count: the same for every method of a seed."""
    A = random_measurement_matrix(d, n_genes, make_rng(seed, "measurement matrix", d), experiment["max_abs_corr"])
    Y = observe(X_test, A, experiment["snr"], make_rng(seed, "measurement noise", d))
    return A, Y


def run_job(dataset_file, experiment: dict, method: str, seed: int, device: str = "auto",
            threads: int = 1) -> tuple[pd.DataFrame, dict]:
    """Returns one metrics row per measurement count and a record of the fit."""
    data = load_experiment(dataset_file, experiment, seed)
    n_test, n_genes = data.test.shape
    if max(experiment["measurements"]) > n_genes:
        raise ValueError(f"experiment {experiment['name']}: {max(experiment['measurements'])} measurements exceed "
                         f"the {n_genes} genes of {dataset_file}; lower measurements")
    print(f"{experiment['name']} {method} seed {seed}: {data.train.shape[0]} training and {n_test} test samples "
          f"x {n_genes} genes", file=sys.stderr)
    model = build_method(experiment, method, seed, device, threads)
    started = time.perf_counter()
    model.fit(data.train)
    fit_seconds = time.perf_counter() - started
    dictionary = getattr(model, "dictionary_", None)
    rows = []
    for d in experiment["measurements"]:
        A, Y = measurement_setup(experiment, seed, d, n_genes, data.test)
        started = time.perf_counter()
        model.fit_measurements(A, experiment["snr"])
        recovered = model.recover(Y, A)
        recover_seconds = time.perf_counter() - started
        metrics = recovery_metrics(data.test, recovered, make_rng(seed, "distance samples", d),
                                   experiment["distance_samples"])
        rows.append({
            "experiment": experiment["name"], "dataset": experiment["dataset"], "method": method, "seed": seed,
            "measurements": d, "sparsity": experiment["sparsity"], "snr": experiment["snr"], "n_genes": n_genes,
            "n_train": data.train.shape[0], "n_test": n_test,
            "n_modules": dictionary.shape[1] if dictionary is not None else np.nan,
            **metrics, "fit_seconds": round(fit_seconds, 4), "recover_seconds": round(recover_seconds, 4),
            "n_iter": getattr(model, "n_iter_", np.nan),
        })
        # Gene-wise and distance correlations first: the mean profile wins overall Pearson.
        print(f"  d={d}: gene pearson {metrics['gene_pearson']:.3f}, distance pearson "
              f"{metrics['distance_pearson']:.3f} (overall pearson {metrics['overall_pearson']:.3f}), "
              f"{recover_seconds:.1f}s", file=sys.stderr)
    record = {"experiment": experiment["name"], "method": method, "seed": seed, "params": model.get_params(),
              "fit_seconds": fit_seconds, "n_iter": getattr(model, "n_iter_", None),
              "history": getattr(model, "history_", None)}
    return pd.DataFrame(rows), record
