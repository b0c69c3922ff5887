"""One fit job: a (task, model, signal_removal, seed, fold) cell of the benchmark.

Within the job: split the task's samples group-wise into folds, fit gene
selection and scaling on the training side, remove linear label signal with
limma from each set separately (as the paper did), choose the learning rate and
weight decay by nested CV, then fit one model per nested training fraction and
score it on the whole validation fold. A pretraining task splits 40/40/20 and
also fits, from the same initialisation, a copy first trained on the
pretraining set.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import accuracy, balanced_accuracy, majority_baseline
from .models import MODELS
from .devices import resolve_device
from .models._torch import as_device_tensor
from .preprocess import GenePreprocessor
from .seeding import derive_seed, make_rng
from .splits import group_kfold, nested_subsets, pretraining_split
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
        sample_ids = samples["sample_id"].to_numpy()

        problems = [(pair, np.isin(classes[codes], pair)) for pair in manifest["pairs"]]
        metrics, predictions = [], []
        for pair, selected in problems or [(None, np.ones(len(codes), dtype=bool))]:
            problem = _Problem(self, expression[selected], codes[selected], groups[selected],
                               sample_ids[selected], classes, pair)
            m, p = problem.run()
            metrics += m
            predictions += p
        return pd.DataFrame(metrics), pd.DataFrame(predictions)


class _Problem:
    """One classification problem of a job: the whole task, or one class pair."""

    def __init__(self, job: FitJob, X, y, groups, sample_ids, classes, pair):
        self.job, self.X, self.y, self.groups, self.sample_ids, self.classes = job, X, y, groups, sample_ids, classes
        self.pair_name = "|".join(pair) if pair else ""
        self.problem_classes = np.searchsorted(classes, pair) if pair else np.arange(len(classes))
        self.prefix = f"{self.pair_name}: " if pair else ""

    def _seed(self, *keys) -> int:
        job = self.job
        return derive_seed(job.seed, job.task["name"], job.model["name"], job.fold, self.pair_name, *keys)

    def sets(self) -> dict[str, np.ndarray]:
        """Row indices of each set; folds depend on the seed and task only, so
        every model and signal removal sees the same samples."""
        job = self.job
        folds = group_kfold(self.groups, job.task["split"]["folds"],
                            make_rng(job.seed, job.task["name"], "folds", self.pair_name))
        if job.task["pretraining"]:
            parts = pretraining_split(folds, job.fold, job.task["split"]["folds"])
            return {"train": parts["train"], "validation": parts["validation"], "pretrain": parts["pretrain"]}
        return {"train": np.flatnonzero(folds != job.fold), "validation": np.flatnonzero(folds == job.fold)}

    def features(self, sets) -> dict:
        """Per-set feature matrices, moved to the device once for all fits."""
        settings = self.job.task["preprocessing"]
        training_side = np.concatenate([sets[name] for name in sets if name != "validation"])
        preprocessor = GenePreprocessor(top_genes=settings["top_genes"], scaling=settings["scaling"], log2=settings["log2"])
        if settings["fit_on"] == "train":
            preprocessor.fit(self.X[training_side])
        else:
            from .compendium import manifest_stats

            # Every sample of the dataset's store, as the paper scaled its compendium.
            preprocessor.fit_stats(manifest_stats(self.job.manifest))
        device = resolve_device(self.job.device)
        features = {}
        for name, rows in sets.items():
            values = preprocessor.transform(self.X[rows])
            if self.job.signal_removal == "limma":
                from .limma import remove_batch_effect

                # Separately per set, as in the paper: removing it jointly can inject signal.
                values = remove_batch_effect(values, self.y[rows])
            features[name] = as_device_tensor(values, device)
        return features

    def new_model(self, **params):
        job = self.job
        return MODELS.get(job.model["estimator"])(
            **{**job.model["params"], "device": job.device, "mixed_precision": job.mixed_precision, **params}
        )

    def tune(self, X_train, train) -> dict:
        job, tuning = self.job, self.job.task["tuning"]
        best, trials = nested_search(
            self.new_model(random_state=self._seed("search")), job.model["search"], X_train, self.y[train],
            self.groups[train], self.problem_classes, n_trials=tuning["n_trials"],
            inner_folds=tuning["inner_folds"], rng=make_rng(self._seed("search-space")),
        )
        if trials:
            job.log(f"{self.prefix}search chose {best} from {len(trials)} trials")
        return best

    def run(self) -> tuple[list, list]:
        job = self.job
        sets = self.sets()
        features = self.features(sets)
        train, val = sets["train"], sets["validation"]
        if len(np.unique(self.y[val])) < 2:
            job.log(f"{self.prefix}the validation fold holds a single class; balanced accuracy is that class's recall")
        best = self.tune(features["train"], train)
        subsets = nested_subsets(len(train), job.task["train_fractions"],
                                 make_rng(job.seed, job.task["name"], "fractions", job.fold, self.pair_name))
        metrics, predictions = [], []
        for fraction, subset in zip(job.task["train_fractions"], subsets):
            if len(np.unique(self.y[train][subset])) < 2:
                job.log(f"{self.prefix}fraction {fraction}: {len(subset)} training samples hold one class; skipped")
                continue
            for pretrained in (False, True) if "pretrain" in sets else (False,):
                model, predicted = self.fit_and_predict(best, fraction, features, sets, subset, pretrained)
                metrics.append(self.metrics_row(model, features, fraction, self.y[train][subset], predicted, val, pretrained))
                predictions.append(pd.DataFrame({
                    "train_fraction": fraction, "class_pair": self.pair_name, "pretrained": pretrained,
                    "sample_id": self.sample_ids[val], "true_label": self.classes[self.y[val]],
                    "predicted_label": self.classes[predicted],
                }))
                row = metrics[-1]
                job.log(f"{self.prefix}fraction {fraction}{' pretrained' if pretrained else ''}: "
                        f"n_train={row['n_train']} balanced_accuracy={row['balanced_accuracy']:.3f} "
                        f"({row['fit_seconds']:.1f} s, {row['epochs']} epochs)")
        return metrics, pd.concat(predictions).to_dict("records") if predictions else []

    def fit_and_predict(self, best, fraction, features, sets, subset, pretrained: bool):
        """Fit one model and predict the validation set. The direct and the
        pretrained copy share ``random_state``, hence the same initial weights."""
        job, train = self.job, sets["train"]
        model = self.new_model(**best, random_state=self._seed(fraction), warm_start=pretrained)
        run_name = f"{job.task['name']}-{job.model['name']}-{job.signal_removal}-s{job.seed}-f{job.fold}-{fraction}"
        with make_tracker(job.tracker, run_name, tags=[job.task["name"], job.model["name"]]) as tracker:
            tracker.log_params({**job.model["params"], **best, "train_fraction": fraction,
                                "pair": self.pair_name, "pretrained": pretrained})
            if pretrained:
                pretrain = sets["pretrain"]
                model.fit(features["pretrain"], self.y[pretrain], classes=self.problem_classes,
                          groups=self.groups[pretrain])
            model.fit(features["train"][subset], self.y[train][subset], classes=self.problem_classes,
                      groups=self.groups[train][subset], tracker=tracker)
            predicted = model.predict(features["validation"])
            tracker.log_summary(balanced_accuracy=balanced_accuracy(self.y[sets["validation"]], predicted))
        return model, predicted

    def metrics_row(self, model, features, fraction, y_fit, predicted, val, pretrained) -> dict:
        job, y_val = self.job, self.y[val]
        params = model.get_params()
        return {
            "task": job.task["name"], "dataset": job.dataset, "kind": job.task["kind"],
            "model": job.model["name"], "signal_removal": job.signal_removal, "seed": job.seed,
            "fold": job.fold, "train_fraction": fraction, "class_pair": self.pair_name, "pretrained": pretrained,
            "n_train": len(y_fit), "n_val": len(val), "n_genes": int(features["train"].shape[1]),
            "accuracy": accuracy(y_val, predicted), "balanced_accuracy": balanced_accuracy(y_val, predicted),
            "baseline_balanced_accuracy": majority_baseline(y_fit, y_val),
            "lr": params["lr"], "weight_decay": params["weight_decay"],
            "epochs": model.n_epochs_, "best_epoch": model.best_epoch_,
            "fit_seconds": round(model.fit_seconds_, 3), "device": str(model.device_),
            "status": "ok", "error": "",
        }
