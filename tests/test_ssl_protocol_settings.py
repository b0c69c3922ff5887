"""The ssl config section: defaults, the job grid, figure plan and readable errors."""

import pytest

from exprbench import config as config_module
from exprbench.ssl import settings

DATASETS = {"syn": {"source": "synthetic_compendium"}, "sim": {"source": "simulated"}}


def resolve(experiment=None, **section):
    experiment = {"pretrain_dataset": "syn", "label": "tissue", **(experiment or {})}
    raw = {"datasets": DATASETS, "ssl": {"experiments": {"e": experiment}, **section}}
    return config_module.resolve(raw, "cfg.yaml")


def test_defaults_follow_the_paper_and_fill_every_key():
    ssl = resolve()["ssl"]
    exp = ssl["experiments"]["e"]
    assert exp["finetune_dataset"] == "syn" and not exp["shared_genes"]
    assert exp["finetune"]["patience"] == 30 and exp["finetune"]["max_epochs"] == 300
    assert exp["finetune"]["learning_rate"] == 1e-3  # every arm, as the reference's supervised baseline
    assert (exp["split"]["val_fraction"], exp["split"]["val_min_per_class"]) == (0.15, 1)
    assert all("keep" not in params for params in exp["method_params"].values())  # the methods' last_epoch
    assert exp["finetune"]["batch_size"] == 8 and exp["finetune"]["repeats"] == 5
    assert exp["architectures"] == [{"name": "d4w256", "depth": 4, "width": 256}]
    assert exp["methods"] == ["scarf", "vime", "byol"]
    assert exp["aupc"] == {"low": 0.02, "high": 0.3}
    assert ssl["device"] == "auto"
    assert ssl["figures"]["make"] == ["accuracy_vs_p", "spectra"]
    assert set(ssl["figures"]["skipped"]) == {"gain_heatmap", "accuracy_vs_pretrain_size"}


def test_grid_shorthand_matches_the_paper_grid():
    exp = resolve({"finetune": {"proportions": {"from": 0.02, "to": 1.0, "step": 0.01}}})["ssl"]["experiments"]["e"]
    assert len(exp["finetune"]["proportions"]) == 99
    assert exp["finetune"]["proportions"][:3] == [0.02, 0.03, 0.04] and exp["finetune"]["proportions"][-1] == 1.0


def test_job_grid_sweeps_architectures_and_pretraining_sizes():
    ssl = resolve({"methods": ["scarf", "byol"], "finetune": {"modes": ["unfrozen"]},
                   "architectures": [{"depth": 4, "width": 256}, {"depth": 2, "width": 1024}],
                   "pretrain_sizes": [0.1, 0.5, 1.0], "seeds": [0, 1]})["ssl"]
    pretrain = settings.pretrain_jobs(ssl)
    # Architectures on the whole pretraining set, sizes on the main architecture only.
    runs = {(j["architecture"], j["pretrain"]) for j in pretrain}
    assert runs == {("d4w256", "q1"), ("d2w1024", "q1"), ("d4w256", "q0.1"), ("d4w256", "q0.5")}
    assert len(pretrain) == 2 * 2 * 4
    finetune = settings.finetune_jobs(ssl)
    baselines = [j for j in finetune if j["method"] == "baseline"]
    assert len(baselines) == 2 * 2 and {j["pretrain"] for j in baselines} == {"none"}
    assert len(finetune) == len(pretrain) + len(baselines)
    assert ssl["figures"]["make"] == list(settings.FIGURES)
    assert len(settings.jobs(ssl)) == len(pretrain) + len(finetune)


def test_cross_dataset_experiments_use_shared_genes_and_both_labels():
    raw = {"datasets": {"a": {"source": "synthetic_compendium"}, "b": {"source": "synthetic_compendium"}},
           "ssl": {"experiments": {"a_to_b": {"pretrain_dataset": "a", "finetune_dataset": "b", "label": "tissue",
                                              "pretrain_label": "true_tissue"}}}}
    resolved = config_module.resolve(raw, "cfg.yaml")
    assert resolved["ssl"]["experiments"]["a_to_b"]["shared_genes"]
    assert settings.labels_used(resolved["ssl"]) == {"a": ["true_tissue"], "b": ["tissue"]}
    assert config_module.labels_used(resolved, "b") == ["tissue"]


@pytest.mark.parametrize("experiment, section, expected", [
    ({"label": "colour"}, {}, "ssl.experiments.e.label: 'colour' is not a label of dataset 'syn'"),
    ({"pretrain_dataset": "nope"}, {}, "ssl.experiments.e.pretrain_dataset: unknown dataset 'nope'"),
    ({"methods": ["simclr"]}, {}, "ssl.experiments.e.methods: unknown method 'simclr'"),
    ({"method_params": {"scarf": {"temprature": 0.5}}}, {}, "ssl.experiments.e.method_params.scarf.temprature"),
    ({"finetune": {"mode": ["frozen"]}}, {}, "ssl.experiments.e.finetune.mode: unknown key; did you mean 'modes'?"),
    ({"finetune": {"proportions": [0, 0.5]}}, {}, "ssl.experiments.e.finetune.proportions"),
    ({"aupc": {"low": 0.3, "high": 0.1}}, {}, "ssl.experiments.e.aupc: low (0.3) must be below high (0.1)"),
    ({}, {"figure": {}}, "ssl.figure: unknown key; did you mean 'figures'?"),
])
def test_bad_settings_name_the_file_and_key(experiment, section, expected):
    with pytest.raises(config_module.ConfigError) as err:
        resolve(experiment, **section)
    assert str(err.value).startswith("cfg.yaml: ")
    assert expected in str(err.value)
