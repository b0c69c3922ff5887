"""The table a finished run ends with: the best model of every task, per family."""

import numpy as np
import pandas as pd

from exprbench.run_summary import best_models, format_table, report_command, run_summary


def write(path, rows):
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def classification_rows():
    rows = []
    for model, plain, limma in [("logistic_regression", 0.90, 0.50), ("mlp3", 0.88, 0.61)]:
        for fold in (0, 1):
            for fraction, scale in ((0.5, 0.5), (1.0, 1.0)):
                rows.append({"task": "sim", "model": model, "signal_removal": "none", "fold": fold,
                             "train_fraction": fraction, "balanced_accuracy": plain * scale, "status": "ok"})
                rows.append({"task": "sim", "model": model, "signal_removal": "limma", "fold": fold,
                             "train_fraction": fraction, "balanced_accuracy": limma * scale, "status": "ok"})
    # A failed fit has no score and must not count.
    rows.append({"task": "sim", "model": "mlp5", "signal_removal": "none", "fold": 0, "train_fraction": 1.0,
                 "balanced_accuracy": np.nan, "status": "failed"})
    return rows


def test_best_model_per_task_of_every_family(tmp_path):
    summaries = {
        "classification": write(tmp_path / "c.tsv", classification_rows()),
        "ssl": write(tmp_path / "s.tsv", [
            {"experiment": "tiny", "method": m, "mode": mode, "proportion": p, "accuracy": acc}
            for m, mode, acc in [("baseline", "unfrozen", 0.5), ("scarf", "unfrozen", 0.6), ("scarf", "frozen", 0.4)]
            for p in (0.1, 1.0)]),
        "inference": write(tmp_path / "i.tsv", [
            {"task": "all", "model": m, "seed": s, "mae": mae + s / 100, "status": "ok"}
            for m, mae in [("lsr", 0.40), ("dgex", 0.35), ("deep_lsmtl", 0.33)] for s in (0, 1)]),
        "compressed_sensing": write(tmp_path / "cs.tsv", [
            {"experiment": "all_cs", "method": m, "measurements": d, "gene_pearson": r}
            for m, d, r in [("svd_top_k", 20, 0.3), ("smaf", 20, 0.5), ("svd_top_k", 100, 0.8), ("smaf", 100, 0.7),
                            ("mean_profile", 100, np.nan)]]),
    }
    table = best_models(summaries)
    rows = {row.family: row for row in table.itertuples()}
    assert rows["classification"].task == "sim" and rows["classification"].best == "logistic_regression"
    assert rows["classification"].score == "balanced accuracy 0.900; after limma: mlp3 0.610"
    assert rows["classification"].runner_up == "mlp3 0.880"
    assert (rows["ssl"].best, rows["ssl"].score) == ("scarf unfrozen", "mean accuracy over p 0.600")
    assert (rows["inference"].best, rows["inference"].score) == ("deep_lsmtl", "MAE 0.335")
    assert rows["compressed_sensing"].best == "svd_top_k"
    assert rows["compressed_sensing"].score == "gene Pearson at 100 measurements 0.800"
    assert rows["compressed_sensing"].runner_up == "smaf 0.700", "mean_profile has no gene Pearson"

    text = format_table(table)
    lines = text.splitlines()
    assert lines[0].split() == ["family", "task", "best", "model", "score", "runner-up"]
    assert set(lines[1]) == {"-", " "} and len(lines) == 2 + 4


def test_families_that_did_not_run_are_left_out(tmp_path):
    summaries = {"inference": tmp_path / "not_run.tsv",
                 "classification": write(tmp_path / "c.tsv", classification_rows())}
    assert list(best_models(summaries)["family"]) == ["classification"]
    assert format_table(best_models({})) == "no results to rank"


def test_the_run_ends_with_the_table_the_figures_and_the_report_command(tmp_path):
    text = run_summary({"classification": write(tmp_path / "c.tsv", classification_rows())},
                       {"classification": "figures", "ssl": "figures/ssl"}, "config/config.yaml")
    assert text.startswith("Best model per task:\n")
    assert "  classification: figures/\n  ssl: figures/ssl/" in text
    assert text.endswith("make report CONFIG=config/config.yaml  (writes results/report.html)")
    assert report_command("config/experiments/gtex.yaml").endswith("(writes results/report_gtex.html)")
