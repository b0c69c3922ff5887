"""Base for methods trained on simulated measurements of the training samples."""

from __future__ import annotations

import numpy as np

from ...seeding import make_rng
from ..measurement import observe
from ._base import RecoveryMethod


class MeasurementTrained(RecoveryMethod):
    """``fit_measurements(A, snr)`` simulates Y_train = A (X_train + N) with the job's
    A and SNR and trains on it; ``recover`` only accepts that same A."""

    def training_measurements(self, A: np.ndarray, snr: float) -> np.ndarray:
        rng = make_rng(self.random_state, "training measurements", A.shape[0])
        return observe(self.train_, A, snr, rng)

    def check_measurement_matrix(self, A: np.ndarray) -> None:
        fitted = getattr(self, "measurement_matrix_", None)
        if fitted is None or fitted.shape != A.shape or not np.array_equal(fitted, A):
            raise ValueError(f"{self.name}: call fit_measurements(A, snr) with this measurement matrix before recover")
