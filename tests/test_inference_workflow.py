"""Inference family: config resolution, the job's files, and a tiny run through Snakemake."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import ROOT, snakemake

from exprbench import config as config_module
from exprbench.config import ConfigError
from exprbench.inference import settings
from exprbench.inference.job import InferenceJob
from exprbench.sources.simulated import SimulatedClasses
from exprbench.store import write_dataset

MODEL_DIR = ROOT / "config" / "inference_models"


def tiny_models(tmp_path):
    """Small model files for fast runs (few epochs, narrow layers)."""
    folder = tmp_path / "inference_models"
    folder.mkdir()
    specs = {
        "lsr": {"estimator": "lsr", "params": {"penalty": "l2"}, "grid": {"alpha": [0.1, 10.0]}},
        "knn": {"estimator": "knn", "params": {"n_neighbors": 3}},
        "dgex": {"estimator": "dgex", "params": {"n_hidden_layers": 1, "hidden_size": 16, "max_epochs": 2,
                                                 "batch_size": 16, "learning_rate": 0.01}},
        "deep_lsmtl": {"estimator": "deep_lsmtl", "params": {"hidden_sizes": [16], "latent_dim": 3, "max_epochs": 2,
                                                             "batch_size": 16}},
    }
    for name, spec in specs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    return folder


def section(tmp_path, **task):
    return {
        "model_dir": str(tiny_models(tmp_path)),
        "attribution": {"target_clusters": 3, "landmark_groups": 2, "samples": 8},
        "tasks": {"sim": {"dataset": "sim", "landmarks": {"count": 6, "seed": 0}, "targets": {"count": 12},
                          "models": ["lsr", "knn", "dgex", "deep_lsmtl"], **task}},
    }


def full_config(tmp_path, **task):
    return {"datasets": {"sim": {"source": "simulated", "params": {"n_samples": 80, "n_linear": 20,
                                                                   "n_nonlinear": 10}}},
            "inference": section(tmp_path, **task)}


def test_section_resolves_with_defaults_and_one_job_per_task_model_seed(tmp_path):
    resolved = config_module.resolve(full_config(tmp_path, seeds=[0, 1]), "cfg.yaml")["inference"]
    task = resolved["tasks"]["sim"]
    assert task["split"] == {"fractions": [0.8, 0.1, 0.1], "seed": 0}
    assert task["zscore_fit_on"] == "all" and task["datasets"] == ["sim"]
    assert resolved["models"]["lsr"]["grid"] == {"alpha": [0.1, 10.0]}
    assert len(settings.jobs(resolved)) == 4 * 2
    assert json.loads(json.dumps(resolved)) == resolved


@pytest.mark.parametrize("task, key", [
    ({"dataset": "nope"}, "inference.tasks.sim.dataset"),
    ({"landmarks": {"from": "provenance"}}, "inference.tasks.sim.landmarks"),
    ({"landmarks": {"from": "provenance", "count": 3}}, "inference.tasks.sim.landmarks"),
    ({"landmarks": {"cout": 3}}, "inference.tasks.sim.landmarks.cout"),
    ({"split": {"fractions": [0.8, 0.1, 0.1], "test": "gtex"}}, "inference.tasks.sim.split.test"),
    ({"split": {"by_column": "split"}}, "inference.tasks.sim.split.label"),
    ({"modles": ["lsr"]}, "inference.tasks.sim.modles"),
    ({"zscore_fit_on": "test"}, "inference.tasks.sim.zscore_fit_on"),
])
def test_bad_sections_name_the_key(tmp_path, task, key):
    with pytest.raises(ConfigError) as error:
        config_module.resolve(full_config(tmp_path, **task), "cfg.yaml")
    assert error.value.key == key and "cfg.yaml" in str(error.value)


def test_unknown_model_file_and_parameter_are_refused(tmp_path):
    config = full_config(tmp_path, models=["lsr_xl"])
    with pytest.raises(ConfigError, match="no inference model file .*lsr_xl.yaml; did you mean"):
        config_module.resolve(config, "cfg.yaml")
    (tmp_path / "inference_models" / "bad.yaml").write_text("estimator: lsr\nparams: {alpah: 1}\n")
    config["inference"]["tasks"]["sim"]["models"] = ["bad"]
    with pytest.raises(ConfigError, match="not a parameter of lsr"):
        config_module.resolve(config, "cfg.yaml")


def test_shipped_model_files_are_valid():
    for path in MODEL_DIR.glob("*.yaml"):
        settings.load_model_file(path.stem, MODEL_DIR, "test")


def test_job_writes_metrics_per_gene_split_and_attribution(tmp_path):
    import torch

    torch.set_num_threads(1)
    resolved = config_module.resolve(full_config(tmp_path), "cfg.yaml")["inference"]
    store = tmp_path / "sim.h5"
    write_dataset(store, SimulatedClasses(n_samples=80, n_linear=20, n_nonlinear=10).build())
    task = resolved["tasks"]["sim"]
    for model in ("lsr", "deep_lsmtl"):
        out = tmp_path / model
        # Deep-LSMTL streams its batches from the store; LSR reads the split once.
        job = InferenceJob(task, resolved["models"][model], 0, {"sim": str(store)}, device="cpu",
                           attribution=resolved["attribution"], chunk_rows=16,
                           max_in_memory_mb=0 if model == "deep_lsmtl" else 1024)
        assert job.sources()[2]["train"].in_memory == (model == "lsr")
        row = job.run(out).iloc[0]
        assert (row["n_train"], row["n_validation"], row["n_test"]) == (64, 8, 8)
        assert (row["n_landmarks"], row["n_targets"]) == (6, 12) and np.isfinite(row["mae"])
        with np.load(out / "per_gene.npz") as data:
            assert data["mae"].shape == data["ccc"].shape == (12,)
            assert np.isclose(data["mae"].mean(), row["mae"])
        split = pd.read_csv(out / "split.tsv", sep="\t")
        assert split["split"].value_counts().to_dict() == {"train": 64, "validation": 8, "test": 8}
        with np.load(out / "attribution.npz") as data:
            assert data["relevance"].shape == ((3, 6) if model == "deep_lsmtl" else (0, 0))
    assert json.loads(row["chosen_params"]) == {} and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow
def test_tiny_inference_task_end_to_end(tmp_path):
    config = full_config(tmp_path)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(path),
              "--cores", "2")
    summary = pd.read_csv(tmp_path / "results" / "inference" / "summary.tsv", sep="\t")
    assert len(summary) == 4 and set(summary["model"]) == {"lsr", "knn", "dgex", "deep_lsmtl"}
    assert {"task", "model", "seed", "mae", "ccc", "run_dir"} <= set(summary.columns)
    assert (summary["status"] == "ok").all() and summary["mae"].notna().all()
    for stem in ("scores", "per_gene_mae", "relevance"):
        for ext in ("png", "svg"):
            assert (tmp_path / "figures" / "inference" / f"{stem}.{ext}").stat().st_size > 0
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_landmark_list_file_is_an_input_of_the_fit_so_editing_it_reruns_the_task():
    from exprbench.inference.workflow import job_inputs

    section = {"tasks": {"listed": {"datasets": ["own"], "landmarks": {"file": "genes.txt"}},
                         "drawn": {"datasets": ["own"], "landmarks": {"count": 10, "seed": 0}}}}
    assert job_inputs(section, "data", "listed") == {"own": "data/own.h5", "landmark_file": "genes.txt"}
    assert job_inputs(section, "data", "drawn") == {"own": "data/own.h5"}
