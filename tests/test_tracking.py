import json
import os
import sys

import numpy as np
import pytest

from exprbench.tracking import (
    NEPTUNE_MODES,
    TRACKER_BACKENDS,
    NeptuneTracker,
    NullTracker,
    Tracker,
    make_tracker,
)

TOKEN_SENTINEL = "sentinel-token-7f3a9c1e-must-not-leak"


def neptune_or_skip():
    return pytest.importorskip("neptune", reason="neptune is an optional extra: pip install 'exprbench[neptune]'")


def offline_operations(data_dir):
    """(path, operation type) pairs from neptune's offline operation logs."""
    operations = []
    for log in sorted(data_dir.glob("offline/*/data-*.log")):
        for line in log.read_text().splitlines():
            operation = json.loads(line)["obj"]
            operations.append(("/".join(operation["path"]), operation["type"]))
    return operations


def test_backends_and_modes_are_exported():
    assert TRACKER_BACKENDS == ("none", "mlflow", "neptune")
    assert NEPTUNE_MODES == ("offline", "async", "debug")


@pytest.mark.parametrize("spec", [None, {}, {"backend": "none"}])
def test_default_tracker_is_null(spec):
    assert isinstance(make_tracker(spec, run_name="job"), NullTracker)


def test_null_tracker_accepts_every_call_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with make_tracker(None, run_name="job", tags=["mlp3"]) as tracker:
        assert isinstance(tracker, Tracker)
        tracker.log_params({"lr": 0.01, "layers": [64, 32]})
        tracker.log_epoch(0, train_loss=1.0, val_loss=1.2)
        tracker.log_summary(val_auc=0.8)
    tracker.close()
    assert list(tmp_path.iterdir()) == []


def test_unknown_backend_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"'wandb'.*allowed: none, mlflow, neptune"):
        make_tracker({"backend": "wandb"}, run_name="job")


@pytest.mark.parametrize("mode", ["sync", "read-only", "online"])
def test_unknown_neptune_mode_names_the_allowed_ones(mode):
    with pytest.raises(ValueError, match=rf"'{mode}'.*allowed: offline, async, debug"):
        make_tracker({"backend": "neptune", "mode": mode}, run_name="job")


def test_token_in_config_is_rejected_with_the_variable_name():
    with pytest.raises(ValueError, match="NEPTUNE_API_TOKEN"):
        make_tracker({"backend": "neptune", "mode": "async", "api_token": "x"}, run_name="job")


def test_unknown_tracker_key_is_rejected():
    with pytest.raises(ValueError, match=r"'datadir'.*data_dir"):
        make_tracker({"backend": "neptune", "datadir": "x"}, run_name="job")


def test_async_without_token_fails_before_neptune_is_used(monkeypatch):
    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    # A None entry makes any import of neptune fail, so reaching neptune (and
    # the network) would raise ImportError instead of the token error.
    monkeypatch.setitem(sys.modules, "neptune", None)
    with pytest.raises(ValueError, match="NEPTUNE_API_TOKEN"):
        make_tracker({"backend": "neptune", "mode": "async", "project": "ws/proj"}, run_name="job")


def test_async_without_project_fails_before_neptune_is_used(monkeypatch):
    monkeypatch.setenv("NEPTUNE_API_TOKEN", TOKEN_SENTINEL)
    monkeypatch.delenv("NEPTUNE_PROJECT", raising=False)
    monkeypatch.setitem(sys.modules, "neptune", None)
    with pytest.raises(ValueError, match="project"):
        make_tracker({"backend": "neptune", "mode": "async"}, run_name="job")


def test_missing_neptune_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "neptune", None)
    with pytest.raises(ImportError, match=r"pip install 'exprbench\[neptune\]'"):
        make_tracker({"backend": "neptune", "mode": "debug"}, run_name="job")


def test_debug_mode_logs_params_epochs_and_summary(tmp_path, monkeypatch):
    neptune_or_skip()
    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    with make_tracker({"backend": "neptune", "mode": "debug"}, run_name="job", tags=["mlp3"]) as tracker:
        assert isinstance(tracker, NeptuneTracker)
        tracker.log_params({"lr": 0.01, "layers": [64, 32], "seed": np.int64(3)})
        # numpy scalars, as training code often produces, are logged as numbers
        for epoch, (train_loss, val_loss) in enumerate([(1.0, 1.2), (np.float32(0.5), 0.9), (0.25, 0.8)]):
            tracker.log_epoch(epoch, train_loss=train_loss, val_loss=val_loss)
        tracker.log_summary(val_auc=0.8)
        run = tracker.run
        assert run["params/lr"].fetch() == 0.01
        assert run["params/layers"].fetch() == "[64, 32]"
        assert run["params/seed"].fetch() == 3
        assert list(run["train/train_loss"].fetch_values()["value"]) == [1.0, 0.5, 0.25]
        assert list(run["train/val_loss"].fetch_values()["step"]) == [0, 1, 2]
        assert run["summary/val_auc"].fetch() == 0.8
        assert run["sys/name"].fetch() == "job"
        assert run["sys/tags"].fetch() == {"mlp3"}
    tracker.close()  # a second close is harmless


def test_failure_inside_the_block_marks_the_run_failed(tmp_path, monkeypatch):
    neptune_or_skip()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="diverged"):
        with make_tracker({"backend": "neptune", "mode": "offline"}, run_name="job"):
            raise RuntimeError("diverged")
    failed_flags = [
        json.loads(line)["obj"]["value"]
        for log in (tmp_path / ".neptune").glob("offline/*/data-*.log")
        for line in log.read_text().splitlines()
        if json.loads(line)["obj"]["path"] == ["sys", "failed"]
    ]
    assert failed_flags == [False, True]


def test_offline_mode_writes_under_data_dir_and_never_the_token(tmp_path, monkeypatch, capsys):
    neptune_or_skip()
    monkeypatch.setenv("NEPTUNE_API_TOKEN", TOKEN_SENTINEL)
    monkeypatch.delenv("NEPTUNE_DATA_DIRECTORY", raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    data_dir = tmp_path / "tracking"
    spec = {"backend": "neptune", "mode": "offline", "project": "ws/proj", "data_dir": str(data_dir)}

    with make_tracker(spec, run_name="job", tags=["mlp3"]) as tracker:
        tracker.log_params({"lr": 0.01, "layers": [64, 32], "missing": None})
        tracker.log_epoch(0, train_loss=1.0, val_loss=1.2)
        tracker.log_epoch(1, train_loss=0.5, val_loss=0.9)
        tracker.log_summary(val_auc=0.8)

    operations = offline_operations(data_dir)
    assert ("params/lr", "AssignFloat") in operations
    assert ("params/layers", "AssignString") in operations
    assert operations.count(("train/train_loss", "LogFloats")) == 2
    assert ("summary/val_auc", "AssignFloat") in operations
    # Nothing lands in the working directory, and the directory override is undone.
    assert list(workdir.iterdir()) == []
    assert "NEPTUNE_DATA_DIRECTORY" not in os.environ

    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert TOKEN_SENTINEL.encode() not in path.read_bytes(), path
    captured = capsys.readouterr()
    assert TOKEN_SENTINEL not in captured.out + captured.err


def test_relative_data_dir_is_resolved_against_the_working_directory(tmp_path, monkeypatch):
    neptune_or_skip()
    monkeypatch.chdir(tmp_path)
    with make_tracker({"backend": "neptune", "mode": "offline"}, run_name="job") as tracker:
        tracker.log_epoch(0, train_loss=1.0)
    assert tracker.data_dir == tmp_path / ".neptune"
    assert offline_operations(tmp_path / ".neptune")
