"""Self-supervised pretrainers: one module per method, discovered automatically.

Each is a scikit-learn estimator with ``fit(X, X_val=None)`` on a standardised
float32 matrix and ``transform(X)`` giving the encoder output. After ``fit`` the
pretrained encoder is ``encoder_`` (on CPU, eval mode); its ``state_dict()``
initialises ``exprbench.ssl.finetune.FineTuner``. Modules whose name starts with
``_`` are helpers.
"""

from __future__ import annotations

from ...registry import Registry

SSL_METHODS = Registry("ssl method", __name__)


def register(cls):
    """Class decorator adding a pretrainer to the registry under ``cls.name``."""
    SSL_METHODS.register(cls)
    return cls
