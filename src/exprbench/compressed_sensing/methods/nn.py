"""MLP from composite measurements to expression (the 2019 study's NN baseline)."""

from __future__ import annotations

from . import register
from ._base import check_expression
from ._measured import MLP_CONSTRAINTS, MLP_TEST_PARAMS, MeasurementTrained


@register
class MeasurementMLP(MeasurementTrained):
    """Trained per measurement matrix on simulated training measurements, MSE loss,
    (lr, l2) from a validation split. The study's lr 1e-3 is in the grid. Its L2 1.0
    is too, but the study does not say how its penalty was scaled; here it is
    ``l2 * mean(w^2)`` (``_mlp``), and the grid also holds 0 and 0.01. Hidden sizes
    follow the study's stacked network (500-500-500)."""

    name = "nn"
    _parameter_constraints = MLP_CONSTRAINTS
    _test_params = MLP_TEST_PARAMS

    def __init__(self, hidden_sizes=(500, 500, 500), learning_rates=(1e-3, 1e-2), l2_values=(0.0, 1e-2, 1.0),
                 max_epochs=200, batch_size=None, validation_fraction=0.2, device="auto", random_state=0):
        self.hidden_sizes = hidden_sizes
        self.learning_rates = learning_rates
        self.l2_values = l2_values
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def fit(self, X, y=None):
        self.train_ = check_expression(X)
        self.n_iter_ = self.max_epochs
        return self

    def fit_measurements(self, A, snr):
        return self.fit_regressor(self.training_measurements(A, snr), A)

    def recover(self, Y, A):
        self.check_measurement_matrix(A)
        return self.regressor_.predict(Y)
