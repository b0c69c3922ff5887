"""One job: (experiment, generator, seed). For every fold of the classification
family's seeded split and every nested training fraction, select and scale genes
on the fold's training side, then run the augmentation protocol and the fidelity
comparison. Generator ``none`` is the real-only classifier and the real-vs-real
fidelity baseline."""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from ..preprocess import GenePreprocessor
from ..seeding import derive_seed, make_rng
from ..splits import group_kfold, nested_subsets
from .data import load_labelled
from .fidelity import METRICS as FIDELITY_METRICS
from .fidelity import fidelity, split_halves
from .protocol import (
    AUGMENTATION_METRICS,
    generate_fidelity_candidates,
    real_vs_real,
    synthetic_labels,
    train_and_score,
)

REAL_ONLY = "none"
KEY = ["experiment", "generator", "seed", "fold", "train_fraction", "evaluation", "arm"]


def build_generator(experiment: dict, generator: str, random_state: int, device: str):
    from .generators import GENERATORS

    cls = GENERATORS.get(generator)
    params = dict(experiment["generator_params"].get(generator, {}))
    defaults = cls().get_params()
    owned = {"random_state": random_state, "device": device}
    params.update({k: v for k, v in owned.items() if k in defaults})
    return cls(**params)


def _log(experiment, generator, seed, message) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {experiment['name']}/{generator}/seed{seed}: {message}",
          file=sys.stderr, flush=True)


