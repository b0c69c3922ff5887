"""Inference family: metrics, preprocessing steps, gene choice, splits, batches, the npy source."""

import numpy as np
import pandas as pd
import pytest

from exprbench.inference.batches import ArrayBatches, StoreBatches
from exprbench.inference.data import (
    STD_OFFSET,
    choose_genes,
    fit_scalings,
    fraction_rows,
    gene_columns,
    membership,
    split_parts,
    zscore,
    zscore_statistics,
)
from exprbench.inference.metrics import ScoreAccumulator, ccc, ccc_per_gene, mae, mae_per_gene
from exprbench.quantile import map_to_reference_quantiles
from exprbench.sources.dgex_geo import near_duplicates, probe_averaging_matrix
from exprbench.sources.dgex_npy import DgexNpy
from exprbench.store import ExpressionData, open_dataset, write_dataset

# ------------------------------------------------------------------------ metrics


def test_ccc_matches_hand_computation_with_population_variances():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 2.0, 4.0, 4.0])
    # means 2.5 and 3; population variances 1.25 and 1; covariance (1.5*1 + .5*1 + .5*1 + 1.5*1)/4 = 1.
    expected = 2 * 1.0 / (1.25 + 1.0 + 0.5 ** 2)  # = 0.8
    assert expected == pytest.approx(0.8)
    assert ccc_per_gene(y[:, None], p[:, None])[0] == pytest.approx(expected)
    # A perfect prediction scores 1; a shifted one less than its Pearson correlation (1).
    assert ccc(y[:, None], y[:, None]) == pytest.approx(1.0)
    assert ccc(y[:, None], y[:, None] + 1) == pytest.approx(2 * 1.25 / (2.5 + 1))


def test_mae_is_mean_over_all_entries_and_of_per_gene_maes():
    Y = np.array([[0.0, 1.0], [2.0, 3.0]])
    P = np.array([[1.0, 1.0], [2.0, 0.0]])
    assert mae(Y, P) == pytest.approx(1.0)
    assert mae_per_gene(Y, P).tolist() == [0.5, 1.5]


def test_score_accumulator_over_blocks_equals_whole_matrix():
    rng = np.random.default_rng(0)
    Y = rng.normal(5, 2, size=(50, 7))
    P = Y + rng.normal(0.3, 1, size=Y.shape)
    accumulator = ScoreAccumulator(7)
    for rows in (slice(0, 13), slice(13, 14), slice(14, 50)):
        accumulator.add(Y[rows], P[rows])
    np.testing.assert_allclose(accumulator.ccc_per_gene(), ccc_per_gene(Y, P))
    np.testing.assert_allclose(accumulator.mae_per_gene(), mae_per_gene(Y, P))
    # Reference: the textbook formula with np.var / np.mean (population moments).
    g = 3
    cov = np.mean((Y[:, g] - Y[:, g].mean()) * (P[:, g] - P[:, g].mean()))
    lin = 2 * cov / (Y[:, g].var() + P[:, g].var() + (Y[:, g].mean() - P[:, g].mean()) ** 2)
    assert accumulator.ccc_per_gene()[g] == pytest.approx(lin)


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        mae(np.zeros((2, 3)), np.zeros((3, 2)))


# ------------------------------------------------------------ D-GEX preprocessing steps
# Quantile normalisation and de-duplication have their own tests in test_source_dgex.py.


def test_probe_averaging_takes_the_mean_of_each_genes_probes():
    gene_map = pd.DataFrame({"gene_id": ["G1", "G2"], "symbol": ["A", "B"], "probes": [["p1", "p3"], ["p2"]]})
    averaging = probe_averaging_matrix(gene_map, np.array(["p1", "p2", "p3"]), "map")
    profiles = np.array([[1.0, 5.0, 3.0], [4.0, 0.0, 8.0]])
    np.testing.assert_allclose(profiles @ averaging, [[2.0, 5.0], [6.0, 0.0]])


