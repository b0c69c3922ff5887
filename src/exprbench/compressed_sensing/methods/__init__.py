"""Recovery methods: one module per method, discovered automatically.

Contract (scikit-learn style, samples x genes):
- ``fit(X_train)`` learns from the training expression and returns self;
  dictionary methods set ``dictionary_`` (genes x modules).
- ``fit_measurements(A, snr)`` is called by the job once per measurement matrix
  before ``recover``; methods that learn from measurements (NN, NN+SMAF) simulate
  training measurements there with the same A and SNR, the others do nothing.
- ``recover(Y, A)`` returns the recovered expression (samples x genes) from
  observations Y (samples x measurements) and A (measurements x genes).
- ``n_iter_`` records the iterations the fit ran (0 for closed forms).
"""

from __future__ import annotations

from ...registry import Registry

METHODS = Registry("compressed sensing method", __name__)


def register(cls):
    """Class decorator adding a method to the registry under ``cls.name``."""
    METHODS.register(cls)
    return cls
