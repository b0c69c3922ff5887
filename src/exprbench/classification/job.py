"""One fit job: a (task, model, signal_removal, seed, fold) cell of the benchmark.

Within the job: split the task's samples group-wise into folds, fit gene
selection and scaling on the training side, choose the learning rate and weight
decay by nested CV, then fit one model per nested training fraction and score it
on the whole validation fold. A pretraining task splits 40/40/20 and also
fine-tunes, from the same initialisation, a copy of a model trained once on the
pretraining set.

Signal removal (``limma``) runs on every set a model is fitted or scored on, each
on its own, as the paper did: the validation fold, each inner-CV training and
validation part, and each fit's training part and early-stopping holdout. The
training side therefore stays uncorrected until it is cut into those sets;
correcting a set and then splitting it leaves its parts with opposite class
gaps. ``limma_joint`` is the paper's S1 control: all sets corrected together.
"""

from __future__ import annotations

import copy
import functools
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..devices import as_device_tensor, resolve_device
from ..metrics import accuracy, balanced_accuracy, majority_baseline
from ..preprocess import GenePreprocessor
from ..seeding import derive_seed, make_rng
from ..splits import group_kfold, nested_subsets, pretraining_split
from ..store import open_dataset
from ..tracking import make_tracker
from .models import MODELS
from .tasks import GROUP_COLUMNS
from .tuning import nested_search

SIGNAL_REMOVALS = ("none", "limma", "limma_joint")


def remove_label_signal(X, labels, backend: str = "r"):
    """limma's removeBatchEffect with the class label as batch, on one set:
    a device tensor in, a corrected tensor on the same device out."""
    if len(np.unique(labels)) < 2:  # nothing to remove (also a one-sample part)
        return X
    from ..limma import remove_batch_effect

    return as_device_tensor(remove_batch_effect(X.cpu().numpy(), labels, backend=backend), X.device)


