"""Group-aware splits: k-fold, nested training fractions, holdouts and the
40/40/20 pretraining split. A group (study, donor or sample) never crosses sets."""

from __future__ import annotations

import numpy as np


class SplitError(ValueError):
    pass


def group_kfold(groups, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Assign each sample a fold in ``0..n_folds-1`` so that groups stay whole.

    Groups are taken in a seeded random order and each goes to the fold with the
    fewest samples so far, which balances folds by sample count (within one
    group's size) rather than by group count.
    """
    groups = np.asarray(groups)
    unique, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if len(unique) < n_folds:
        raise SplitError(
            f"{len(unique)} distinct groups cannot fill {n_folds} folds; lower split.folds "
            f"or split by a finer grouping"
        )
    order = rng.permutation(len(unique))
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    fold_sizes = np.zeros(n_folds, dtype=np.int64)
    for group in order:
        target = int(np.argmin(fold_sizes))
        fold_of_group[group] = target
        fold_sizes[target] += sizes[group]
    return fold_of_group[inverse]


def nested_subsets(n: int, fractions, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of nested random subsets of ``range(n)``, one per fraction.

    All subsets are prefixes of one permutation, so a smaller fraction's samples
    are always contained in a larger one's.
    """
    order = rng.permutation(n)
    subsets = []
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise SplitError(f"training fraction {fraction} is outside (0, 1]")
        size = max(1, int(round(fraction * n)))
        subsets.append(np.sort(order[:size]))
    return subsets


def group_holdout(groups, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into (kept, held_out) with about ``fraction`` of the
    samples held out, whole groups only. With a single group, falls back to samples."""
    groups = np.asarray(groups)
    unique, inverse = np.unique(groups, return_inverse=True)
    if len(unique) < 2:
        inverse = np.arange(len(groups))
        unique = inverse
    order = rng.permutation(len(unique))
    sizes = np.bincount(inverse, minlength=len(unique))
    held_groups, held = [], 0
    target = max(1, int(round(fraction * len(groups))))
    for group in order:
        if held >= target or len(held_groups) == len(unique) - 1:
            break
        held_groups.append(group)
        held += sizes[group]
    is_held = np.isin(inverse, held_groups)
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def pretraining_split(fold_of_sample, fold: int, n_folds: int = 5) -> dict[str, np.ndarray]:
    """The paper's 40/40/20 split from a 5-fold group assignment.

    Fold ``fold`` validates; the next two folds (cyclically) pretrain and the two
    after those train, so every group lands in exactly one set.
    """
    fold_of_sample = np.asarray(fold_of_sample)
    if n_folds != 5:
        raise SplitError("the 40/40/20 pretraining split needs exactly 5 folds")
    pretrain = {(fold + 1) % 5, (fold + 2) % 5}
    train = {(fold + 3) % 5, (fold + 4) % 5}
    return {
        "pretrain": np.flatnonzero(np.isin(fold_of_sample, list(pretrain))),
        "train": np.flatnonzero(np.isin(fold_of_sample, list(train))),
        "validation": np.flatnonzero(fold_of_sample == fold),
    }
