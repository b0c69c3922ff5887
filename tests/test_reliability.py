"""Faults a long run must survive: litter from killed writers, non-finite data,
a task whose every fit failed, and the lock a killed run leaves behind."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import make_data

from exprbench import cli
from exprbench.atomic import atomic_path, remove_stale_temporaries, scratch_folder, write_text
from exprbench.classification.summary import failed_tasks_report, tasks_where_every_fit_failed
from exprbench.run_lock import OWNER_FILE, claim_run
from exprbench.store import StoreError, open_dataset, stream_dataset, write_dataset


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temp_file_and_scratch_folder_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "result.tsv"
    dead = _dead_pid()
    stale_file = tmp_path / f".result.tsv.{dead}.abc123.tmp"
    stale_file.write_text("half")
    stale_folder = tmp_path / f".result.tsv.{dead}.def456.scratch"
    stale_folder.mkdir()
    (stale_folder / "gene_major.h5").write_bytes(b"x" * 100)
    live_file = tmp_path / f".result.tsv.{os.getpid()}.ghi789.tmp"  # a writer of this process, still running
    live_file.write_text("in progress")
    unrelated = tmp_path / ".other.tsv.1.tmp"
    unrelated.write_text("not ours")

    write_text(target, "done\n")

    assert target.read_text() == "done\n"
    assert not stale_file.exists() and not stale_folder.exists()
    assert live_file.exists() and unrelated.exists()


def test_scratch_folders_and_temp_files_carry_the_writers_pid_and_vanish_afterwards(tmp_path):
    target = tmp_path / "data.h5"
    with scratch_folder(target) as folder:
        assert folder.name.startswith(f".data.h5.{os.getpid()}.") and folder.name.endswith(".scratch")
        (folder / "x").write_text("1")
    with atomic_path(target) as tmp:
        assert tmp.name.startswith(f".data.h5.{os.getpid()}.")
        tmp.write_text("1")
    assert [p.name for p in tmp_path.iterdir()] == ["data.h5"]
    assert remove_stale_temporaries(tmp_path / "missing" / "x") == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_store_writer_refuses_non_finite_values_and_writes_nothing(tmp_path, bad):
    data = make_data()
    data.expression[5, 3] = bad
    path = tmp_path / "bad.h5"
    with pytest.raises(StoreError) as err:
        write_dataset(path, data)
    message = str(err.value)
    assert str(path) in message and "sample row 5" in message and "gene column 3 (gene g3)" in message
    assert "impute" in message
    assert list(tmp_path.iterdir()) == []


def test_streamed_blocks_are_checked_with_rows_counted_across_blocks(tmp_path):
    data = make_data()
    with pytest.raises(StoreError, match="sample row 12,"):
        with stream_dataset(tmp_path / "s.h5", data.genes) as stream:
            stream.append(data.expression[:10])
            block = data.expression[10:20].copy()
            block[2, 0] = np.nan
            stream.append(block)
    assert list(tmp_path.iterdir()) == []


def _store_from_elsewhere(tmp_path, bad_cell=(7, 4)) -> Path:
    """A store in the layout but not written by this package's checked writer."""
    path = tmp_path / "foreign.h5"
    write_dataset(path, make_data())
    with h5py.File(path, "r+") as h5:
        del h5.attrs["all_finite"]
        h5["expression"][bad_cell] = np.nan
    return path


def test_manifest_names_the_first_non_finite_cell_of_a_store_it_did_not_write(tmp_path, capsys):
    path = _store_from_elsewhere(tmp_path)
    task = {"name": "t", "label": "label", "kind": "binary", "split": {"by": "study", "folds": 2}}
    status = cli.main(["manifest", "--task", json.dumps(task), "--dataset-file", str(path),
                       "--out", str(tmp_path / "t.json")])
    error = capsys.readouterr().err
    assert status == 1 and len(error.strip().splitlines()) == 1
    assert str(path) in error and "sample row 7 (sample s007)" in error and "gene g4" in error
    assert not (tmp_path / "t.json").exists()


def test_reading_an_altered_store_names_the_bad_cell(tmp_path):
    path = _store_from_elsewhere(tmp_path, bad_cell=(30, 1))
    with open_dataset(path) as reader:
        assert reader.read_expression(rows=[0, 1]).shape == (2, 12)  # clean rows read fine
        with pytest.raises(StoreError, match=r"sample row 30 \(sample s030\), gene column 1"):
            reader.read_expression(rows=[2, 30])
        with pytest.raises(StoreError, match="sample row 30"):
            reader.read_expression(columns=[0, 1])


