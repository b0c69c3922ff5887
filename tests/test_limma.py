"""limma.removeBatchEffect through rpy2, checked against the closed form in numpy."""

import numpy as np
import pytest

from exprbench import rdata
from exprbench.limma import limma_available, remove_batch_effect

try:
    rdata.r_objects()
except rdata.RUnavailableError as err:
    pytest.skip(f"R is not usable from Python: {err}", allow_module_level=True)


def _recentred(expression: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Each batch's gene means moved to the unweighted mean of the batch means."""
    x = expression.astype(np.float64)
    levels, codes = np.unique(batch, return_inverse=True)
    batch_means = np.stack([x[codes == k].mean(axis=0) for k in range(len(levels))])
    return x - batch_means[codes] + batch_means.mean(axis=0)


def test_limma_is_reported_available():
    available, version = limma_available()
    assert available, version
    assert version[0].isdigit()


def test_matches_recentring_on_unbalanced_batches():
    rng = np.random.default_rng(7)
    batch = np.array(["a"] * 3 + ["b"] * 7 + ["c"] * 12)
    shifts = {"a": 2.0, "b": -1.0, "c": 0.5}
    expression = rng.normal(5.0, 1.0, size=(batch.size, 40)).astype(np.float32)
    expression += np.array([shifts[b] for b in batch], dtype=np.float32)[:, None]

    corrected = remove_batch_effect(expression, batch)

    assert corrected.shape == expression.shape
    assert corrected.dtype == np.float32
    np.testing.assert_allclose(corrected, _recentred(expression, batch), atol=1e-5)
    batch_means = [corrected[batch == b].mean(axis=0) for b in shifts]
    np.testing.assert_allclose(batch_means[0], batch_means[1], atol=1e-4)
    np.testing.assert_allclose(batch_means[0], batch_means[2], atol=1e-4)


def test_integer_batch_labels_are_accepted():
    rng = np.random.default_rng(1)
    batch = np.array([1, 1, 2, 2, 2, 3])
    expression = rng.standard_normal((6, 5))
    np.testing.assert_allclose(remove_batch_effect(expression, batch), _recentred(expression, batch), atol=1e-5)


def test_single_batch_is_a_no_op():
    expression = np.arange(12, dtype=np.float32).reshape(4, 3)
    corrected = remove_batch_effect(expression, ["only"] * 4)
    np.testing.assert_array_equal(corrected, expression)
    assert corrected is not expression


@pytest.mark.parametrize(
    ("expression", "batch", "message"),
    [
        (np.zeros((4, 3)), ["a", "b", "a"], "3 labels for 4 samples"),
        (np.zeros((1, 3)), ["a"], "at least 2 samples"),
        (np.zeros((4, 3)), ["a", None, "b", "b"], "missing for 1 of 4"),
        (np.zeros((4, 3)), ["a", "b", np.nan, ""], "missing for 2 of 4"),
        (np.zeros(4), ["a", "a", "b", "b"], "samples x genes"),
        (np.zeros((4, 3)), [["a", "b"], ["a", "b"]], "1-D"),
        (np.full((2, 2), "x"), ["a", "b"], "numeric"),
    ],
)
def test_bad_inputs_are_rejected(expression, batch, message):
    with pytest.raises(ValueError, match=message):
        remove_batch_effect(expression, batch)
