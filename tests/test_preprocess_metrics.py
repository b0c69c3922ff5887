import numpy as np
import pytest

from exprbench.metrics import accuracy, balanced_accuracy, majority_baseline
from exprbench.preprocess import GenePreprocessor


def test_top_genes_and_scaling_use_fit_data_only():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((50, 6)).astype(np.float32) * np.array([1, 5, 1, 9, 1, 1], dtype=np.float32)
    prep = GenePreprocessor(top_genes=2, scaling="standard").fit(train)
    np.testing.assert_array_equal(prep.genes_, [1, 3])
    out = prep.transform(train)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-5)
    shifted = prep.transform(train + 100)
    assert shifted.mean() > 10, "validation data is scaled with training statistics, not its own"


def test_minmax_and_constant_genes():
    X = np.array([[0, 5], [2, 5], [4, 5]], dtype=np.float32)
    out = GenePreprocessor(scaling="minmax").fit_transform(X)
    np.testing.assert_allclose(out[:, 0], [0, 0.5, 1])
    np.testing.assert_allclose(out[:, 1], 0)
    with pytest.raises(ValueError, match="scaling"):
        GenePreprocessor(scaling="zscore").fit(X)


def test_balanced_accuracy_matches_paper_example():
    # 9 of class A, 1 of class B; 8 A right and the B wrong: accuracy .8, balanced .44
    y_true = np.array([0] * 9 + [1])
    y_pred = np.array([0] * 8 + [1] + [0])
    assert accuracy(y_true, y_pred) == pytest.approx(0.8)
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(8 / 9 / 2)


def test_majority_baseline():
    assert majority_baseline([1, 1, 0], [0, 1, 1, 2]) == pytest.approx(1 / 3)


def test_log2_is_applied_before_selection_and_scaling():
    X = np.array([[0, 1], [3, 7], [15, 1]], dtype=np.float32)
    prep = GenePreprocessor(log2=True, scaling="none").fit(X)
    np.testing.assert_allclose(prep.transform(X), np.log2(X + 1))
    with pytest.raises(ValueError, match="log2 needs non-negative"):
        GenePreprocessor(log2=True).fit(-X)
