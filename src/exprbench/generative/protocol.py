"""The augmentation protocol (Polepalli) for one fold and training fraction.

On the training subset only: fit the generator, draw ``factor`` x n synthetic
samples (1 = doubling) with the subset's class mix (or equal counts per class),
then train the classifier on real, real + synthetic and synthetic only (the
last is train-on-synthetic, test-on-real) from one seed, and score each on the
whole held-out fold. Fidelity compares generated samples with one half of the
held-out fold; the real-vs-real baseline compares the other half with it.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from ..metrics import accuracy, balanced_accuracy
from .classifiers import build_classifier, class_scores
from .fidelity import fidelity

AUGMENTATION_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")


def synthetic_labels(y_train: np.ndarray, factor: float, class_balance: str) -> np.ndarray:
    """``round(factor * n)`` labels over the classes of ``y_train``: in its proportions
    (largest remainders) or in equal shares."""
    classes, counts = np.unique(y_train, return_counts=True)
    total = int(round(factor * len(y_train)))
    shares = counts / counts.sum() if class_balance == "proportional" else np.full(len(classes), 1 / len(classes))
    exact = shares * total
    n = np.floor(exact).astype(int)
    n[np.argsort(-(exact - n), kind="stable")[: total - n.sum()]] += 1
    return np.repeat(classes, n)


def scores(y_true: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> dict:
    """Accuracy, balanced accuracy, macro F1 over the classes in the test set, and the
    macro one-vs-rest ROC AUC over those of them the model knows."""
    present = np.unique(y_true)
    aucs = [roc_auc_score(y_true == c, probabilities[:, np.searchsorted(classes, c)])
            for c in present if c in classes and 0 < (y_true == c).sum() < len(y_true)]
    return {
        "accuracy": accuracy(y_true, predicted),
        "balanced_accuracy": balanced_accuracy(y_true, predicted),
        "macro_f1": float(f1_score(y_true, predicted, labels=present, average="macro", zero_division=0)),
        "roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
    }


def train_and_score(spec, X, y, groups, X_test, y_test, classes, device, random_state) -> tuple[dict, np.ndarray]:
    model = build_classifier(spec, device, random_state)
    started = time.perf_counter()
    model.fit(X, y, classes=np.arange(len(classes)), groups=groups)
    probabilities = class_scores(model, X_test)
    predicted = model.classes_[np.argmax(probabilities, axis=1)]
    row = {**scores(y_test, predicted, probabilities, model.classes_),
           "classifier_seconds": round(time.perf_counter() - started, 3), "epochs": model.n_epochs_}
    return row, probabilities


def generate_fidelity_candidates(generator, test_y: np.ndarray, second_half: np.ndarray, train_classes):
    """Labels of the second half whose class the generator saw, and as many samples."""
    labels = test_y[second_half][np.isin(test_y[second_half], train_classes)]
    return labels, generator.sample(labels)


def real_vs_real(X_test, y_test, halves, train_classes, seed: int, k: int) -> dict:
    first, second = halves
    second = second[np.isin(y_test[second], train_classes)]
    return fidelity(X_test[first], y_test[first], X_test[second], y_test[second], seed, k)
