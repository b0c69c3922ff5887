"""The classifiers of the augmentation protocol.

``mlp2`` is the abstract's two-layer MLP: one hidden layer of ``hidden_size`` (128)
ReLU units with dropout, then the class layer. Any other name is a model of the
classification family (a file in ``config/models``, e.g. ``mlp3`` or
``logistic_regression``), trained the same way: Adam, class-weighted loss, early
stopping on a holdout of the (augmented) training set.
"""

from __future__ import annotations

import importlib

import numpy as np

# Where the classification family keeps its models: the one line to change if they move.
CLASSIFICATION_MODELS = "exprbench.classification.models"
BUILTIN = "mlp2"
# The two-layer MLP's training settings where the abstract is silent.
MLP2_PARAMS = {"learning_rate": 1e-3, "weight_decay": 1e-5, "batch_size": 32, "max_epochs": 100, "patience": 10,
               "clip_grad_norm": 1.0}


def model_registry():
    return importlib.import_module(CLASSIFICATION_MODELS).MODELS


def _torch_classifier():
    return importlib.import_module(f"{CLASSIFICATION_MODELS}._torch").TorchClassifier


def _two_layer_mlp():
    import torch

    class TwoLayerMLP(_torch_classifier()):
        name = BUILTIN
        is_linear = False

        def __init__(self, hidden_size: int = 128, dropout: float = 0.3, **params):
            super().__init__(**params)
            self.hidden_size = hidden_size
            self.dropout = dropout

        @classmethod
        def _get_param_names(cls):
            return sorted({"hidden_size", "dropout", *_torch_classifier()._get_param_names()})

        def build_network(self, n_features, n_classes):
            return torch.nn.Sequential(torch.nn.Linear(n_features, self.hidden_size), torch.nn.ReLU(),
                                       torch.nn.Dropout(self.dropout), torch.nn.Linear(self.hidden_size, n_classes))

    return TwoLayerMLP


def settable_params(estimator: str) -> list[str]:
    cls = _two_layer_mlp() if estimator == BUILTIN else model_registry().get(estimator)
    return sorted(set(cls().get_params()) - {"device", "random_state"})


def build_classifier(spec: dict, device: str, random_state: int):
    """``spec``: {"estimator": name, "params": {...}} from the experiment's classifier."""
    if spec["estimator"] == BUILTIN:
        return _two_layer_mlp()(**{**MLP2_PARAMS, **spec["params"]}, device=device, random_state=random_state)
    cls = model_registry().get(spec["estimator"])
    return cls(**spec["params"], device=device, random_state=random_state)


def class_scores(model, X) -> np.ndarray:
    """Softmax of the classifier's outputs: one column per class of ``model.classes_``."""
    logits = model.decision_function(X)
    logits = logits - logits.max(axis=1, keepdims=True)
    scores = np.exp(logits)
    return scores / scores.sum(axis=1, keepdims=True)
