"""The compressed_sensing config section."""

import pytest
import yaml
from test_workflow import ROOT

from exprbench import config as config_module
from exprbench.compressed_sensing import settings


def resolve(section, datasets=None):
    config = {"model_dir": str(ROOT / "config" / "models"),
              "datasets": datasets or {"all": {"source": "bioc_all"}}, "compressed_sensing": section}
    return config_module.resolve(config, "test.yaml")["compressed_sensing"]


def test_defaults_fill_an_experiment_and_jobs_cover_method_by_seed():
    resolved = resolve({"experiments": {"e": {"dataset": "all", "measurements": [50, 20], "seeds": [0, 1],
                                              "methods": ["svd", "smaf"]}}})
    experiment = resolved["experiments"]["e"]
    assert experiment["measurements"] == [20, 50] and experiment["sparsity"] == 15 and experiment["snr"] == 2
    assert experiment["n_genes"] == 500 and experiment["clip_percentile"] == 99
    assert resolved["device"] == "auto"
    assert len(settings.jobs(resolved)) == 4
    assert settings.labels_used(resolved) == {}


@pytest.mark.parametrize("section, key", [
    ({"experiments": {"e": {"dataset": "all", "sparsty": 5}}}, "compressed_sensing.experiments.e.sparsty"),
    ({"experiments": {"e": {"dataset": "nope"}}}, "compressed_sensing.experiments.e.dataset"),
    ({"experiments": {"e": {"dataset": "all", "methods": ["k_svd"]}}}, "compressed_sensing.experiments.e.methods"),
    ({"experiments": {"e": {"dataset": "all", "methods": ["smaf"], "method_params": {"smaf": {"n_iters": 3}}}}},
     "compressed_sensing.experiments.e.method_params.smaf.n_iters"),
    ({"experiments": {"e": {"dataset": "all", "methods": ["nn_smaf"],
                            "method_params": {"nn_smaf": {"smaf": {"n_itr": 3}}}}}},
     "compressed_sensing.experiments.e.method_params.nn_smaf.smaf.n_itr"),
    ({"experiments": {"e": {"dataset": "all", "n_genes": 50, "measurements": [100]}}},
     "compressed_sensing.experiments.e.measurements"),
    ({"experiments": {"e": {"dataset": "all", "snr": 0}}}, "compressed_sensing.experiments.e.snr"),
])
def test_bad_settings_name_their_key(section, key):
    with pytest.raises(config_module.ConfigError) as error:
        resolve(section)
    assert error.value.key == key


def test_shipped_experiment_configs_resolve():
    for path in sorted((ROOT / "config" / "experiments").glob("compressed_sensing_*.yaml")):
        config = yaml.safe_load(path.read_text())
        config["model_dir"] = str(ROOT / "config" / "models")
        resolved = config_module.resolve(config, path)
        assert settings.jobs(resolved["compressed_sensing"])