def run_job(dataset_file, experiment: dict, generator: str, seed: int, device: str = "auto",
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Metric rows (augmentation and fidelity), the held-out predictions at the
    largest training fraction (for ROC curves and confusion matrices) and, for fold
    0 at that fraction, 2-D PCA coordinates of the real held-out samples (generator
    ``none``) or of the generated ones, in the PCA of the fold's real training samples."""
    data = load_labelled(dataset_file, experiment)
    name = experiment["name"]
    folds = group_kfold(data.groups, experiment["split"]["folds"], make_rng(seed, name, "folds", ""))
    largest = max(experiment["train_fractions"])
    rows, predictions, points = [], [], []
    for fold in range(experiment["split"]["folds"]):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        preprocessor = GenePreprocessor(top_genes=experiment["top_genes"], scaling="standard",
                                        log2=experiment["log2"]).fit(data.X[train])
        X_train, X_test = preprocessor.transform(data.X[train]), preprocessor.transform(data.X[test])
        y_train, y_test = data.y[train], data.y[test]
        halves = split_halves(y_test, make_rng(seed, name, "halves", fold))
        subsets = nested_subsets(len(train), experiment["train_fractions"], make_rng(seed, name, "fractions", fold, ""))
        for fraction, subset in zip(experiment["train_fractions"], subsets, strict=False):
            context = {"experiment": name, "dataset": experiment["dataset"], "generator": generator, "seed": seed,
                       "fold": fold, "train_fraction": fraction, "n_train_real": len(subset), "n_test": len(test),
                       "n_genes": X_train.shape[1]}
            new_rows, probabilities, generated = _one_fraction(experiment, generator, seed, fold, fraction, data,
                                                    X_train[subset], y_train[subset], data.groups[train][subset],
                                                    X_test, y_test, halves, device)
            rows += [{**context, **row} for row in new_rows]
            if fraction == largest:
                keys = {"experiment": name, "generator": generator, "seed": seed, "fold": fold,
                        "train_fraction": fraction}
                predictions += [_predictions(keys, arm, p, data, test, y_test) for arm, p in probabilities.items()]
                if fold == 0:
                    points.append(_projection(keys, X_train, X_test, y_test, generated, data.classes))
            for row in new_rows:
                if row["evaluation"] == "augmentation":
                    _log(experiment, generator, seed, f"fold {fold} fraction {fraction} ({len(subset)} real) "
                         f"{row['arm']}: balanced accuracy {row['balanced_accuracy']:.3f}")
                else:
                    _log(experiment, generator, seed, f"fold {fold} fraction {fraction} {row['arm']}: "
                         f"MMD {row['mmd']:.3f}, discriminator AUC {row['discriminator_auc']:.3f}")
    table = pd.DataFrame(rows)
    columns = [*KEY, "dataset", "n_train_real", "n_synthetic", "n_test", "n_genes", *AUGMENTATION_METRICS,
               *FIDELITY_METRICS, "n_fidelity_classes", "n_reference", "n_candidate", "generator_seconds",
               "classifier_seconds", "epochs"]
    table = table.reindex(columns=columns)
    table["status"], table["error"] = "ok", ""
    return table, pd.concat(predictions, ignore_index=True), pd.concat(points, ignore_index=True)


def _one_fraction(experiment, generator, seed, fold, fraction, data, X, y, groups, X_test, y_test, halves, device):
    name, k = experiment["name"], experiment["fidelity"]["k"]
    classifier_seed = derive_seed(seed, name, "classifier", fold, fraction)  # shared by every arm: paired
    fidelity_seed = derive_seed(seed, name, "discriminator", fold, fraction)
    spec = experiment["classifier"]
    train_classes = np.unique(y)
    rows, probabilities = [], {}
    if generator == REAL_ONLY:
        row, probabilities["real"] = train_and_score(spec, X, y, groups, X_test, y_test, data.classes, device,
                                                     classifier_seed)
        rows.append({"evaluation": "augmentation", "arm": "real", "n_synthetic": 0, **row})
        baseline = real_vs_real(X_test, y_test, halves, train_classes, fidelity_seed, k)
        rows.append({"evaluation": "fidelity", "arm": "real_vs_real", **_renamed(baseline)})
        return rows, probabilities, None

    model = build_generator(experiment, generator, derive_seed(seed, name, generator, fold, fraction), device)
    started = time.perf_counter()
    model.fit(X, y)
    labels = synthetic_labels(y, experiment["augmentation"]["factor"], experiment["augmentation"]["class_balance"])
    X_synthetic = model.sample(labels).astype(np.float32)
    generator_seconds = round(time.perf_counter() - started, 3)
    synthetic_groups = np.array([f"synthetic-{i}" for i in range(len(labels))])
    arms = {"real+synthetic": (np.vstack([X, X_synthetic]), np.r_[y, labels], np.r_[groups, synthetic_groups]),
            "synthetic": (X_synthetic, labels, synthetic_groups)}
    for arm, (X_arm, y_arm, groups_arm) in arms.items():
        row, probabilities[arm] = train_and_score(spec, X_arm, y_arm, groups_arm, X_test, y_test, data.classes,
                                                  device, classifier_seed)
        rows.append({"evaluation": "augmentation", "arm": arm, "n_synthetic": len(labels),
                     "generator_seconds": generator_seconds, **row})
    first = halves[0]
    labels_b, generated = generate_fidelity_candidates(model, y_test, halves[1], train_classes)
    metrics = _renamed(fidelity(X_test[first], y_test[first], generated, labels_b, fidelity_seed, k))
    rows.append({"evaluation": "fidelity", "arm": "generated", "generator_seconds": generator_seconds, **metrics})
    return rows, probabilities, (X_synthetic, labels)


def _predictions(keys: dict, arm: str, probabilities, data, test, y_test) -> pd.DataFrame:
    frame = pd.DataFrame({**keys, "arm": arm, "sample_id": data.sample_ids[test], "true_label": data.classes[y_test],
                          "predicted_label": data.classes[np.argmax(probabilities, axis=1)]})
    scores = pd.DataFrame(probabilities, columns=[f"p_{c}" for c in data.classes])
    return pd.concat([frame, scores], axis=1)


def _projection(keys: dict, X_train, X_test, y_test, generated, classes) -> pd.DataFrame:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0).fit(X_train)
    X, y, source = (X_test, y_test, "real") if generated is None else (*generated, "generated")
    coordinates = pca.transform(X)
    return pd.DataFrame({**{k: keys[k] for k in ("experiment", "generator", "seed", "fold")}, "source": source,
                         "label": classes[y], "pc1": coordinates[:, 0], "pc2": coordinates[:, 1]})


def _renamed(metrics: dict) -> dict:
    return {("n_fidelity_classes" if key == "n_classes" else key): value for key, value in metrics.items()}
