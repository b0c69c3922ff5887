"""The fit job: determinism, per-set signal removal, pairs and label handling."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_data

from exprbench.classification.job import FitJob, _Problem
from exprbench.classification.tasks import TaskError, build_manifest
from exprbench.config import resolve
from exprbench.seeding import make_rng
from exprbench.sources import SOURCES
from exprbench.splits import nested_subsets
from exprbench.store import open_dataset, write_dataset

TIMING = ["fit_seconds"]


def sim_config(tmp_path, **task):
    config = resolve({
        "model_dir": str(__import__("pathlib").Path(__file__).resolve().parents[1] / "config" / "models"),
        "datasets": {"sim": {"source": "simulated", "params": {"n_samples": 90, "n_linear": 20, "n_nonlinear": 20}}},
        "defaults": {"split": {"folds": 3}, "train_fractions": [0.5, 1.0], "tuning": {"n_trials": 2, "inner_folds": 2},
                     "models": ["mlp3"], "seeds": [0]},
        "tasks": {"t": {"dataset": "sim", "label": "label", "kind": "binary", **task}},
    }, "test.yaml")
    path = tmp_path / "sim.h5"
    if not path.exists():
        write_dataset(path, SOURCES.get("simulated")(**config["datasets"]["sim"]["params"]).build())
    return config, path


def make_job(config, path, model="mlp3", signal_removal="none", seed=0, fold=0):
    task = config["tasks"]["t"]
    with open_dataset(path) as reader:
        manifest = build_manifest(reader, task)
    return FitJob(task=task, manifest=manifest, model=config["models"][model], signal_removal=signal_removal,
                  seed=seed, fold=fold, dataset="sim", device="cpu")


def run_job(config, path, **settings):
    job = make_job(config, path, **settings)
    return job, job.run()


def test_same_config_and_seed_give_identical_results(tmp_path):
    config, path = sim_config(tmp_path)
    _, (metrics_a, predictions_a) = run_job(config, path)
    _, (metrics_b, predictions_b) = run_job(config, path)
    pd.testing.assert_frame_equal(metrics_a.drop(columns=TIMING), metrics_b.drop(columns=TIMING))
    pd.testing.assert_frame_equal(predictions_a, predictions_b)
    _, (metrics_c, _) = run_job(config, path, seed=1)
    assert (not metrics_a["n_val"].equals(metrics_c["n_val"])
            or not metrics_a["learning_rate"].equals(metrics_c["learning_rate"]))


def test_metrics_have_the_summary_columns(tmp_path):
    config, path = sim_config(tmp_path)
    _, (metrics, predictions) = run_job(config, path)
    required = ["task", "dataset", "model", "signal_removal", "seed", "fold", "train_fraction",
                "n_train", "n_val", "accuracy", "balanced_accuracy"]
    assert set(required) <= set(metrics.columns)
    assert metrics["train_fraction"].tolist() == [0.5, 1.0]
    assert metrics["n_train"].tolist() == [30, 60]
    assert len(predictions) == 2 * metrics["n_val"].iloc[0]
    assert set(predictions["true_label"]) <= {"red", "blue"}


@pytest.mark.parametrize("removal", ["limma", "limma_joint"])
def test_limma_corrects_validation_alone_and_training_side_where_it_is_used(tmp_path, removal):
    """``limma``: the validation set is corrected on its own and the training set
    is left uncorrected, to be corrected per part where models are fitted (a
    corrected set cut into parts gives them opposite class gaps). ``limma_joint``
    corrects the union, so neither set is centred on its own."""
    pytest.importorskip("rpy2")
    config, path = sim_config(tmp_path)
    job = make_job(config, path, signal_removal=removal)
    with open_dataset(path) as reader:
        X, labels = reader.read_expression(), reader.samples["label"].to_numpy()
    y = (labels == "red").astype(int)
    sets = {"train": np.arange(0, 60), "validation": np.arange(60, 90)}
    problem = _Problem(job, X, y, np.arange(90).astype(str), np.arange(90), np.array(["blue", "red"]), None)
    features = problem.features(sets)

    def gap(name):
        X_set, y_set = features[name].numpy(), y[sets[name]]
        return X_set[y_set == 1].mean(axis=0) - X_set[y_set == 0].mean(axis=0)

    if removal == "limma":
        np.testing.assert_allclose(gap("validation"), 0, atol=1e-4)
        assert np.abs(gap("train")).max() > 1, "the training side reaches the fits uncorrected"
    else:
        joint = np.concatenate([features["train"].numpy(), features["validation"].numpy()])
        joint_gap = joint[y == 1].mean(axis=0) - joint[y == 0].mean(axis=0)
        np.testing.assert_allclose(joint_gap, 0, atol=1e-4)
        assert np.abs(gap("validation")).max() > 0.1


def test_binary_pairs_run_each_pair_with_the_task_encoding(tmp_path):
    data = make_data(n_samples=60, n_studies=12, labels=("a", "b", "c", "a"))
    write_dataset(tmp_path / "d.h5", data)
    config, _ = sim_config(tmp_path)
    task = {**config["tasks"]["t"], "kind": "binary_pairs", "top_n": 2, "train_fractions": [1.0]}
    with open_dataset(tmp_path / "d.h5") as reader:
        manifest = build_manifest(reader, task)
    assert manifest["classes"] == ["a", "b", "c"]
    assert manifest["pairs"] == [["a", "b"]] or manifest["pairs"] == [["a", "c"]]
    metrics, predictions = FitJob(task=task, manifest=manifest, model=config["models"]["mlp3"], signal_removal="none",
                                  seed=0, fold=0, dataset="d", device="cpu").run()
    pair = "|".join(manifest["pairs"][0])
    assert metrics["class_pair"].tolist() == [pair]
    assert set(predictions["predicted_label"]) <= set(manifest["pairs"][0])


def test_manifest_drops_missing_labels_and_counts_them(small_data, tmp_path):
    small_data.samples.loc[[0, 5, 9], "label"] = None
    write_dataset(tmp_path / "d.h5", small_data)
    config, _ = sim_config(tmp_path)
    with open_dataset(tmp_path / "d.h5") as reader:
        manifest = build_manifest(reader, config["tasks"]["t"])
    assert manifest["n_dropped_missing_label"] == 3
    assert 0 not in manifest["rows"] and len(manifest["rows"]) == 37


@pytest.mark.parametrize(
    "labels, task_update, message",
    [
        (("a", "b", "c"), {"kind": "binary"}, "exactly 2 classes"),
        (("a",), {"kind": "multiclass"}, "fewer than 2 classes"),
        (("a", "b"), {"split": {"by": "study", "folds": 9}}, "lower folds"),
    ],
)
def test_bad_labels_are_stopped_by_the_manifest(tmp_path, labels, task_update, message):
    write_dataset(tmp_path / "d.h5", make_data(labels=labels))
    config, _ = sim_config(tmp_path)
    task = {**config["tasks"]["t"], **task_update}
    with open_dataset(tmp_path / "d.h5") as reader, pytest.raises(TaskError, match=message) as info:
        build_manifest(reader, task, "my.yaml")
    assert "my.yaml: tasks.t" in str(info.value)


def test_pretraining_fits_a_direct_and_a_pretrained_copy_on_40_40_20_sets(tmp_path):
    config, path = sim_config(tmp_path, pretraining=True, split={"by": "study", "folds": 5})
    job, (metrics, predictions) = run_job(config, path)
    assert metrics["pretrained"].tolist() == [False, True, False, True]
    direct, pretrained = metrics[~metrics["pretrained"]], metrics[metrics["pretrained"]]
    assert direct["n_train"].tolist() == pretrained["n_train"].tolist() == [18, 36]
    assert (metrics["n_val"] == 18).all()
    assert len(predictions) == 4 * 18


def test_pretraining_runs_once_per_problem_and_equals_pretraining_per_fraction(tmp_path, monkeypatch):
    from exprbench.classification.models import MODELS

    config, path = sim_config(tmp_path, pretraining=True, split={"by": "study", "folds": 5},
                              train_fractions=[0.5, 0.75, 1.0])
    model_class = MODELS.get(config["models"]["mlp3"]["estimator"])
    sizes, fit = [], model_class.fit

    def counting_fit(self, X, y, **kwargs):
        sizes.append(len(y))
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(model_class, "fit", counting_fit)
    job, (metrics, predictions) = run_job(config, path)
    monkeypatch.setattr(model_class, "fit", fit)
    n_tuning_fits = config["tasks"]["t"]["tuning"]["n_trials"] * config["tasks"]["t"]["tuning"]["inner_folds"]
    # Tuning fits, one pretraining fit, then a direct and a fine-tuned fit per fraction.
    assert len(sizes) == n_tuning_fits + 1 + 2 * 3
    assert sizes[n_tuning_fits] == 36, "the pretraining set (40 % of 90 samples) is fitted once"

    # Reference: pretrain a fresh model for every fraction, as before, under the same seeds.
    with open_dataset(path) as reader:
        samples, X = reader.samples, reader.read_expression()
    classes = np.array(job.manifest["classes"])
    y = np.searchsorted(classes, samples["label"].astype(str).to_numpy())
    problem = _Problem(job, X, y, samples["study"].astype(str).to_numpy(), samples["sample_id"].to_numpy(), classes,
                       None)
    sets = problem.sets()
    features = problem.features(sets)
    best = {"learning_rate": metrics["learning_rate"].iloc[0], "weight_decay": metrics["weight_decay"].iloc[0]}
    subsets = nested_subsets(len(sets["train"]), [0.5, 0.75, 1.0], make_rng(0, "t", "fractions", 0, ""))
    for fraction, subset in zip([0.5, 0.75, 1.0], subsets, strict=False):
        model = problem.new_model(**best, random_state=problem.fit_seed(fraction, sets), warm_start=True)
        model.fit(features["pretrain"], y[sets["pretrain"]], classes=problem.problem_classes,
                  groups=problem.groups[sets["pretrain"]])
        model.fit(features["train"][subset], y[sets["train"]][subset], classes=problem.problem_classes,
                  groups=problem.groups[sets["train"]][subset])
        expected = classes[model.predict(features["validation"])]
        got = predictions[(predictions["train_fraction"] == fraction) & predictions["pretrained"]]
        np.testing.assert_array_equal(got["predicted_label"].to_numpy(), expected)
        row = metrics[(metrics["train_fraction"] == fraction) & metrics["pretrained"]].iloc[0]
        assert row["best_epoch"] == model.best_epoch_ and row["epochs"] == model.n_epochs_


def test_direct_model_starts_from_the_pretrained_models_initial_weights(tmp_path):
    config, path = sim_config(tmp_path, pretraining=True, split={"by": "study", "folds": 5})
    job = make_job(config, path)
    sets = {"train": np.arange(0, 30), "validation": np.arange(30, 60), "pretrain": np.arange(60, 90)}
    problem = _Problem(job, np.zeros((90, 4)), np.arange(90) % 2, np.arange(90).astype(str), np.arange(90),
                       np.array(["blue", "red"]), None)
    seeds = {problem.fit_seed(fraction, sets) for fraction in (0.5, 1.0)}
    assert seeds == {problem.fit_seed(None, sets)}, "one initialisation for the pretrained and every direct model"


def test_pretraining_needs_five_folds(tmp_path):
    from exprbench.config import ConfigError

    with pytest.raises(ConfigError, match="set folds: 5"):
        sim_config(tmp_path, pretraining=True)


def test_second_fit_forgets_unless_warm_start():
    from conftest import separable_problem

    from exprbench.classification.models import MODELS

    X_first, y_first = separable_problem(n=60, seed=0)
    X_second, y_second = separable_problem(n=60, seed=1)
    settings = {"max_epochs": 3, "patience": 10, "device": "cpu", "random_state": 5}
    fresh = MODELS.get("mlp3")(**settings).fit(X_second, y_second).decision_function(X_second)
    refit = MODELS.get("mlp3")(**settings).fit(X_first, y_first).fit(X_second, y_second).decision_function(X_second)
    continued = (MODELS.get("mlp3")(**settings, warm_start=True).fit(X_first, y_first)
                 .fit(X_second, y_second).decision_function(X_second))
    np.testing.assert_array_equal(fresh, refit)
    assert not np.allclose(fresh, continued)


def test_task_classes_restrict_the_samples(tmp_path):
    write_dataset(tmp_path / "d.h5", make_data(n_samples=30, labels=("a", "b", "c")))
    config, _ = sim_config(tmp_path)
    task = {**config["tasks"]["t"], "kind": "multiclass", "classes": ["a", "c"]}
    with open_dataset(tmp_path / "d.h5") as reader:
        manifest = build_manifest(reader, task)
        assert manifest["classes"] == ["a", "c"] and len(manifest["rows"]) == 20
        assert manifest["n_dropped_other_classes"] == 10
        with pytest.raises(TaskError, match="'z' never occur"):
            build_manifest(reader, {**task, "classes": ["a", "z"]})


def test_dropped_samples_are_reported_per_task(small_data, tmp_path):
    from exprbench.classification.tasks import dropped_samples_report, write_manifest

    small_data.samples.loc[[1, 2], "label"] = None
    write_dataset(tmp_path / "d.h5", small_data)
    config, _ = sim_config(tmp_path)
    with open_dataset(tmp_path / "d.h5") as reader:
        write_manifest(tmp_path / "t.json", build_manifest(reader, config["tasks"]["t"]))
    assert dropped_samples_report([tmp_path / "t.json", tmp_path / "missing.json"]) == [
        "t: 2 samples without a 'label' label were left out"]