def test_near_duplicates_within_distance_are_dropped_once():
    profiles = np.array([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
    assert near_duplicates(profiles, 1.0).tolist() == [False, True, False]


def test_rnaseq_mapping_onto_geo_quantiles_small_hand_example():
    reference = np.array([4.0, 6.0, 8.0, 10.0, 12.0])
    # Distinct values 0 < 1 < 9 (u = 3, n = 5): int(k+1)/3*5) - 1 -> 0, 2, 4.
    assert map_to_reference_quantiles([[9.0, 0.0, 1.0, 0.0, 9.0]], reference).tolist() == \
        [[12.0, 4.0, 8.0, 4.0, 12.0]]


def test_zscore_per_gene_uses_population_std_plus_dgex_offset():
    X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    mean, std = zscore_statistics([X[:1], X[1:]])
    np.testing.assert_allclose(mean, [3.0, 10.0])
    np.testing.assert_allclose(std, [np.sqrt(8 / 3) + STD_OFFSET, STD_OFFSET])
    Z = zscore(X, mean, std)
    np.testing.assert_allclose(Z[:, 1], 0.0)
    np.testing.assert_allclose(Z[:, 0], (X[:, 0] - 3) / (np.sqrt(8 / 3) + STD_OFFSET), rtol=1e-6)


# ---------------------------------------------------------------------- stores and splits


def _store(path, n_samples=30, n_genes=12, seed=0, provenance=None, gene_prefix="g", extra=None):
    rng = np.random.default_rng(seed)
    ids = [f"{path.stem}{i:03d}" for i in range(n_samples)]
    samples = pd.DataFrame({"sample_id": ids, "study": ids, "donor": ids, **(extra or {})})
    genes = pd.DataFrame({"gene_id": [f"{gene_prefix}{j}" for j in range(n_genes)],
                          "symbol": [f"S{j}" for j in range(n_genes)]})
    expression = (rng.normal(size=(n_samples, n_genes)) * 2.0 ** np.arange(n_genes) + 5).astype(np.float32)
    write_dataset(path, ExpressionData(expression, samples, genes,
                                       {"source": "test", "source_version": "1", "preprocessing": [],
                                        **(provenance or {})}))
    return expression


def _store_matrix(path, expression):
    """Rewrite a ``_store`` file with a changed expression matrix (same samples and genes)."""
    with open_dataset(path) as reader:
        samples, genes, provenance = reader.samples, reader.genes, reader.provenance
    write_dataset(path, ExpressionData(expression.astype(np.float32), samples, genes, provenance))


def test_landmarks_from_provenance_and_random_landmarks_with_most_variable_targets(tmp_path):
    path = tmp_path / "d.h5"
    _store(path, provenance={"n_landmarks": 3, "landmark_genes": ["g0", "g1", "g2"]})
    chosen = choose_genes(path, {"from": "provenance"}, {"count": None})
    assert chosen.landmark_ids == ["g0", "g1", "g2"] and chosen.target_ids == [f"g{j}" for j in range(3, 12)]
    random = choose_genes(path, {"count": 4, "seed": 1}, {"count": 3, "select": "variance"}, "t")
    assert len(random.landmark_ids) == 4 and not set(random.landmark_ids) & set(random.target_ids)
    rest = [f"g{j}" for j in range(12) if f"g{j}" not in random.landmark_ids]
    # Gene j's spread grows with j: the most variable remaining genes are the last three.
    assert random.target_ids == rest[-3:]
    assert choose_genes(path, {"count": 4, "seed": 1}, {"count": 3}, "t") == random


def test_variance_targets_are_ranked_on_the_training_rows_only(tmp_path):
    from exprbench.inference.job import InferenceJob

    path = tmp_path / "d.h5"
    expression = _store(path, n_samples=40)
    task = {"name": "t", "dataset": "d", "datasets": ["d"], "landmarks": {"count": 4, "seed": 1},
            "targets": {"count": 3, "select": "variance"}, "split": {"fractions": [0.8, 0.1, 0.1], "seed": 0},
            "zscore_fit_on": "all"}
    landmarks = choose_genes(path, task["landmarks"], task["targets"], "t").landmark_ids
    quiet = next(f"g{j}" for j in range(12) if f"g{j}" not in landmarks)  # the least variable candidate
    # Huge values in the validation and test rows only: ranked there, this gene would be a target.
    held_out = np.concatenate([rows for role, rows in fraction_rows(40, [0.8, 0.1, 0.1], 0, "t").items()
                               if role != "train"])
    expression[held_out, int(quiet[1:])] += 1e4
    _store_matrix(path, expression)
    assert quiet in choose_genes(path, task["landmarks"], task["targets"], "t").target_ids
    genes, parts, _ = InferenceJob(task, {"name": "lsr", "estimator": "lsr", "params": {}, "grid": {}}, 0,
                                   {"d": str(path)}, device="cpu").sources()
    assert genes.landmark_ids == landmarks and quiet not in genes.target_ids
    train_std = expression[parts["train"].rows].std(axis=0)
    candidates = [j for j in range(12) if f"g{j}" not in landmarks]
    assert genes.target_ids == [f"g{j}" for j in sorted(sorted(candidates, key=lambda j: -train_std[j])[:3])]


def test_provenance_landmarks_need_a_store_that_records_them(tmp_path):
    path = tmp_path / "d.h5"
    _store(path)
    with pytest.raises(ValueError, match="landmarks"):
        choose_genes(path, {"from": "provenance"}, {"count": None})


def test_fraction_split_is_seeded_disjoint_and_complete():
    rows = fraction_rows(100, [0.8, 0.1, 0.1], 0, "task")
    assert [len(rows[r]) for r in ("train", "validation", "test")] == [80, 10, 10]
    assert sorted(np.concatenate(list(rows.values()))) == list(range(100))
    again = fraction_rows(100, [0.8, 0.1, 0.1], 0, "task")
    assert all(np.array_equal(rows[r], again[r]) for r in rows)
    assert not np.array_equal(rows["test"], fraction_rows(100, [0.8, 0.1, 0.1], 1, "task")["test"])


def test_by_column_and_cross_platform_splits(tmp_path):
    roles = ["train"] * 20 + ["validation"] * 5 + ["test"] * 5
    _store(tmp_path / "npy.h5", extra={"split": roles})
    task = {"name": "t", "dataset": "npy", "split": {"by_column": "split"}}
    parts = split_parts(task, {"npy": str(tmp_path / "npy.h5")})
    assert [len(parts[r].rows) for r in ("train", "validation", "test")] == [20, 5, 5]
    _store(tmp_path / "geo.h5", n_samples=40)
    _store(tmp_path / "g1000.h5", n_samples=7, seed=1)
    _store(tmp_path / "gtex.h5", n_samples=9, seed=2)
    paths = {d: str(tmp_path / f"{d}.h5") for d in ("geo", "g1000", "gtex")}
    task = {"name": "x", "dataset": "geo", "split": {"fractions": [0.8, 0.1, 0.1], "seed": 0,
                                                     "validation": "g1000", "test": "gtex"}}
    parts = split_parts(task, paths)
    assert (parts["train"].dataset, len(parts["train"].rows)) == ("geo", 32)
    assert (parts["validation"].dataset, len(parts["validation"].rows)) == ("g1000", 7)
    assert (parts["test"].dataset, len(parts["test"].rows)) == ("gtex", 9)
    table = membership(parts)
    assert set(table.columns) == {"dataset", "sample_id", "row", "split"} and len(table) == 48


def test_zscore_within_each_dataset_or_from_training_rows(tmp_path):
    geo = _store(tmp_path / "geo.h5", n_samples=40)
    gtex = _store(tmp_path / "gtex.h5", n_samples=9, seed=2)
    paths = {d: str(tmp_path / f"{d}.h5") for d in ("geo", "gtex")}
    task = {"name": "x", "dataset": "geo", "split": {"fractions": [0.8, 0.1, 0.1], "seed": 0, "test": "gtex"}}
    parts = split_parts(task, paths)
    columns = {d: gene_columns(paths[d], [f"g{j}" for j in range(12)]) for d in paths}
    own = fit_scalings(parts, columns, "all")
    np.testing.assert_allclose(own["geo"].mean, geo.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(own["gtex"].mean, gtex.mean(axis=0), rtol=1e-5)
    shared = fit_scalings(parts, columns, "train")
    np.testing.assert_allclose(shared["gtex"].mean, geo[parts["train"].rows].mean(axis=0), rtol=1e-5)


def test_datasets_without_the_tasks_genes_are_refused(tmp_path):
    _store(tmp_path / "d.h5", gene_prefix="x")
    with pytest.raises(ValueError, match="lacks 2 of the task's genes"):
        gene_columns(tmp_path / "d.h5", ["g0", "g1"])


# ------------------------------------------------------------------------------ batches


def test_streamed_batches_visit_every_row_once_in_a_seeded_order(tmp_path):
    path = tmp_path / "d.h5"
    expression = _store(path, n_samples=50)
    rows = np.arange(3, 47)
    mean, std = np.zeros(12), np.ones(12)
    stream = StoreBatches(path, rows, np.arange(4), np.arange(4, 12), mean, std, batch_size=8, seed=3,
                          chunk_rows=10, max_in_memory_mb=0)
    assert not stream.in_memory
    seen = np.concatenate([X for X, _ in stream.epoch(0)])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, expression[rows, :4]))
    first = [X for X, _ in stream.epoch(0)]
    assert all(np.array_equal(a, b) for a, (b, _) in zip(first, stream.epoch(0), strict=False))
    assert not np.array_equal(np.concatenate(first), np.concatenate([X for X, _ in stream.epoch(1)]))
    X, Y = stream.arrays()
    np.testing.assert_allclose(Y, expression[rows, 4:])
    loaded = StoreBatches(path, rows, np.arange(4), np.arange(4, 12), mean, std, batch_size=8, seed=3)
    assert loaded.in_memory
    np.testing.assert_array_equal(loaded.arrays()[0], X)
    assert stream.subset(5, "k")[0].shape == (5, 4)


def test_array_batches_reject_mismatched_rows():
    with pytest.raises(ValueError, match="one row per sample"):
        ArrayBatches(np.zeros((3, 2)), np.zeros((4, 2)))


# ---------------------------------------------------------------------------- npy source


@pytest.mark.parametrize("transposed", [False, True])
def test_dgex_npy_source_writes_one_store_with_split_column(tmp_path, transposed):
    rng = np.random.default_rng(0)
    sizes = {"tr": 6, "va": 2, "te": 3}
    for part, n in sizes.items():
        X, Y = rng.normal(size=(n, 4)), rng.normal(size=(n, 5))
        np.save(tmp_path / f"bgedv2_X_{part}_float64.npy", X.T if transposed else X)
        np.save(tmp_path / f"bgedv2_Y_{part}_float64.npy", Y.T if transposed else Y)
    out = tmp_path / "store.h5"
    DgexNpy(path=str(tmp_path), block_samples=4).write(out, {})
    with open_dataset(out) as reader:
        assert reader.shape == (11, 9)
        assert reader.samples["split"].tolist() == ["train"] * 6 + ["validation"] * 2 + ["test"] * 3
        assert reader.provenance["n_landmarks"] == 4
        assert reader.genes["gene_id"].tolist()[:5] == ["lm0000", "lm0001", "lm0002", "lm0003", "tg0000"]
        X_te = np.load(tmp_path / "bgedv2_X_te_float64.npy")
        np.testing.assert_allclose(reader.read_expression()[8:, :4], X_te.T if transposed else X_te, rtol=1e-6)


def test_dgex_npy_source_names_missing_files(tmp_path):
    with pytest.raises(ValueError, match="bgedv2_X_tr_float64.npy not found"):
        DgexNpy(path=str(tmp_path)).write(tmp_path / "s.h5", {})


def test_prefetching_keeps_order_and_passes_errors_on():
    from exprbench.inference.batches import prefetched

    assert list(prefetched(iter(range(10)), depth=2)) == list(range(10))

    def failing():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(prefetched(failing()))
    early = prefetched(iter(range(100)), depth=1)
    assert next(early) == 0
    early.close()  # abandoning an epoch half-way stops the reader
