import pytest

from exprbench import devices
from exprbench.classification.settings import fit_resources
from exprbench.config import resolve


@pytest.mark.parametrize(
    "setting, device, local, expected",
    [("auto", "auto", 0, 0), ("auto", "auto", 2, 1), ("auto", "cuda", 1, 1), ("auto", "cpu", 4, 0),
     (1, "auto", 0, 1), (0, "cuda", 8, 0), (1, "cpu", 1, 0)],
)
def test_gpus_per_fit(setting, device, local, expected):
    assert devices.gpus_per_fit(setting, device, local) == expected


def test_gpu_count_without_nvidia_smi(monkeypatch):
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)
    assert devices.local_gpu_count() == 0


def test_gpu_count_parses_nvidia_smi(monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: x)'\necho 'GPU 1: NVIDIA H100 (UUID: y)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert devices.local_gpu_count() == 2


def test_fit_resources_scale_with_attempt_model_and_data(monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    config = resolve({
        "resources": {"fit": {"mem_mb": 1000, "runtime": 20}},
        "datasets": {"sim": {"source": "simulated"}},
        "tasks": {"t": {"dataset": "sim", "label": "label", "kind": "binary", "models": ["mlp3"]}},
    }, "c.yaml")
    first = fit_resources(config, "mlp3", dataset_mb=100, attempt=1)
    assert first == {"mem_mb": 1800, "runtime": 20}
    assert fit_resources(config, "mlp3", dataset_mb=100, attempt=2) == {"mem_mb": 3600, "runtime": 40}
    config["models"]["mlp3"]["resources"] = {"runtime": 90}
    assert fit_resources(config, "mlp3", dataset_mb=0, attempt=1) == {"mem_mb": 1000, "runtime": 90}


def test_resolve_device_names_the_accepted_values():
    import torch

    from exprbench.devices import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("gpu")
