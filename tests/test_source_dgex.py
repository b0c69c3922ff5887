"""D-GEX GEO source and the quantile helpers: tiny GCTX files served over local HTTPS."""


import h5py
import numpy as np
import pytest
from http_server import Route
from scipy.stats import rankdata

from exprbench.quantile import (
    QuantileAccumulator,
    map_to_reference_quantiles,
    normalise_to_reference,
    quantile_normalise,
    reference_quantiles,
)
from exprbench.sources.dgex_geo import DgexGeo, GctxFormatError, near_duplicates
from exprbench.store import open_dataset

FAST = dict(progress=False, backoff=0.01, retries=1, timeout=5, use_cache=False)

# --------------------------------------------------------------------- quantile helpers


def test_quantile_normalise_matches_hand_worked_example():
    # Two samples over three genes. Sorted rows: [1, 2, 3] and [4, 5, 6], mean [2.5, 3.5, 4.5].
    X = np.array([[3.0, 1.0, 2.0],
                  [4.0, 6.0, 5.0]])
    assert reference_quantiles(X).tolist() == [2.5, 3.5, 4.5]
    assert quantile_normalise(X).tolist() == [[4.5, 2.5, 3.5],
                                              [2.5, 4.5, 3.5]]


def test_quantile_normalise_ties_take_the_truncated_average_rank():
    # Row 0 ties at ranks 2 and 3 (average 2.5): both get quantile index int(1.5) = 1.
    X = np.array([[1.0, 5.0, 5.0],
                  [1.0, 2.0, 3.0]])
    reference = [1.0, 3.5, 4.0]  # mean of [1, 5, 5] and [1, 2, 3]
    assert reference_quantiles(X).tolist() == reference
    assert quantile_normalise(X).tolist() == [[1.0, 3.5, 3.5],
                                              [1.0, 3.5, 4.0]]


def test_quantile_normalise_matches_dgex_loop_on_random_data():
    rng = np.random.default_rng(0)
    X = np.round(rng.normal(size=(7, 20)), 1)  # rounding creates ties
    # D-GEX's bgedv2_reqnorm.py, written over genes x samples.
    data = X.T
    quantile = np.sort(data, axis=0).mean(axis=1)
    expected = np.column_stack([quantile[(rankdata(data[:, i]) - 1).astype(int)] for i in range(data.shape[1])]).T
    np.testing.assert_array_equal(quantile_normalise(X), expected)


def test_accumulated_reference_over_blocks_equals_whole_matrix():
    X = np.random.default_rng(1).normal(size=(10, 6))
    accumulator = QuantileAccumulator(6)
    for block in (X[:3], X[3:4], X[4:]):
        accumulator.add(block)
    np.testing.assert_allclose(accumulator.reference(), reference_quantiles(X))
    np.testing.assert_allclose(normalise_to_reference(X, accumulator.reference()), quantile_normalise(X))


def test_map_to_reference_quantiles_by_distinct_rank():
    reference = np.array([10.0, 20.0, 30.0, 40.0])
    # Distinct values 0 < 2 < 7 (u = 3): index int((k + 1) / 3 * 4) - 1 = 0, 1, 3.
    X = np.array([[0.0, 0.0, 2.0, 7.0]])
    assert map_to_reference_quantiles(X, reference).tolist() == [[10.0, 10.0, 20.0, 40.0]]
    # All distinct: a plain rank mapping.
    assert map_to_reference_quantiles([[4.0, 1.0, 3.0, 2.0]], reference).tolist() == [[40.0, 10.0, 30.0, 20.0]]


def test_quantile_helpers_reject_missing_values():
    with pytest.raises(ValueError, match="NaN"):
        quantile_normalise([[1.0, np.nan]])


def test_near_duplicates_drop_later_copies_only():
    profiles = np.array([[0.0, 0.0], [0.3, 0.4], [5.0, 5.0], [0.0, 0.9]])
    # Row 1 is 0.5 from row 0; row 3 is 0.9 from row 0 (and 0.58 from row 1, itself dropped).
    assert near_duplicates(profiles, 1.0, chunk=2).tolist() == [False, True, False, True]


# --------------------------------------------------------------------- GCTX source

PROBES = ["p1_at", "p2_at", "p3_s_at", "p4_at", "p5_x_at", "p6_at"]
LANDMARK_MAP = "UBE2C\tENSG00000175063\tp1_at,p2_at\nRBKS\tENSG00000171174\tp3_s_at\n"
TARGET_MAP = "TSPAN6\tENSG00000000003\tp4_at\nDAXX\tENSG00000204209\tp5_x_at,p6_at\n"
LANDMARK_IDS = ["ENSG00000175063", "ENSG00000171174"]


def gctx_bytes(tmp_path, matrix, sample_ids, probe_ids=PROBES, drop=None) -> bytes:
    """A GCTX file as cmapPy writes it: matrix stored samples x probes."""
    path = tmp_path / "made.gctx"
    with h5py.File(path, "w") as h5:
        h5.attrs["version"] = "GCTX1.0"
        h5.create_dataset("0/DATA/0/matrix", data=np.asarray(matrix, dtype=np.float32), chunks=True)
        h5.create_dataset("0/META/ROW/id", data=np.array(probe_ids, dtype="S"))
        h5.create_dataset("0/META/COL/id", data=np.array(sample_ids, dtype="S"))
        if drop:
            del h5[drop]
    return path.read_bytes()


