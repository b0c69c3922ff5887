"""A run of one config never silently overwrites the results and figures of another."""

import json

import pytest
from test_workflow import ROOT, snakemake, tiny_config

from exprbench.output_folders import REGISTRY_FILE, OutputFolderClash, claim_output_folders, read_registry

FOLDERS = {"results_dir": "results", "figures_dir": "figures"}


def test_a_second_config_is_refused_while_the_first_ones_outputs_are_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    claim_output_folders(FOLDERS, "config/config.yaml")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.tsv").write_text("task\n")
    with pytest.raises(OutputFolderClash) as clash:
        claim_output_folders(FOLDERS, "config/experiments/gtex.yaml")
    message = str(clash.value)
    assert message.startswith("config/experiments/gtex.yaml: results_dir: results/ "
                              "holds the outputs of config/config.yaml")
    assert "results_dir: results/gtex and figures_dir: figures/gtex" in message
    assert read_registry(".snakemake") == {"results": "config/config.yaml", "figures": "config/config.yaml"}


def test_the_same_config_own_folders_or_an_emptied_folder_are_fine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    claim_output_folders(FOLDERS, "config/config.yaml")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.tsv").write_text("task\n")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "README.md").write_text("kept in git\n")
    claim_output_folders(FOLDERS, "config/config.yaml")
    claim_output_folders({"results_dir": "results/gtex", "figures_dir": "figures/gtex"}, "config/experiments/gtex.yaml")
    (tmp_path / "results" / "summary.tsv").unlink()
    claim_output_folders(FOLDERS, "config/experiments/gtex.yaml")  # once emptied, another config may take it
    assert read_registry(".snakemake")["results"] == "config/experiments/gtex.yaml"


@pytest.mark.parametrize("extra", [[], ["-n"]], ids=["run", "dry-run"])
def test_the_workflow_stops_before_any_job_when_another_config_made_the_results(tmp_path, extra):
    other = tmp_path / "other.yaml"
    other.write_text("{}\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.tsv").write_text("made by other.yaml\n")
    (tmp_path / ".snakemake").mkdir()
    (tmp_path / ".snakemake" / REGISTRY_FILE).write_text(json.dumps({"results": str(other), "figures": str(other)}))
    result = snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                       "--configfile", str(tiny_config(tmp_path)), "--cores", "1", *extra, check=False)
    if extra:  # a dry run writes nothing, so it may look
        assert result.returncode == 0
        return
    assert result.returncode != 0
    assert f"results_dir: results/ holds the outputs of {other}" in result.stderr
    assert "results_dir: results/tiny and figures_dir: figures/tiny" in result.stderr
    assert (tmp_path / "results" / "summary.tsv").read_text() == "made by other.yaml\n"
    assert not (tmp_path / "results" / "tasks").exists(), "no job ran"
