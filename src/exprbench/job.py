"""One fit job: a (task, model, signal_removal, seed, fold) cell of the benchmark.

Within the job: split the task's samples group-wise into folds, fit gene
selection and scaling on the training folds, remove linear label signal with
limma from training and validation separately (as the paper did), choose the
learning rate and weight decay by nested CV, then fit one model per nested
training fraction and score it on the whole validation fold.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import accuracy, balanced_accuracy, majority_baseline
from .models import MODELS
from .models._torch import as_device_tensor, resolve_device
from .preprocess import GenePreprocessor
from .seeding import derive_seed, make_rng
from .splits import group_kfold, nested_subsets
from .store import open_dataset
from .tasks import GROUP_COLUMNS
from .tracking import make_tracker
from .tuning import nested_search


@dataclass
class FitJob:
    task: dict
    manifest: dict
    model: dict
    signal_removal: str
    seed: int
    fold: int
    dataset: str
    device: str = "auto"
    tracker: dict | None = None
    mixed_precision: bool = False

    def log(self, message: str) -> None:
        cell = f"{self.task['name']}/{self.model['name']}/{self.signal_removal}/seed{self.seed}/fold{self.fold}"
        print(f"[{time.strftime('%H:%M:%S')}] {cell}: {message}", file=sys.stderr, flush=True)

    def run(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        manifest = self.manifest
        rows = np.asarray(manifest["rows"])
        with open_dataset(manifest["dataset_file"]) as reader:
            samples = reader.samples.iloc[rows].reset_index(drop=True)
            expression = reader.read_expression(rows)
        if manifest["n_dropped_missing_label"]:
            self.log(f"{manifest['n_dropped_missing_label']} samples without a {manifest['label']!r} label are left out")
        classes = np.asarray(manifest["classes"])
        codes = np.searchsorted(classes, samples[manifest["label"]].astype(str).to_numpy())
        groups = samples[GROUP_COLUMNS[self.task["split"]["by"]]].astype(str).to_numpy()

        problems = [(pair, np.isin(classes[codes], pair)) for pair in manifest["pairs"]] or [
            (None, np.ones(len(codes), dtype=bool))
        ]
        metrics, predictions = [], []
        for pair, selected in problems:
            m, p = self._run_problem(
                expression[selected], codes[selected], groups[selected],
                samples["sample_id"].to_numpy()[selected], classes, pair,
            )
            metrics += m
            predictions += p
        return pd.DataFrame(metrics), pd.DataFrame(predictions)

    def _run_problem(self, X, y, groups, sample_ids, classes, pair):
        pair_name = "|".join(pair) if pair else ""
        problem_classes = np.searchsorted(classes, pair) if pair else np.arange(len(classes))
        folds = group_kfold(groups, self.task["split"]["folds"], make_rng(self.seed, self.task["name"], "folds", pair_name))
        train, val = np.flatnonzero(folds != self.fold), np.flatnonzero(folds == self.fold)
        X_train, X_val = self._prepare_features(X, train, val, y)
        # Moved to the device once; every fit of this job slices these tensors.
        device = resolve_device(self.device)
        X_train, X_val = as_device_tensor(X_train, device), as_device_tensor(X_val, device)

        estimator = MODELS.get(self.model["estimator"])(
            **self.model["params"], device=self.device, mixed_precision=self.mixed_precision
        )
        tuning = self.task["tuning"]
        best, trials = nested_search(
            estimator.set_params(random_state=derive_seed(self.seed, self.task["name"], self.model["name"], self.fold, "search")),
            self.model["search"], X_train, y[train], groups[train], problem_classes,
            n_trials=tuning["n_trials"], inner_folds=tuning["inner_folds"],
            rng=make_rng(self.seed, self.task["name"], self.model["name"], self.fold, pair_name, "search"),
        )
        if trials:
            self.log(f"{pair_name + ': ' if pair else ''}search chose {best} from {len(trials)} trials")
        params = estimator.get_params() | best

        subsets = nested_subsets(len(train), self.task["train_fractions"],
                                 make_rng(self.seed, self.task["name"], "fractions", self.fold, pair_name))
        metrics, predictions = [], []
        for fraction, subset in zip(self.task["train_fractions"], subsets):
            y_fit = y[train][subset]
            if len(np.unique(y_fit)) < 2:
                self.log(f"fraction {fraction}: {len(subset)} training samples hold one class; skipped")
                continue
            model = MODELS.get(self.model["estimator"])(**params)
            model.set_params(random_state=derive_seed(self.seed, self.task["name"], self.model["name"], self.fold, pair_name, fraction))
            run_name = f"{self.task['name']}-{self.model['name']}-{self.signal_removal}-s{self.seed}-f{self.fold}-{fraction}"
            with make_tracker(self.tracker, run_name, tags=[self.task["name"], self.model["name"]]) as tracker:
                tracker.log_params({**self.model["params"], **best, "train_fraction": fraction, "pair": pair_name})
                model.fit(X_train[subset], y_fit, classes=problem_classes, groups=groups[train][subset], tracker=tracker)
                predicted = model.predict(X_val)
                scores = {"accuracy": accuracy(y[val], predicted), "balanced_accuracy": balanced_accuracy(y[val], predicted)}
                tracker.log_summary(**scores)
            metrics.append({
                "task": self.task["name"], "dataset": self.dataset, "kind": self.task["kind"],
                "model": self.model["name"], "signal_removal": self.signal_removal, "seed": self.seed,
                "fold": self.fold, "train_fraction": fraction, "class_pair": pair_name,
                "n_train": len(subset), "n_val": len(val), "n_genes": int(X_train.shape[1]),
                **scores,
                "baseline_balanced_accuracy": majority_baseline(y_fit, y[val]),
                "lr": params["lr"], "weight_decay": params["weight_decay"],
                "epochs": model.n_epochs_, "best_epoch": model.best_epoch_,
                "fit_seconds": round(model.fit_seconds_, 3), "device": str(model.device_),
                "status": "ok", "error": "",
            })
            predictions.append(pd.DataFrame({
                "train_fraction": fraction, "class_pair": pair_name, "sample_id": sample_ids[val],
                "true_label": classes[y[val]], "predicted_label": classes[predicted],
            }))
            self.log(f"{pair_name + ': ' if pair else ''}fraction {fraction}: n_train={len(subset)} "
                     f"balanced_accuracy={scores['balanced_accuracy']:.3f} ({model.fit_seconds_:.1f} s, {model.n_epochs_} epochs)")
        prediction_rows = pd.concat(predictions).to_dict("records") if predictions else []
        return metrics, prediction_rows

    def _prepare_features(self, X, train, val, y):
        settings = self.task["preprocessing"]
        preprocessor = GenePreprocessor(top_genes=settings["top_genes"], scaling=settings["scaling"])
        preprocessor.fit(X[train] if settings["fit_on"] == "train" else X)
        X_train, X_val = preprocessor.transform(X[train]), preprocessor.transform(X[val])
        if self.signal_removal == "limma":
            from .limma import remove_batch_effect

            # Separately per set, as in the paper: removing it jointly can inject signal.
            X_train = remove_batch_effect(X_train, y[train])
            X_val = remove_batch_effect(X_val, y[val])
        return X_train, X_val