def geo_profiles(n_samples=12, seed=0):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(8.0, 2.0, size=(n_samples, len(PROBES)))
    matrix[5] = matrix[2] + 0.01  # a near-duplicate of sample 2
    return matrix


def serve_dataset(server, tmp_path, gctx: bytes) -> dict:
    return {
        "expression": {"urls": [server.add("/D-GEX/bgedv2_QNORM.gctx", Route(gctx))],
                       "filename": "bgedv2_QNORM.gctx"},
        "landmarks": {"urls": [server.add("/D-GEX/map_lm.txt", Route(LANDMARK_MAP.encode()))],
                      "filename": "map_lm.txt"},
        "targets": {"urls": [server.add("/D-GEX/map_tg.txt", Route(TARGET_MAP.encode()))],
                    "filename": "map_tg.txt"},
    }


def build(server, tmp_path, gctx: bytes, **params):
    source = DgexGeo(files=serve_dataset(server, tmp_path, gctx), **params)
    downloads = source.fetch(tmp_path / "raw", **FAST)
    out = tmp_path / "dgex.h5"
    source.write(out, downloads)
    return out


def gene_average(matrix):
    m = np.asarray(matrix, dtype=np.float64)
    return np.column_stack([(m[:, 0] + m[:, 1]) / 2, m[:, 2], m[:, 3], (m[:, 4] + m[:, 5]) / 2])


def test_gctx_to_store_deduplicates_averages_probes_and_normalises(https, tmp_path):
    matrix = geo_profiles()
    ids = [f"GSM{100 + i}" for i in range(len(matrix))]
    out = build(https, tmp_path, gctx_bytes(tmp_path, matrix, ids), duplicate_clusters=3, block_samples=4)

    kept = [i for i in range(len(matrix)) if i != 5]
    expected = quantile_normalise(gene_average(matrix[kept]))
    with open_dataset(out) as reader:
        assert reader.samples["sample_id"].tolist() == [ids[i] for i in kept]
        assert reader.samples["study"].tolist() == reader.samples["sample_id"].tolist()
        assert reader.genes["gene_id"].tolist() == LANDMARK_IDS + ["ENSG00000000003", "ENSG00000204209"]
        assert reader.genes["symbol"].tolist() == ["UBE2C", "RBKS", "TSPAN6", "DAXX"]
        np.testing.assert_allclose(reader.read_expression(), expected, rtol=1e-6)
        # The reference the RNA-seq datasets are mapped onto: one value per quantile rank.
        np.testing.assert_allclose(reader.array("reference_quantiles"),
                                   reference_quantiles(gene_average(matrix[kept])), rtol=1e-6)
        provenance = reader.provenance
    assert provenance["source"] == "dgex_geo"
    assert provenance["landmark_genes"] == LANDMARK_IDS
    assert provenance["n_landmarks"] == 2 and provenance["n_targets"] == 2
    assert provenance["near_duplicates_dropped"] == 1 and provenance["samples_kept"] == 11
    assert any("quantile normalisation" in step for step in provenance["preprocessing"])


def test_seeded_subset_without_deduplication(https, tmp_path):
    matrix = geo_profiles(20)
    ids = [f"GSM{i}" for i in range(20)]
    out = build(https, tmp_path, gctx_bytes(tmp_path, matrix, ids), max_samples=6, seed=3, deduplicate=False)
    rows = np.sort(np.random.default_rng(3).choice(np.arange(20), size=6, replace=False))
    with open_dataset(out) as reader:
        assert reader.samples["sample_id"].tolist() == [ids[i] for i in rows]
        np.testing.assert_allclose(reader.read_expression(), quantile_normalise(gene_average(matrix[rows])),
                                   rtol=1e-6)


def test_gctx_without_row_ids_names_file_and_path(https, tmp_path):
    gctx = gctx_bytes(tmp_path, geo_profiles(), [f"GSM{i}" for i in range(12)], drop="0/META/ROW/id")
    with pytest.raises(GctxFormatError, match=r"bgedv2_QNORM\.gctx has no HDF5 dataset '/0/META/ROW/id'"):
        build(https, tmp_path, gctx)


def test_gene_map_probe_missing_from_gctx_is_named(https, tmp_path):
    probes = PROBES[:-1] + ["other_at"]
    gctx = gctx_bytes(tmp_path, geo_profiles(), [f"GSM{i}" for i in range(12)], probe_ids=probes)
    with pytest.raises(GctxFormatError, match=r"p6_at.*ENSG00000204209.*bgedv2_QNORM\.gctx"):
        build(https, tmp_path, gctx)


def test_garbled_gctx_is_reported(https, tmp_path):
    with pytest.raises(GctxFormatError, match=r"bgedv2_QNORM\.gctx is not a readable GCTX/HDF5 file"):
        build(https, tmp_path, b"this is not HDF5 at all")
