"""Signal removal end to end on small simulations: limma per set, down to the sets
each model is fitted and scored on, and the joint-removal control of the paper's
S1 Fig. Needs R and limma."""

from pathlib import Path

import pytest

from exprbench import rdata
from exprbench.classification import job as job_module
from exprbench.classification.job import FitJob
from exprbench.classification.tasks import build_manifest
from exprbench.config import resolve
from exprbench.sources import SOURCES
from exprbench.store import open_dataset, write_dataset

try:
    rdata.r_objects()
except rdata.RUnavailableError as err:
    pytest.skip(f"R is not usable from Python: {err}", allow_module_level=True)

MODEL_DIR = Path(__file__).resolve().parents[1] / "config" / "models"
# At lr 0.1 one epoch already fits the training part's class gap, so early stopping
# cannot hide a class gap that the training and validation sets share.
FAST_LR = {"params": {"learning_rate": 0.1, "weight_decay": 1e-4, "batch_size": 16, "max_epochs": 50, "patience": 7},
           "search": {"weight_decay": {"log_uniform": [1e-6, 1e-4]}}}


def run_simulation(tmp_path, params, model, signal_removal, tuning=None, model_update=None):
    """Metrics of fold 0 of a 2-fold, full-training-fraction job on a simulated dataset."""
    config = resolve({
        "model_dir": str(MODEL_DIR),
        "datasets": {"sim": {"source": "simulated", "params": params}},
        "defaults": {"split": {"folds": 2}, "train_fractions": [1.0], "seeds": [0],
                     "tuning": tuning or {"n_trials": 2, "inner_folds": 2}, "models": [model],
                     "signal_removal": [signal_removal]},
        "tasks": {"t": {"dataset": "sim", "label": "label", "kind": "binary"}},
    }, "test.yaml")
    path = tmp_path / f"sim-{'-'.join(f'{k}{v}' for k, v in sorted(params.items()))}.h5"
    if not path.exists():
        write_dataset(path, SOURCES.get("simulated")(**params).build())
    task, model_spec = config["tasks"]["t"], {**config["models"][model], **(model_update or {})}
    with open_dataset(path) as reader:
        manifest = build_manifest(reader, task)
    metrics, _ = FitJob(task=task, manifest=manifest, model=model_spec, signal_removal=signal_removal,
                        seed=0, fold=0, dataset="sim", device="cpu").run()
    return metrics.iloc[0]


def test_inner_cv_scores_under_limma_are_at_chance_on_a_linear_simulation(tmp_path, monkeypatch):
    # Correcting the training set as a whole and then cutting inner folds out of it
    # anti-correlates inner train and validation: scores fell to about 0.3.
    scores = []

    def recording_search(*args, **kwargs):
        best, trials = search(*args, **kwargs)
        scores.extend(trial["score"] for trial in trials)
        return best, trials

    search = job_module.nested_search
    monkeypatch.setattr(job_module, "nested_search", recording_search)
    row = run_simulation(tmp_path, {"n_samples": 200, "n_linear": 50, "n_nonlinear": 0}, "logistic_regression",
                         "limma", tuning={"n_trials": 3, "inner_folds": 3}, model_update=FAST_LR)
    assert len(scores) == 3
    assert abs(sum(scores) / len(scores) - 0.5) <= 0.1, scores
    assert abs(row["balanced_accuracy"] - 0.5) <= 0.15


def test_fig4_only_the_mlp_keeps_signal_after_limma(tmp_path):
    params = {"n_samples": 160, "n_linear": 20, "n_nonlinear": 20}
    full = {model: run_simulation(tmp_path, params, model, "none")["balanced_accuracy"]
            for model in ("logistic_regression", "linear_svm", "mlp3")}
    removed = {model: run_simulation(tmp_path, params, model, "limma")["balanced_accuracy"]
               for model in ("logistic_regression", "linear_svm", "mlp3")}
    assert all(score >= 0.9 for score in full.values()), full
    assert abs(removed["logistic_regression"] - 0.5) <= 0.15, removed
    assert abs(removed["linear_svm"] - 0.5) <= 0.15, removed
    assert removed["mlp3"] >= 0.7, removed


def test_joint_removal_injects_signal_into_noise(tmp_path):
    # The paper's S1 Fig control: one correction over train and validation together
    # leaves their class gaps opposite, so a linear model lands far from chance.
    params = {"n_samples": 160, "n_linear": 0, "n_nonlinear": 0, "n_noise": 400}
    joint = run_simulation(tmp_path, params, "logistic_regression", "limma_joint", model_update=FAST_LR)
    separate = run_simulation(tmp_path, params, "logistic_regression", "limma", model_update=FAST_LR)
    assert abs(joint["balanced_accuracy"] - 0.5) >= 0.25, joint["balanced_accuracy"]
    assert abs(separate["balanced_accuracy"] - 0.5) <= 0.15, separate["balanced_accuracy"]
    assert joint["signal_removal"] == "limma_joint"
