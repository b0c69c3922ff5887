"""MLP from composite measurements to expression (the 2019 study's NN baseline)."""

from __future__ import annotations

from ...seeding import derive_seed
from . import register
from ._base import check_expression
from ._measured import MeasurementTrained
from ._mlp import TunedRegressor
from ...devices import resolve_device


@register
class MeasurementMLP(MeasurementTrained):
    """Trained per measurement matrix on simulated training measurements, MSE loss,
    (lr, l2) from a validation split. Defaults: the study's selected lr 1e-3 and L2 1.0
    are in the grid; hidden sizes follow its stacked network (500-500-500)."""

    name = "nn"

    def __init__(self, hidden_sizes=(500, 500, 500), learning_rates=(1e-3, 1e-2), l2_values=(0.1, 1.0), epochs=200,
                 batch_size=None, validation_fraction=0.2, device="auto", random_state=0):
        self.hidden_sizes = hidden_sizes
        self.learning_rates = learning_rates
        self.l2_values = l2_values
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def fit(self, X, y=None):
        self.train_ = check_expression(X)
        self.n_iter_ = self.epochs
        return self

    def fit_measurements(self, A, snr):
        Y = self.training_measurements(A, snr)
        self.regressor_ = TunedRegressor(self.hidden_sizes, self.learning_rates, self.l2_values, self.epochs,
                                         self.batch_size, self.validation_fraction,
                                         derive_seed(self.random_state, "nn", A.shape[0]),
                                         resolve_device(self.device)).fit(Y, self.train_, f"nn d={A.shape[0]}")
        self.measurement_matrix_ = A.copy()
        return self

    def recover(self, Y, A):
        self.check_measurement_matrix(A)
        return self.regressor_.predict(Y)