def use_stacked_fits(stacked_fits, device: str) -> bool:
    """``stacked_fits`` on, off, or auto: on where it pays, on CUDA (on the CPU one
    batched matmul is no faster than the fits one by one; benchmarks/gpu_throughput.py).
    True and False (YAML's reading of on and off) count as on and off."""
    stacked_fits = {True: "on", False: "off"}.get(stacked_fits, stacked_fits)
    if stacked_fits not in ("auto", "on", "off"):
        raise ValueError(f"stacked_fits must be auto, on or off, got {stacked_fits!r}")
    return stacked_fits == "on" or (stacked_fits == "auto" and resolve_device(device).type == "cuda")


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
    signal_removal_backend: str = "r"
    stacked_fits: str = "auto"  # the search's fits as one stacked model: auto = on CUDA only
    compile_steps: bool = False

    def log(self, message: str) -> None:
        cell = f"{self.task['name']}/{self.model['name']}/{self.signal_removal}/seed{self.seed}/fold{self.fold}"
        print(f"[{time.strftime('%H:%M:%S')}] {cell}: {message}", file=sys.stderr, flush=True)

    def run(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self.signal_removal not in SIGNAL_REMOVALS:
            raise ValueError(f"signal_removal {self.signal_removal!r} is not one of {', '.join(SIGNAL_REMOVALS)}")
        manifest = self.manifest
        rows = np.asarray(manifest["rows"])
        with open_dataset(manifest["dataset_file"]) as reader:
            samples = reader.samples.iloc[rows].reset_index(drop=True)
            expression = reader.read_expression(rows)
        if manifest["n_dropped_missing_label"]:
            self.log(f"{manifest['n_dropped_missing_label']} samples without a {manifest['label']!r} label "
                     "are left out")
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
        # Applied at the leaves: to each set a model is fitted or scored on.
        self.correct = (functools.partial(remove_label_signal, backend=job.signal_removal_backend)
                        if job.signal_removal == "limma" else None)

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
        preprocessor = GenePreprocessor(top_genes=settings["top_genes"], scaling=settings["scaling"],
                                        log2=settings["log2"])
        if settings["fit_on"] == "train":
            preprocessor.fit(self.X[training_side])
        else:
            from ..compendium import manifest_stats

            # Every sample of the dataset's store, as the paper scaled its compendium.
            preprocessor.fit_stats(manifest_stats(self.job.manifest))
        device = resolve_device(self.job.device)
        values = {name: preprocessor.transform(self.X[rows]) for name, rows in sets.items()}
        if self.job.signal_removal == "limma_joint":
            from ..limma import remove_batch_effect

            # The paper's S1 control: one correction over all sets, then split.
            joint = remove_batch_effect(np.concatenate(list(values.values())),
                                        self.y[np.concatenate(list(sets.values()))],
                                        backend=self.job.signal_removal_backend)
            values = dict(zip(values, np.split(joint, np.cumsum([len(rows) for rows in sets.values()])[:-1]),
                              strict=False))
        features = {name: as_device_tensor(matrix, device) for name, matrix in values.items()}
        if self.correct is not None:
            # The training side stays uncorrected: it is corrected per part where it is used.
            features["validation"] = self.correct(features["validation"], self.y[sets["validation"]])
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
            inner_folds=tuning["inner_folds"], rng=make_rng(self._seed("search-space")), correct=self.correct,
            stacked=use_stacked_fits(job.stacked_fits, job.device), compile_steps=job.compile_steps,
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
        pretrained_model = self.pretrain(best, features, sets) if "pretrain" in sets else None
        metrics, predictions = [], []
        for fraction, subset in zip(job.task["train_fractions"], subsets, strict=False):
            if len(np.unique(self.y[train][subset])) < 2:
                job.log(f"{self.prefix}fraction {fraction}: {len(subset)} training samples hold one class; skipped")
                continue
            for pretrained in (False, True) if "pretrain" in sets else (False,):
                model, predicted = self.fit_and_predict(best, fraction, features, sets, subset,
                                                        pretrained_model if pretrained else None)
                metrics.append(self.metrics_row(model, features, fraction, self.y[train][subset], predicted, val,
                                                pretrained))
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

    def fit_seed(self, fraction, sets) -> int:
        """A pretraining task seeds every fit of the problem alike, so the direct
        model starts from the pretrained model's initial weights at every fraction."""
        return self._seed("pretraining") if "pretrain" in sets else self._seed(fraction)

    def pretrain(self, best, features, sets):
        """The model trained on the pretraining set, once per problem; each
        training fraction fine-tunes a copy of it."""
        pretrain = sets["pretrain"]
        model = self.new_model(**best, random_state=self.fit_seed(None, sets), warm_start=True)
        return model.fit(features["pretrain"], self.y[pretrain], classes=self.problem_classes,
                         groups=self.groups[pretrain], correct=self.correct)

    def fit_and_predict(self, best, fraction, features, sets, subset, pretrained_model=None):
        """Fit one model, from scratch or from a copy of ``pretrained_model``, and
        predict the validation set."""
        job, train, pretrained = self.job, sets["train"], pretrained_model is not None
        if pretrained:
            model = copy.deepcopy(pretrained_model)
        else:
            model = self.new_model(**best, random_state=self.fit_seed(fraction, sets))
        run_name = f"{job.task['name']}-{job.model['name']}-{job.signal_removal}-s{job.seed}-f{job.fold}-{fraction}"
        with make_tracker(job.tracker, run_name, tags=[job.task["name"], job.model["name"]]) as tracker:
            tracker.log_params({**job.model["params"], **best, "train_fraction": fraction,
                                "pair": self.pair_name, "pretrained": pretrained})
            model.fit(features["train"][subset], self.y[train][subset], classes=self.problem_classes,
                      groups=self.groups[train][subset], correct=self.correct, tracker=tracker)
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
            "learning_rate": params["learning_rate"], "weight_decay": params["weight_decay"],
            "epochs": model.n_epochs_, "best_epoch": model.best_epoch_,
            "fit_seconds": round(model.fit_seconds_, 3), "device": str(model.device_),
            "status": "ok", "error": "",
        }
