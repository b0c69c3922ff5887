"""Base for methods trained on simulated measurements of the training samples."""

from __future__ import annotations

import numpy as np

from ...devices import resolve_device
from ...params import DEVICE, SEED, at_least, between
from ...seeding import derive_seed, make_rng
from ..measurement import observe
from ._base import RecoveryMethod
from ._mlp import TunedRegressor

# The measurement MLP's settings (nn and nn_smaf).
MLP_CONSTRAINTS = {
    "hidden_sizes": [list, tuple], "learning_rates": [list, tuple], "l2_values": [list, tuple],
    "max_epochs": [at_least(1)], "batch_size": [at_least(1), None],  # null: full batch
    "validation_fraction": [between(0, 1, closed="left")], "device": [DEVICE], "random_state": [SEED],
}
MLP_TEST_PARAMS = {"hidden_sizes": [8], "learning_rates": [1e-3], "l2_values": [0.0], "max_epochs": 2, "device": "cpu"}


class MeasurementTrained(RecoveryMethod):
    """``fit_measurements(A, snr)`` simulates Y_train = A (X_train + N) with the job's
    A and SNR and trains on it; ``recover`` only accepts that same A."""

    def training_measurements(self, A: np.ndarray, snr: float) -> np.ndarray:
        rng = make_rng(self.random_state, "training measurements", A.shape[0])
        return observe(self.train_, A, snr, rng)

    def fit_regressor(self, inputs: np.ndarray, A: np.ndarray):
        """Tune and train the MLP from ``inputs`` (one row per training sample) to expression."""
        self.regressor_ = TunedRegressor(self.hidden_sizes, self.learning_rates, self.l2_values, self.max_epochs,
                                         self.batch_size, self.validation_fraction,
                                         derive_seed(self.random_state, self.name, A.shape[0]),
                                         resolve_device(self.device)).fit(inputs, self.train_,
                                                                         f"{self.name} d={A.shape[0]}")
        self.measurement_matrix_ = A.copy()
        return self

    def check_measurement_matrix(self, A: np.ndarray) -> None:
        fitted = getattr(self, "measurement_matrix_", None)
        if fitted is None or fitted.shape != A.shape or not np.array_equal(fitted, A):
            raise ValueError(f"{self.name}: call fit_measurements(A, snr) with this measurement matrix before recover")
