"""Families are plugins: each is one subpackage, found without a list to edit, and
every heavy job of every family is retried, benchmarked and leaves a failure row."""

import ast
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import test_biclustering_workflow
import test_compressed_sensing_workflow
import test_generative_workflow
import test_inference_workflow
import test_ssl_workflow
import yaml
from test_workflow import ROOT, snakemake

from exprbench.config import load_schema
from exprbench.family import families

PACKAGE = ROOT / "src" / "exprbench"
FAMILY_NAMES = {fam.name for fam in families()}


def test_the_four_families_sit_side_by_side_and_are_discovered():
    assert {"classification", "ssl", "inference", "compressed_sensing"} <= FAMILY_NAMES
    for fam in families():
        settings = fam.settings()
        for hook in ("resolve", "labels_used", "jobs"):
            assert callable(getattr(settings, hook)), f"{fam.name}.settings lacks {hook}"
        assert callable(fam.cli().add_commands)
        assert fam.rules_file.is_file()
        if not fam.config_keys:
            assert load_schema(fam.schema_name)["type"] == "object"
            assert fam.name in load_schema("config.schema.yaml")["properties"]


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file of the package imports."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_of_the_core_imports_a_family():
    core = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in FAMILY_NAMES]
    assert len(core) > 20
    for path in core:
        for module in _imported_modules(path):
            parts = module.split(".")
            assert not (len(parts) > 1 and parts[0] == "exprbench" and parts[1] in FAMILY_NAMES), \
                f"{path.relative_to(ROOT)} imports {module}; reach a family through exprbench.family instead"


def _heavy_rules(text: str) -> list[tuple[str, str]]:
    """(name, body) of every rule of a rules file that is not a local rule."""
    rules = re.split(r"\n(?=[ \t]*rule\b[ \t]*\w*:)", text)
    found = []
    for block in rules[1:]:
        name = re.match(r"[ \t]*rule[ \t]*(\w*):", block).group(1) or "unnamed"
        if "localrule: True" not in block:
            found.append((name, block))
    return found


@pytest.mark.parametrize("family", sorted(FAMILY_NAMES - {"classification"}))
def test_every_heavy_rule_is_retried_benchmarked_logged_and_guarded(family):
    text = (PACKAGE / family / "rules.smk").read_text()
    heavy = _heavy_rules(text)
    assert heavy, f"{family} has no heavy rule"
    for name, body in heavy:
        for directive in ("retries: FAMILY_RETRIES", "benchmark:", "log:", "**heavy_resources(", "guarded(",
                          "job_keys=job_keys"):
            assert directive in body, f"{family}: rule {name} lacks {directive}"


TEMPLATE = ROOT / "docs" / "templates" / "family"


@pytest.mark.slow
def test_a_new_family_is_one_subpackage_and_runs_through_snakemake(tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "exprbench", ignore=shutil.ignore_patterns("__pycache__"))
    # The family template of docs/extending.md, as a new subpackage of a copy of the package.
    shutil.copytree(TEMPLATE, src / "exprbench" / "toy")
    monkeypatch.setenv("PYTHONPATH", str(src))
    work = tmp_path / "work"
    work.mkdir()
    config = {"datasets": {"unused": {"source": "simulated"}}, "toy": {"values": [2, 3, 13]}, "fit_retries": 1}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(work), "--configfile",
                       str(work / "config.yaml"), "--cores", "1", cwd=work)

    summary = pd.read_csv(work / "results" / "toy" / "summary.tsv", sep="\t").set_index("value")
    assert summary.loc[3, "square"] == 9 and summary.loc[3, "status"] == "ok"
    assert summary.loc[13, "status"] == "failed" and "13 is unlucky" in summary.loc[13, "error"]
    assert (work / "results" / "benchmarks" / "toy" / "2.tsv").is_file()
    assert "toy squares: failed: value=13" in result.stderr
    # The toy family's command is there only in the copy: nothing outside it was edited.
    assert not (PACKAGE / "toy").exists()


FAILING = {
    # family: the command of its heavy rule that is made to fail
    "compressed_sensing": "cs-fit",
    "inference": "inference-fit",
    "ssl": "ssl-finetune",
    "generative": "gen-fit",
    "biclustering": "bicluster-fit",
}


@pytest.mark.slow
def test_a_failing_job_of_each_family_leaves_a_failure_row_and_the_run_completes(tmp_path, monkeypatch):
    # One run holds the families' tiny experiments (their datasets share a name and
    # shape enough for that); each one's heavy jobs fail.
    # Biclustering's experiment is planted and reads no dataset: first, so that its
    # bare "sim" entry gives way to the others'.
    parts = [test_biclustering_workflow.tiny_config(),
             test_compressed_sensing_workflow.tiny_config(), test_inference_workflow.full_config(tmp_path),
             yaml.safe_load(test_ssl_workflow.tiny_config(tmp_path).read_text()),
             test_generative_workflow.tiny_config()]
    config = {key: value for part in parts for key, value in part.items()}
    config["datasets"] = {name: entry for part in parts for name, entry in part["datasets"].items()}
    config["fit_retries"] = 0
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("EXPRBENCH_FAIL_COMMAND", ",".join(FAILING.values()))
    snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(path),
              "--cores", "2", "--until", *(f"{family}_summarize" for family in FAILING), cwd=tmp_path)
    for family in FAILING:
        summary = pd.read_csv(tmp_path / "results" / family / "summary.tsv", sep="\t")
        failed = summary[summary["status"] == "failed"]
        assert len(failed) and failed["error"].str.contains("failed on purpose").all(), family


def test_figure_names_come_from_one_registry_per_family():
    """The rules' figure outputs are built from the names the figure code draws."""
    from exprbench.ssl import figures as ssl_figures
    from exprbench.ssl import settings as ssl_settings

    assert list(ssl_figures.PLOTTERS) == list(ssl_settings.FIGURES)
    registries = {"classification": "FIGURE_NAMES", "inference": "FIGURE_NAMES",
                  "compressed_sensing": "FIGURE_NAMES", "generative": "KINDS"}
    for family, constant in registries.items():
        names = getattr(__import__(f"exprbench.{family}.figures", fromlist=[constant]), constant)
        rules = "".join(path.read_text() for path in (PACKAGE / family).glob("rules*.smk"))
        assert f"{family}_figures.{constant}" in rules, family
        for name in names:  # no figure name is spelled out a second time in the rules
            assert f'"{name}"' not in rules, (family, name)
