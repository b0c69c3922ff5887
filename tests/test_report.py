"""The HTML report (`make report`, i.e. snakemake --report): every figure and summary
table of every family is in it, grouped by family, with its caption from report/."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_workflow import ROOT, run_workflow, snakemake, tiny_config

FAMILY_TITLES = {"classification": "Classification", "ssl": "Self-supervised learning",
                 "inference": "Gene inference", "compressed_sensing": "Compressed sensing"}
# What the workflow asks for with the config below: (file, family, caption file).
TARGETS = [
    ("results/summary.tsv", "classification", "summary"),
    ("figures/learning_curves.png", "classification", "learning_curves"),
    ("figures/binary_pairs.png", "classification", "binary_pairs"),
    ("results/ssl/summary.tsv", "ssl", "summary_table"),
    ("results/ssl/gains.tsv", "ssl", "gains_table"),
    ("results/ssl/spectra.tsv", "ssl", "spectra_table"),
    ("figures/ssl/accuracy_vs_p.png", "ssl", "accuracy_vs_p"),
    ("figures/ssl/spectra.png", "ssl", "spectra"),
    ("results/inference/summary.tsv", "inference", "summary"),
    ("figures/inference/scores.png", "inference", "scores"),
    ("figures/inference/per_gene_mae.png", "inference", "per_gene_mae"),
    ("figures/inference/relevance.png", "inference", "relevance"),
    ("results/compressed_sensing/summary.tsv", "compressed_sensing", "summary"),
    ("figures/compressed_sensing/tiny_correlation.png", "compressed_sensing", "correlation"),
    ("figures/compressed_sensing/tiny_distance.png", "compressed_sensing", "distance"),
]
# A valid 1x1 PNG, so the report embeds it as an image.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def all_families_config(tmp_path) -> Path:
    config = {
        "model_dir": str(ROOT / "config" / "models"),
        "datasets": {"sim": {"source": "simulated"}, "syn": {"source": "synthetic_compendium"}},
        "defaults": {"models": ["logistic_regression"], "seeds": [0], "signal_removal": ["none"]},
        "tasks": {"sim": {"dataset": "sim", "label": "label", "kind": "binary"}},
        "ssl": {"defaults": {"methods": ["scarf"], "architectures": [{"depth": 2, "width": 8}]},
                "experiments": {"tiny": {"pretrain_dataset": "syn", "label": "tissue"}}},
        "inference": {"model_dir": str(ROOT / "config" / "inference_models"),
                      "tasks": {"sim": {"dataset": "sim", "landmarks": {"count": 6, "seed": 0},
                                        "targets": {"count": 12},
                                        "models": ["lsr", "dgex_small", "deep_lsmtl_small"]}}},
        "compressed_sensing": {"experiments": {"tiny": {"dataset": "sim", "n_genes": 30, "measurements": [5],
                                                        "methods": ["svd_top_k"]}}},
    }
    path = tmp_path / "all_families.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def page_variable(html: str, name: str) -> dict:
    """A table the report's page script holds (``var <name> = {...}``)."""
    start = html.index(f"var {name} = {{") + len(f"var {name} = ")
    value, _ = json.JSONDecoder().raw_decode(html[start:])
    return value


def report_results(report: Path) -> dict:
    """path -> the report's entry for it, with its category and subcategory added."""
    html = report.read_text(encoding="utf-8")
    results = page_variable(html, "results")
    for category, subcategories in page_variable(html, "categories").items():
        for subcategory, paths in subcategories.items():
            for path in paths:
                results[path].update(category=category, subcategory=subcategory)
    return results


def build_report(workdir: Path, config: Path) -> dict:
    report = workdir / "report.html"
    snakemake("--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(config),
              "--report", str(report))
    return report_results(report)


def caption_start(family: str, caption: str) -> str:
    """The caption file's first words, as the report renders them for experiment 'tiny'."""
    text = (ROOT / "report" / family / f"{caption}.rst").read_text()
    return " ".join(text.replace("{{ snakemake.wildcards.experiment }}", "tiny").split()[:4])


def test_every_figure_and_table_of_every_family_is_in_the_report_with_its_caption(tmp_path):
    config = all_families_config(tmp_path)
    # The report reads finished outputs; the files stand in for a run's.
    for path, _, _ in TARGETS:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(PNG if path.endswith(".png") else b"a\tb\n1\t2\n")
        if path.endswith(".png"):
            target.with_suffix(".svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    results = build_report(tmp_path, config)

    assert sorted(results) == sorted(path for path, _, _ in TARGETS), "each PNG and table once, no SVG copies"
    for path, family, caption in TARGETS:
        entry = results[path]
        assert entry["category"] == FAMILY_TITLES[family], path
        assert caption_start(family, caption) in " ".join(entry["caption"].split()), path
        if path.endswith(".png"):
            assert entry["data_uri"].startswith("data:image/png"), path
    assert results["figures/compressed_sensing/tiny_correlation.png"]["caption"].startswith("<p>Experiment tiny:")
    assert results["figures/compressed_sensing/tiny_distance.png"]["subcategory"] == "experiment: tiny"
    assert results["figures/learning_curves.png"]["subcategory"] == "tasks: sim"
    assert results["figures/inference/scores.png"]["subcategory"] == "tasks: sim"


def test_every_caption_file_is_used():
    used = {(family, caption) for _, family, caption in TARGETS}
    used |= {("ssl", "gain_heatmap"), ("ssl", "accuracy_vs_pretrain_size")}  # drawn by sweep configs only
    # The newer families (not in the config above): their summary and each figure of their registry.
    from exprbench.biclustering import figures as biclustering_figures
    from exprbench.generative import figures as generative_figures

    used |= {("generative", name) for name in (*generative_figures.KINDS, "summary")}
    used |= {("biclustering", name) for name in
             (*biclustering_figures.PLANTED_KINDS, *biclustering_figures.STORE_KINDS, "summary")}
    on_disk = {(p.parent.name, p.stem) for p in (ROOT / "report").glob("*/*.rst")}
    assert on_disk == used
    assert (ROOT / "report" / "workflow.rst").is_file()


@pytest.mark.slow
def test_report_after_a_tiny_run_holds_each_figure(tmp_path):
    config = tiny_config(tmp_path, defaults={"split": {"folds": 2}, "train_fractions": [1.0],
                                             "tuning": {"n_trials": 1, "inner_folds": 2},
                                             "models": ["logistic_regression"], "seeds": [0],
                                             "signal_removal": ["none"]})
    run = run_workflow(tmp_path, config)
    assert "HTML report" in run.stdout + run.stderr
    results = build_report(tmp_path, config)
    figures = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "figures").glob("*.png"))
    assert figures == ["figures/binary_pairs.png", "figures/learning_curves.png"]
    assert sorted(results) == [*figures, "results/summary.tsv"]
    chromium = shutil.which("chromium")
    if chromium:  # the page opens in a browser and draws the figure
        shot = tmp_path / "report.png"
        subprocess.run([str(ROOT / "scripts" / "report_screenshot.py"), str(tmp_path / "report.html"), str(shot),
                        "figures/learning_curves.png"], check=True, timeout=180)
        assert shot.stat().st_size > 10_000
