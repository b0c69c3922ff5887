"""Bad configs stop before any job, naming the file, the key and the allowed values."""

from pathlib import Path

import pytest
import yaml

from exprbench.classification.settings import TASK_DEFAULTS, fit_jobs
from exprbench.config import ConfigError, check_dataset, family, family_sections, load, resolve, validate_section

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def run_in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


def base_config():
    return {
        "datasets": {"sim": {"source": "simulated", "params": {"n_samples": 40}}},
        "tasks": {"t": {"dataset": "sim", "label": "label", "kind": "binary"}},
    }


def error_for(config, file="cfg.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        resolve(config, file)
    return info.value


def test_defaults_fill_a_minimal_config():
    config = resolve(base_config(), "cfg.yaml")
    task = config["tasks"]["t"]
    assert task["train_fractions"] == TASK_DEFAULTS["train_fractions"]
    assert task["split"] == {"by": "study", "folds": 5}
    assert set(config["models"]) == set(TASK_DEFAULTS["models"])
    assert config["device"] == "auto" and config["tracker"]["backend"] == "none"


def test_task_overrides_merge_over_defaults():
    config = base_config()
    config["defaults"] = {"split": {"folds": 3}, "seeds": [7]}
    config["tasks"]["t"]["split"] = {"by": "sample"}
    task = resolve(config, "cfg.yaml")["tasks"]["t"]
    assert task["split"] == {"by": "sample", "folds": 3}
    assert task["seeds"] == [7]


def test_job_grain_is_task_model_signal_seed_fold():
    config = base_config()
    config["tasks"]["t"].update(models=["mlp3"], seeds=[0, 1], split={"folds": 2}, signal_removal=["none", "limma"])
    jobs = fit_jobs(resolve(config, "cfg.yaml"))
    assert len(jobs) == 2 * 2 * 2
    assert set(jobs[0]) == {"task", "model", "signal_removal", "seed", "fold"}


def test_unknown_model_names_key_and_choices():
    config = base_config()
    config["tasks"]["t"]["models"] = ["mlp4"]
    err = error_for(config)
    assert err.file == "cfg.yaml" and err.key == "tasks.t.models"
    assert "mlp4" in str(err) and "mlp3" in err.allowed and "did you mean" in str(err)


def test_missing_label_column_names_allowed_labels():
    config = base_config()
    config["tasks"]["t"]["label"] = "tissue"
    err = error_for(config)
    assert err.key == "tasks.t.label" and err.allowed == ["label"]


@pytest.mark.parametrize("fraction", [0, 1.5, -0.1])
def test_fraction_outside_unit_interval(fraction):
    config = base_config()
    config["tasks"]["t"]["train_fractions"] = [0.5, fraction]
    err = error_for(config)
    assert err.key == "tasks.t.train_fractions.1" and "out of range" in str(err)


@pytest.mark.parametrize(
    "mutate, key, suggestion",
    [
        (lambda c: c["tasks"]["t"].update(split={"by": "study", "fold": 3}), "tasks.t.split.fold", "folds"),
        (lambda c: c["tasks"]["t"].update(lable="x"), "tasks.t.lable", "label"),
        (lambda c: c.update(figure_dir="f"), "figure_dir", "figures_dir"),
        (lambda c: c["datasets"]["sim"].update(parms={}), "datasets.sim.parms", "params"),
    ],
)
def test_misspelled_keys_are_named_with_a_suggestion(mutate, key, suggestion):
    config = base_config()
    mutate(config)
    err = error_for(config)
    assert err.key == key and suggestion in err.allowed and f"did you mean {suggestion!r}" in str(err)


def test_bad_enum_values_list_the_choices():
    config = base_config()
    config["tasks"]["t"]["split"] = {"by": "studies"}
    err = error_for(config)
    assert err.key == "tasks.t.split.by" and err.allowed == ["study", "donor", "sample"]
    config = base_config()
    config["tasks"]["t"]["signal_removal"] = ["combat"]
    assert error_for(config).allowed == ["none", "limma", "limma_joint"]


def test_unknown_dataset_source_and_params():
    config = base_config()
    config["datasets"]["sim"]["source"] = "gtex9"
    assert error_for(config).key == "datasets.sim.source"
    config = base_config()
    config["datasets"]["sim"]["params"] = {"n_sample": 3}
    err = error_for(config)
    assert err.key == "datasets.sim.params.n_sample" and "n_samples" in err.allowed


def test_missing_required_task_key():
    config = base_config()
    del config["tasks"]["t"]["kind"]
    assert "kind" in str(error_for(config))


def test_bad_model_file_is_named(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "lr.yaml").write_text(yaml.safe_dump({"estimator": "logistic_regression", "params": {"learning_rte": 1}}))
    config = base_config()
    config["model_dir"] = str(models)
    config["tasks"]["t"]["models"] = ["lr"]
    err = error_for(config)
    assert err.file == str(models / "lr.yaml") and err.key == "params.learning_rte" and "learning_rate" in err.allowed


def test_bad_model_param_value_is_refused(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "lr.yaml").write_text(yaml.safe_dump({"estimator": "logistic_regression",
                                                    "params": {"learning_rate": -1}}))
    config = base_config()
    config["model_dir"] = str(models)
    config["tasks"]["t"]["models"] = ["lr"]
    err = error_for(config)
    assert str(err) == f"{models / 'lr.yaml'}: params.learning_rate: -1 is out of range; it must be > 0"


def test_old_model_param_name_still_works(tmp_path):
    from exprbench.params import RenamedKeyWarning

    models = tmp_path / "models"
    models.mkdir()
    (models / "lr.yaml").write_text(yaml.safe_dump({"estimator": "logistic_regression", "params": {"lr": 0.01},
                                                    "search": {"lr": {"log_uniform": [1e-4, 1e-2]}}}))
    config = base_config()
    config["model_dir"] = str(models)
    config["tasks"]["t"]["models"] = ["lr"]
    with pytest.warns(RenamedKeyWarning, match=r"lr.yaml: params.lr is deprecated; use params.learning_rate"):
        spec = resolve(config)["models"]["lr"]
    assert spec["params"] == {"learning_rate": 0.01} and list(spec["search"]) == ["learning_rate"]


def test_load_reports_yaml_syntax_and_missing_file(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("tasks: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "missing.yaml")


def workdir_with_manual_files(tmp_path) -> Path:
    """A working folder like a user's: the repo's config plus the files placed by hand."""
    (tmp_path / "config").symlink_to(ROOT / "config")
    flynn = tmp_path / "data" / "manual" / "combined_human_mouse_meta_v2.csv"
    flynn.parent.mkdir(parents=True)
    flynn.write_text("sample_acc,organism,data_type,metadata_sex\n")
    return tmp_path


SHIPPED_CONFIGS = sorted([*(ROOT / "config").glob("*.yaml"), *(ROOT / "config" / "experiments").glob("*.yaml")])


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.relative_to(ROOT / "config").as_posix())
def test_shipped_configs_are_valid(path, tmp_path, monkeypatch):
    monkeypatch.chdir(workdir_with_manual_files(tmp_path))
    config = load(path)
    family_jobs = [job for name in family_sections() if name in config for job in family(name).jobs(config[name])]
    assert fit_jobs(config) or family_jobs


def test_a_config_without_tasks_or_family_sections_has_nothing_to_run():
    config = base_config()
    del config["tasks"]
    err = error_for(config)
    assert err.key == "" and "nothing to run" in err.problem and "tasks" in err.allowed


def test_family_sections_are_checked_with_their_own_prefix():
    with pytest.raises(ConfigError) as info:
        validate_section({"experiments": []}, "config.schema.yaml", "cfg.yaml", "fam")
    assert info.value.key.startswith("fam")


def test_family_experiments_must_name_a_configured_dataset_and_label():
    config = resolve(base_config(), "cfg.yaml")
    check_dataset(config, "sim", "cfg.yaml", "fam.experiments.e.dataset", label="label")
    with pytest.raises(ConfigError) as info:
        check_dataset(config, "simm", "cfg.yaml", "fam.experiments.e.dataset")
    assert info.value.key == "fam.experiments.e.dataset" and "did you mean 'sim'" in info.value.problem
    with pytest.raises(ConfigError) as info:
        check_dataset(config, "sim", "cfg.yaml", "fam.experiments.e.dataset", label="tissue")
    assert info.value.key == "fam.experiments.e.label" and info.value.allowed == ["label"]


def test_check_config_counts_the_jobs_of_every_family(capsys):
    from exprbench.cli import main

    assert main(["check-config", str(ROOT / "config" / "config.yaml")]) == 0
    line = capsys.readouterr().out
    assert "valid; 6 tasks, 288 fits in 48 fit jobs (fit_grain: model)" in line
    for family_name in family_sections():
        assert f"{family_name}: " in line


def test_check_config_reports_a_bad_file_in_one_line(tmp_path, capsys):
    from exprbench.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**base_config(), "tasks": {"t": {"dataset": "simm", "label": "label",
                                                                    "kind": "binary"}}}))
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tasks.t.dataset" in err and "did you mean 'sim'" in err
