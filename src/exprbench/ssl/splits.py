"""Sample splits of the self-supervised protocol.

A dataset's labeled samples are divided, stratified by class, into a pretraining
part and a downstream part; unlabeled samples always go to pretraining. The
downstream part splits, again stratified, into test and a training pool, and the
training pool gives nested stratified subsets, one per fine-tuning proportion p.
Each p-subset is the labeled budget at p: a stratified part of it is the
early-stopping set, the rest is fitted (``fit_and_stop_subsets``), so the
early-stopping set grows with p and never touches the test set. The reference code
splits with ``train_test_split`` and keeps the first ``round(n_c * p)`` samples of
each class; here the pretraining and test splits allocate counts by largest
remainder, so the totals match the fractions even for small classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def stratified_take(labels, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Positions (sorted) of about ``fraction`` of the samples, stratified by label.

    The total is ``round(fraction * n)``; classes get ``floor(n_c * fraction)`` each and
    the remainder goes to the classes with the largest fractional parts (ties in a
    seeded random order). Within a class the samples are a seeded random choice.
    """
    labels = np.asarray(labels)
    if not 0 <= fraction <= 1:
        raise ValueError(f"split fraction {fraction} is outside [0, 1]")
    classes, codes = np.unique(labels, return_inverse=True)
    sizes = np.bincount(codes, minlength=len(classes))
    exact = sizes * fraction
    counts = np.floor(exact).astype(int)
    left = int(round(fraction * len(labels))) - counts.sum()
    if left > 0:
        tie_break = rng.permutation(len(classes))
        order = np.lexsort((tie_break, -(exact - counts)))
        counts[order[:left]] += 1
    taken = [rng.permutation(np.flatnonzero(codes == c))[: counts[c]] for c in range(len(classes))]
    return np.sort(np.concatenate(taken)) if taken else np.array([], dtype=np.int64)


def _class_orders(labels, rng: np.random.Generator) -> list[np.ndarray]:
    """Positions of each class (sorted class order), each shuffled once by ``rng``."""
    classes, codes = np.unique(np.asarray(labels), return_inverse=True)
    return [rng.permutation(np.flatnonzero(codes == c)) for c in range(len(classes))]


def _subset_size(n_class: int, p: float, min_per_class: int) -> int:
    if not 0 < p <= 1:
        raise ValueError(f"fine-tuning proportion {p} is outside (0, 1]")
    return min(n_class, max(min_per_class, int(round(n_class * p))))


def early_stopping_count(n_subset: int, fraction: float, min_count: int) -> int:
    """Early-stopping samples taken from one class's ``n_subset`` samples of a p-subset:
    ``round(n_subset * fraction)``, at least ``min_count``, always leaving one to fit."""
    return max(0, min(n_subset - 1, max(min_count, int(round(n_subset * fraction)))))


def fit_and_stop_subsets(labels, proportions, rng: np.random.Generator, stop_fraction: float,
                         stop_min_per_class: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitted positions, early-stopping positions) per proportion p.

    Each class is shuffled once; the p-subset (fitted + early-stopping) keeps its first
    ``round(n_c * p)`` samples, at least ``1 + stop_min_per_class`` where the class has
    them (so every class is both fitted and monitored), so subsets are stratified and
    nested across p. A new ``rng`` gives a new shuffle (a new repeat). Per class, the
    first ``early_stopping_count`` samples of the subset stop, the others are fitted:
    the early-stopping set scales with p.
    """
    if not 0 <= stop_fraction < 1:
        raise ValueError(f"early-stopping fraction {stop_fraction} is outside [0, 1)")
    orders = _class_orders(labels, rng)
    pairs = []
    for p in proportions:
        fitted, stopping = [], []
        for order in orders:
            chosen = order[: _subset_size(len(order), p, 1 + int(stop_min_per_class))]
            n_stop = early_stopping_count(len(chosen), stop_fraction, int(stop_min_per_class))
            stopping.append(chosen[:n_stop])
            fitted.append(chosen[n_stop:])
        pairs.append((np.sort(np.concatenate(fitted)), np.sort(np.concatenate(stopping)).astype(np.int64)))
    return pairs


def random_take(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Positions (sorted) of ``round(fraction * n)`` samples drawn at random."""
    return np.sort(rng.permutation(n)[: int(round(fraction * n))])


@dataclass
class DownstreamSplit:
    """Row positions (into the labeled downstream samples) of each part."""

    train_pool: np.ndarray
    test: np.ndarray


def downstream_split(labels, test_fraction: float, rng: np.random.Generator) -> DownstreamSplit:
    """Stratified test part; the rest is the training pool the p-subsets (fitted and
    early-stopping samples) are drawn from."""
    labels = np.asarray(labels)
    test = stratified_take(labels, test_fraction, rng)
    return DownstreamSplit(train_pool=np.setdiff1d(np.arange(len(labels)), test), test=test)