def test_a_store_written_here_is_not_scanned_again(tmp_path, monkeypatch):
    path = tmp_path / "ok.h5"
    write_dataset(path, make_data())
    with open_dataset(path) as reader:
        monkeypatch.setattr(type(reader), "_finite", lambda *a: pytest.fail("scanned a store known to be finite"))
        reader.check_finite()


def test_tasks_whose_every_fit_failed_are_reported(tmp_path):
    table = pd.DataFrame({
        "task": ["a", "a", "b", "b"], "status": ["failed", "failed", "ok", "failed"],
        "error": ["boom", "boom again", "", "once"],
    })
    assert tasks_where_every_fit_failed(table) == {"a": "boom"}
    table.to_csv(tmp_path / "summary.tsv", sep="\t", index=False)
    assert failed_tasks_report(tmp_path / "summary.tsv") == [
        "task a: every fit failed, so it has no result (first error: boom)"]
    assert tasks_where_every_fit_failed(table.iloc[2:3]) == {}


def _lock(state_dir, owner: dict | None):
    (state_dir / "locks").mkdir(parents=True)
    (state_dir / "locks" / "0.input.lock").write_text("data/x.h5\n")
    if owner is not None:
        (state_dir / OWNER_FILE).write_text(json.dumps(owner))


def test_a_lock_left_by_a_killed_run_on_this_host_is_removed(tmp_path):
    state = tmp_path / ".snakemake"
    dead = _dead_pid()
    _lock(state, {"host": socket.gethostname(), "pid": dead})
    messages = claim_run(state)
    assert not list((state / "locks").iterdir())
    assert f"pid {dead}" in messages[0] and "interrupted run" in messages[0]
    assert json.loads((state / OWNER_FILE).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("owner", ["live snakemake", "other host", None])
def test_a_lock_that_may_belong_to_a_live_run_is_kept(tmp_path, owner):
    state = tmp_path / ".snakemake"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "snakemake"])
    try:
        record = {"live snakemake": {"host": socket.gethostname(), "pid": live.pid},
                  "other host": {"host": "node-elsewhere", "pid": _dead_pid()}, None: None}[owner]
        _lock(state, record)
        before = (state / OWNER_FILE).read_text() if record else None
        assert claim_run(state) == []
        assert list((state / "locks").iterdir()), "the lock must stay"
        assert ((state / OWNER_FILE).read_text() if record else None) == before
    finally:
        live.kill()
        live.wait()


def test_a_loss_that_is_never_finite_gets_a_message_that_says_so():
    from exprbench.classification.models import MODELS

    X = np.ones((40, 5), dtype=np.float32)
    X[3, 2] = np.nan
    y = np.array([0, 1] * 20)
    model = MODELS.get("logistic_regression")(max_epochs=3, patience=5)
    with pytest.raises(FloatingPointError, match=r"loss was never finite in 3 epochs \(learning rate too high\? "
                                                 r"non-finite input\?\)"):
        model.fit(X, y)


def test_a_job_that_had_nothing_to_fit_does_not_break_the_summary(tmp_path):
    from exprbench.atomic import write_table
    from exprbench.classification.summary import collect

    empty, full = tmp_path / "empty.tsv", tmp_path / "full.tsv"
    write_table(empty, pd.DataFrame())
    write_table(full, pd.DataFrame([{"task": "t", "dataset": "d", "model": "m", "signal_removal": "none", "seed": 0,
                                      "fold": 0, "train_fraction": 1.0, "class_pair": "a|b", "pretrained": False,
                                      "status": "ok", "error": "-", "balanced_accuracy": 0.9}]))
    table = collect([empty, full])
    assert len(table) == 1 and table["balanced_accuracy"].iloc[0] == 0.9


def test_starting_r_leaves_child_processes_the_library_path_they_had(monkeypatch):
    """R puts the system's library folder first on LD_LIBRARY_PATH; a Python started
    from a process that uses R then loaded the system's libssl in place of its own."""
    from exprbench.rdata import RUnavailableError, r_objects

    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    try:
        r_objects()
    except RUnavailableError as err:
        pytest.skip(str(err))
    assert "LD_LIBRARY_PATH" not in os.environ
    child = subprocess.run([sys.executable, "-c", "import ssl"], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
