"""Sample splits of the self-supervised protocol.

A dataset's labeled samples are divided, stratified by class, into a pretraining
part and a downstream part; unlabeled samples always go to pretraining. The
downstream part splits, again stratified, into test, validation and a training
pool, and the training pool gives nested stratified subsets, one per fine-tuning
proportion p. The reference code splits with ``train_test_split`` and keeps the
first ``round(n_c * p)`` samples of each class; here every split allocates counts
by largest remainder, so the totals match the fractions even for small classes.
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


def nested_stratified_subsets(labels, proportions, rng: np.random.Generator, min_per_class: int = 1) -> list[np.ndarray]:
    """Positions of one training subset per proportion p, nested across p.

    Each class is shuffled once; subset p keeps its first ``round(n_c * p)`` samples
    (at least ``min_per_class``, at most ``n_c``), so a smaller p's subset is always
    inside a larger one's. A new ``rng`` gives a new shuffle (a new repeat).
    """
    labels = np.asarray(labels)
    classes, codes = np.unique(labels, return_inverse=True)
    orders = [rng.permutation(np.flatnonzero(codes == c)) for c in range(len(classes))]
    subsets = []
    for p in proportions:
        if not 0 < p <= 1:
            raise ValueError(f"fine-tuning proportion {p} is outside (0, 1]")
        parts = [order[: min(len(order), max(min_per_class, int(round(len(order) * p))))] for order in orders]
        subsets.append(np.sort(np.concatenate(parts)))
    return subsets


def random_take(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Positions (sorted) of ``round(fraction * n)`` samples drawn at random."""
    return np.sort(rng.permutation(n)[: int(round(fraction * n))])


@dataclass
class DownstreamSplit:
    """Row positions (into the labeled downstream samples) of each part."""

    train_pool: np.ndarray
    val: np.ndarray
    test: np.ndarray


def downstream_split(labels, test_fraction: float, val_fraction: float, rng: np.random.Generator) -> DownstreamSplit:
    """Stratified test part, then a stratified validation part of what remains; the
    rest is the training pool the p-subsets are drawn from."""
    labels = np.asarray(labels)
    everything = np.arange(len(labels))
    test = stratified_take(labels, test_fraction, rng)
    rest = np.setdiff1d(everything, test)
    val = rest[stratified_take(labels[rest], val_fraction, rng)]
    train_pool = np.setdiff1d(rest, val)
    return DownstreamSplit(train_pool=train_pool, val=val, test=test)
