"""Setup files agree with each other: conda envs pin what pyproject pins."""

import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject_pins(extras: bool = False) -> dict[str, str]:
    """The pinned dependencies, and with ``extras`` the optional ones too."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    if extras:
        requirements += [r for group in project["optional-dependencies"].values() for r in group]
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"pyproject.toml: {requirement!r} must be pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def conda_pip_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {
        name.strip().lower(): version.strip()
        for name, _, version in (line.partition("==") for line in pip_section)
        if version
    }


@pytest.mark.parametrize("env_file", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_conda_env_pins_match_pyproject(env_file):
    expected = pyproject_pins(extras=True)
    for name, version in conda_pip_pins(env_file).items():
        assert name in expected, f"{env_file.name} pins {name}, which pyproject.toml does not declare"
        assert version == expected[name], f"{env_file.name}: {name}=={version} but pyproject.toml has {expected[name]}"


def test_full_env_carries_every_dependency():
    env_pins = conda_pip_pins(ROOT / "envs" / "exprbench.yaml")
    assert pyproject_pins().items() <= env_pins.items()


def test_full_env_carries_the_mlflow_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["mlflow"]
    assert set(extra) <= set(project["optional-dependencies"]["dev"]), "tests need the extra"
    env_pins = conda_pip_pins(ROOT / "envs" / "exprbench.yaml")
    for requirement in extra:
        name, _, version = requirement.partition("==")
        assert env_pins.get(name) == version, f"envs/exprbench.yaml lacks {requirement}"


def test_setup_pins_torch_and_rpy2():
    pins = pyproject_pins()
    assert pins["torch"] == "2.13.0" and pins["rpy2"] == "3.5.17"
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()
