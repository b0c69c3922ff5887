"""The MLflow tracker: a tiny run logged through the Tracker interface and read back
with MLflow's own client, and the config defaults that point it inside the results folder."""

import os

import numpy as np
import pytest
import yaml

from exprbench import config as exprbench_config
from exprbench.tracking import MlflowTracker, make_tracker

mlflow_tracking = pytest.importorskip("mlflow.tracking",
                                      reason="mlflow is an optional extra: pip install 'exprbench[mlflow]'")


def test_a_tiny_run_reads_back_with_mlflows_client(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    spec = {"backend": "mlflow", "tracking_uri": "results/mlruns", "experiment": "exprbench"}
    with make_tracker(spec, run_name="sim-mlp3-none-s0-f0-0.5", tags=["sim", "mlp3"]) as tracker:
        assert isinstance(tracker, MlflowTracker)
        tracker.log_params({"lr": 0.01, "hidden": [64, 32], "seed": np.int64(3), "pair": None})
        for epoch, (train_loss, val_loss) in enumerate([(1.0, 1.2), (np.float32(0.5), 0.9), (0.25, 0.8)]):
            tracker.log_epoch(epoch, train_loss=train_loss, val_loss=val_loss)
        tracker.log_summary(balanced_accuracy=np.float64(0.75))
    tracker.close()  # a second close is harmless

    store = tmp_path / "results" / "mlruns"
    assert store.is_dir(), "a relative tracking_uri is a folder under the working directory"
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ, "the file-store opt-in lasts only as long as the run"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow_tracking.MlflowClient(store.as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("exprbench").experiment_id])
    assert run.info.run_name == "sim-mlp3-none-s0-f0-0.5" and run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.01", "hidden": "[64, 32]", "seed": "3", "pair": "None"}
    assert run.data.tags["exprbench.tags"] == "sim,mlp3"
    history = client.get_metric_history(run.info.run_id, "train/train_loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert [m.value for m in client.get_metric_history(run.info.run_id, "train/val_loss")] == [1.2, 0.9, 0.8]
    assert run.data.metrics["summary/balanced_accuracy"] == 0.75


def test_a_failure_inside_the_block_marks_the_run_failed(tmp_path):
    spec = {"backend": "mlflow", "tracking_uri": str(tmp_path / "mlruns")}
    with pytest.raises(RuntimeError, match="diverged"):
        with make_tracker(spec, run_name="job") as tracker:
            raise RuntimeError("diverged")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        assert tracker.client.get_run(tracker.run_id).info.status == "FAILED"


def test_config_defaults_the_store_into_the_results_folder(tmp_path):
    raw = {"results_dir": "results/gtex", "tracker": {"backend": "mlflow"},
           "datasets": {"sim": {"source": "simulated"}},
           "tasks": {"t": {"dataset": "sim", "label": "label", "kind": "binary", "models": ["logistic_regression"]}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    tracker = exprbench_config.load(path)["tracker"]
    assert tracker == {"backend": "mlflow", "tracking_uri": "results/gtex/mlruns", "experiment": "exprbench"}


def test_a_key_of_another_backend_names_the_key(tmp_path):
    raw = {"tracker": {"backend": "mlflow", "mode": "offline"}, "datasets": {"sim": {"source": "simulated"}},
           "tasks": {"t": {"dataset": "sim", "label": "label", "kind": "binary", "models": ["logistic_regression"]}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(exprbench_config.ConfigError, match=r"c.yaml: tracker.mode: not read by backend 'mlflow'"):
        exprbench_config.load(path)
