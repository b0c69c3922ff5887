import numpy as np
import pytest

from exprbench.splits import SplitError, group_holdout, group_kfold, nested_subsets, pretraining_split


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("seed", range(5))
def test_groups_never_cross_folds(seed):
    groups = np.random.default_rng(seed).integers(0, 17, size=300)
    folds = group_kfold(groups, 5, rng(seed))
    for group in np.unique(groups):
        assert len(np.unique(folds[groups == group])) == 1
    assert set(folds) == set(range(5))


def test_folds_are_balanced_by_samples_and_seeded():
    groups = np.repeat(np.arange(20), np.arange(1, 21))
    folds = group_kfold(groups, 4, rng(1))
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 20
    np.testing.assert_array_equal(folds, group_kfold(groups, 4, rng(1)))
    assert not np.array_equal(folds, group_kfold(groups, 4, rng(2)))


def test_sample_wise_split_is_round_robin_sized():
    folds = group_kfold(np.arange(10), 3, rng())
    assert sorted(np.bincount(folds)) == [3, 3, 4]


def test_too_few_groups_is_a_clear_error():
    with pytest.raises(SplitError, match="2 distinct groups cannot fill 3 folds"):
        group_kfold(["a", "b", "a"], 3, rng())


def test_training_fractions_are_nested():
    subsets = nested_subsets(50, [0.1, 0.5, 1.0], rng())
    assert [len(s) for s in subsets] == [5, 25, 50]
    assert set(subsets[0]) <= set(subsets[1]) <= set(subsets[2])
    with pytest.raises(SplitError):
        nested_subsets(10, [0.0], rng())


def test_holdout_keeps_groups_whole():
    groups = np.repeat(np.arange(10), 5)
    kept, held = group_holdout(groups, 0.2, rng())
    assert set(groups[kept]).isdisjoint(groups[held])
    assert len(held) == 10
    kept, held = group_holdout(np.zeros(10), 0.2, rng())
    assert len(held) == 2, "a single group falls back to a sample-wise holdout"


def test_pretraining_split_is_40_40_20_and_disjoint():
    groups = np.arange(100)
    folds = group_kfold(groups, 5, rng())
    for fold in range(5):
        parts = pretraining_split(folds, fold)
        assert [len(parts[k]) for k in ("pretrain", "train", "validation")] == [40, 40, 20]
        assert len(np.unique(np.concatenate(list(parts.values())))) == 100
