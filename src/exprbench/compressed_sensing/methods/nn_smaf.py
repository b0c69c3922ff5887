"""SMAF recovery refined by an MLP (the 2019 study's "SMAF + NN" stack).

As in the study, the network (genes - 500 - 500 - 500 - genes, ReLU, linear
output) maps SMAF's recovery of simulated training measurements to the true
training expression; at test time it is applied to SMAF's recovery of Y. SMAF's
training recoveries are in-sample for its dictionary, as in the study.
"""

from __future__ import annotations

from ...params import at_least
from . import register
from ._base import check_expression
from ._measured import MLP_CONSTRAINTS, MLP_TEST_PARAMS, MeasurementTrained
from .smaf import SMAF


@register
class SMAFThenMLP(MeasurementTrained):
    """``smaf`` holds SMAF's parameters (null = SMAF's defaults); ``sparsity`` is its decoding k."""

    name = "nn_smaf"
    _parameter_constraints = {**MLP_CONSTRAINTS, "smaf": [dict, None], "sparsity": [at_least(1)]}
    _test_params = {**MLP_TEST_PARAMS, "smaf": {"n_components": 4, "n_iter": 2}, "sparsity": 2}

    def __init__(self, smaf=None, sparsity=15, hidden_sizes=(500, 500, 500), learning_rates=(1e-3, 1e-2),
                 l2_values=(0.0, 1e-2, 1.0), max_epochs=200, batch_size=None, validation_fraction=0.2, device="auto",
                 random_state=0):
        self.smaf = smaf
        self.sparsity = sparsity
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
        params = {"random_state": self.random_state, **(self.smaf or {}), "sparsity": self.sparsity}
        self.smaf_ = SMAF(**params).fit(self.train_)
        self.dictionary_ = self.smaf_.dictionary_
        self.n_iter_ = self.smaf_.n_iter_
        return self

    def fit_measurements(self, A, snr):
        return self.fit_regressor(self.smaf_.recover(self.training_measurements(A, snr), A), A)

    def recover(self, Y, A):
        self.check_measurement_matrix(A)
        return self.regressor_.predict(self.smaf_.recover(Y, A))
