"""What every inference model shares for the estimator contract (exprbench.params):
a tiny landmark -> target problem and the predictions compared between fits."""

from __future__ import annotations

import numpy as np

from ...params import BOOLEAN, DEVICE, SEED, Real, StrOptions, at_least, between, positive

# A penalty or loss weight.
WEIGHT = at_least(0, Real)
# The neural models' training settings.
TRAINING_CONSTRAINTS = {
    "learning_rate": [positive()],
    "weight_decay": [at_least(0, Real)],
    "max_epochs": [at_least(1)],
    "batch_size": [at_least(1)],
    "device": [DEVICE],
    "random_state": [SEED],
    "verbose": [BOOLEAN],
}
# The dense base network (dense.py) and the multitask models built on it.
DENSE_CONSTRAINTS = {
    **TRAINING_CONSTRAINTS,
    "hidden_sizes": [list, tuple],
    "architecture": [StrOptions({"dense", "mlp"})],
    "negative_slope": [at_least(0, Real)],
    "dropout": [between(0, 1, closed="left")],
    "reg_loss": [StrOptions({"l1", "l2"})],
}
DENSE_TEST_PARAMS = {"hidden_sizes": [8, 8], "max_epochs": 2, "batch_size": 16, "device": "cpu"}


class InferenceContract:
    @classmethod
    def _test_data(cls, rng):
        X = rng.normal(size=(80, 6)).astype(np.float32)
        Y = (X @ rng.normal(size=(6, 4)) + 0.1 * rng.normal(size=(80, 4))).astype(np.float32)
        return (X[:60], Y[:60]), {"validation": (X[60:], Y[60:])}

    def _test_outputs(self, data):
        (X, _), _ = data
        return self.predict(X)
