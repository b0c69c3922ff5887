"""The native (numpy) removeBatchEffect against limma itself, and a fit job run with each."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from test_job import make_job, sim_config

from exprbench import limma, rdata
from exprbench.cli import build_parser
from exprbench.limma import remove_batch_effect

try:
    rdata.r_objects()
except rdata.RUnavailableError as err:
    pytest.skip(f"R is not usable from Python: {err}", allow_module_level=True)

TOLERANCE = 1e-10  # float64, both backends


def both_backends(expression, batch, covariates=None):
    reference = remove_batch_effect(expression, batch, covariates, backend="r", dtype=np.float64)
    native = remove_batch_effect(expression, batch, covariates, backend="native", dtype=np.float64)
    return reference, native


def unbalanced_batches(sizes, rng):
    batch = np.repeat([f"batch{k}" for k in range(len(sizes))], sizes)
    return rng.permutation(batch)


@pytest.mark.parametrize("sizes", [(5, 23), (3, 9, 17, 4, 30)], ids=["2 batches", "5 batches"])
@pytest.mark.parametrize("n_covariates", [0, 1, 3])
def test_native_matches_limma_on_random_matrices(sizes, n_covariates):
    rng = np.random.default_rng(len(sizes) * 10 + n_covariates)
    batch = unbalanced_batches(sizes, rng)
    shifts = rng.normal(0.0, 3.0, size=len(sizes))[np.unique(batch, return_inverse=True)[1]]
    expression = rng.normal(7.0, 2.0, size=(batch.size, 150)) + shifts[:, None]
    covariates = rng.normal(size=(batch.size, n_covariates)) if n_covariates else None

    reference, native = both_backends(expression, batch, covariates)

    assert native.dtype == np.float64 and native.shape == expression.shape
    assert np.abs(reference - native).max() <= TOLERANCE
    assert np.abs(reference - expression).max() > 0.1  # something was removed


def test_native_drops_non_estimable_covariates_as_limma_does():
    """A covariate equal to a batch column (or all zeros) is not estimable: limma's
    lmFit leaves its coefficient NA and removeBatchEffect then removes nothing for it."""
    rng = np.random.default_rng(3)
    batch = np.array(["a"] * 8 + ["b"] * 12)
    covariates = np.column_stack([rng.normal(size=20), (batch == "a") * 2.0 - 1.0, np.zeros(20)])
    reference, native = both_backends(rng.normal(size=(20, 30)), batch, covariates)
    assert np.abs(reference - native).max() <= TOLERANCE


def test_one_batch_with_covariates_removes_the_covariates_only():
    rng = np.random.default_rng(4)
    expression, covariate = rng.normal(size=(25, 12)), rng.normal(size=25)
    reference, native = both_backends(expression, ["one"] * 25, covariate)
    assert np.abs(reference - native).max() <= TOLERANCE
    assert np.abs(native - expression).max() > 0.01


def test_native_returns_float32_by_default_and_rejects_missing_values():
    expression = np.arange(24, dtype=np.float32).reshape(6, 4)
    assert remove_batch_effect(expression, [0, 0, 0, 1, 1, 1], backend="native").dtype == np.float32
    expression[2, 1] = np.nan
    with pytest.raises(ValueError, match="signal_removal_backend: r"):
        remove_batch_effect(expression, [0, 0, 0, 1, 1, 1], backend="native")
    with pytest.raises(ValueError, match="backend 'python' is not one of r, native"):
        remove_batch_effect(expression, [0, 0, 0, 1, 1, 1], backend="python")


@pytest.mark.parametrize("batch_column", ["lineage", "bt_subtype"])
def test_native_matches_limma_on_all(all_data, batch_column):
    batch = all_data.samples[batch_column].to_numpy()
    reference, native = both_backends(all_data.expression, batch)
    assert np.abs(reference - native).max() <= TOLERANCE


@pytest.mark.parametrize("with_covariates", [False, True])
def test_native_matches_limma_on_bladderbatch(bladder_data, with_covariates):
    """Batch = the five processing batches; covariates = the cancer status as 0/1 columns."""
    samples = bladder_data.samples
    covariates = pd.get_dummies(samples["cancer"]).to_numpy(dtype=float)[:, 1:] if with_covariates else None
    reference, native = both_backends(bladder_data.expression, samples["study"].to_numpy(), covariates)
    assert np.abs(reference - native).max() <= TOLERANCE


@pytest.mark.parametrize("removal", ["limma", "limma_joint"])
def test_fit_job_gives_the_same_results_with_either_backend(tmp_path, monkeypatch, removal):
    """Both backends agree to ~1e-14 in float64; after the cast to float32 a few
    elements can still differ by one unit in the last place (75 of 1.6 million on
    ALL by lineage), none on this small simulation, so its metrics and predictions
    are identical. Every correction of the job goes through the chosen backend."""
    calls = []
    for name in ("_remove_r", "_remove_native"):
        original = getattr(limma, name)
        monkeypatch.setattr(limma, name,
                            lambda *args, _original=original, _name=name: calls.append(_name) or _original(*args))
    config, path = sim_config(tmp_path)
    results = {}
    for backend in ("r", "native"):
        calls.clear()
        job = dataclasses.replace(make_job(config, path, signal_removal=removal), signal_removal_backend=backend)
        results[backend] = job.run()
        assert calls and set(calls) == {f"_remove_{backend}"}
    (metrics_r, predictions_r), (metrics_native, predictions_native) = results["r"], results["native"]
    pd.testing.assert_frame_equal(metrics_r.drop(columns=["fit_seconds"]), metrics_native.drop(columns=["fit_seconds"]))
    pd.testing.assert_frame_equal(predictions_r, predictions_native)
    assert metrics_r["balanced_accuracy"].notna().all()


def test_fit_command_takes_the_backend():
    required = ["fit", "--task", "{}", "--model", "{}", "--manifest", "m.json", "--dataset", "d",
                "--signal-removal", "limma", "--seed", "0", "--fold", "0", "--metrics", "m.tsv",
                "--predictions", "p.tsv"]
    assert build_parser().parse_args(required).signal_removal_backend == "r"
    native = build_parser().parse_args(required + ["--signal-removal-backend", "native"])
    assert native.signal_removal_backend == "native"
