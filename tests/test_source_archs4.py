"""ARCHS4 source: tiny HDF5 files in the ARCHS4 v2 gene layout, served over local HTTPS."""


import h5py
import numpy as np
import pandas as pd
import pytest
from http_server import Route

from exprbench.sources.archs4 import Archs4, ArchsFormatError, read_sample_blocks, tissue_labels
from exprbench.store import open_dataset

FAST = dict(progress=False, backoff=0.01, retries=1, timeout=5, use_cache=False)
KEYWORDS = {"liver": ["liver", "hepatocyte"], "brain": ["brain", "prefrontal cortex"], "blood": ["whole blood"]}

# One row per sample: accession, series, single-cell probability, source_name_ch1, characteristics_ch1.
SAMPLES = [
    ("GSM1", "GSE10", 0.01, "Liver biopsy", "tissue: liver"),
    ("GSM2", "GSE10,GSE99", 0.02, "hepatocytes", "cell type: hepatocyte"),
    ("GSM3", "GSE11", 0.90, "brain", "tissue: brain"),             # single cell
    ("GSM4", "GSE11", 0.10, "Prefrontal-Cortex", "age: 40"),
    ("GSM5", "GSE12", 0.49, "cell line", "tissue: whole blood"),   # decided by the second field
    ("GSM6", "GSE12", 0.50, "liver", ""),                          # exactly at the threshold: dropped
    ("GSM7", "GSE13", 0.00, "liver and brain mix", "tissue: liver"),  # ambiguous first field
    ("GSM8", "GSE13", 0.00, "deliverable", "n/a"),                 # no whole-word match
    ("GSM9", "", 0.00, "Blood (whole blood)", ""),                 # no series id
]
N_SAMPLES = len(SAMPLES)
GENE_IDS = ["ENSG01", "ENSG02", "ENSG03", "ENSG04"]
SYMBOLS = ["A1BG", "TP53", "TP53", "XIST"]  # symbols repeat in ARCHS4; Ensembl ids do not


def counts_matrix(n_samples=N_SAMPLES, seed=0):
    """genes x samples uint32, as ARCHS4 stores data/expression."""
    return np.random.default_rng(seed).integers(0, 500, size=(len(GENE_IDS), n_samples)).astype(np.uint32)


def archs4_bytes(tmp_path, counts, samples=SAMPLES, gene_ids=GENE_IDS, drop=None) -> bytes:
    path = tmp_path / "made.h5"
    strings = lambda values: np.array([v.encode() for v in values], dtype=object)  # noqa: E731
    vlen = h5py.string_dtype()
    with h5py.File(path, "w") as h5:
        h5.create_dataset("data/expression", data=counts, chunks=(len(counts), 1), compression="gzip")
        columns = list(zip(*samples, strict=False))
        for name, values in (("geo_accession", columns[0]), ("series_id", columns[1]),
                             ("source_name_ch1", columns[3]), ("characteristics_ch1", columns[4]),
                             ("title", [f"title {v}" for v in columns[0]])):
            h5.create_dataset(f"meta/samples/{name}", data=strings(values), dtype=vlen)
        h5.create_dataset("meta/samples/singlecellprobability", data=np.array(columns[2], dtype=np.float64))
        if gene_ids is not None:
            h5.create_dataset("meta/genes/ensembl_gene", data=strings(gene_ids), dtype=vlen)
        h5.create_dataset("meta/genes/symbol", data=strings(SYMBOLS), dtype=vlen)
        h5.create_dataset("meta/info/version", data=np.array([b"2.5"], dtype=object), dtype=vlen)
        if drop:
            del h5[drop]
    return path.read_bytes()


def build(server, tmp_path, body: bytes, **params):
    url = server.add("/archs4/files/human_gene_v2.5.h5", Route(body))
    files = {"expression": {"urls": [url], "filename": "human_gene_v2.5.h5"}}
    source = Archs4(files=files, tissue_keywords=KEYWORDS, **params)
    downloads = source.fetch(tmp_path / "raw", **FAST)
    out = tmp_path / "archs4.h5"
    source.write(out, downloads)
    return out


def expected_log_cpm(counts, columns):
    block = counts[:, columns].astype(np.float64)
    return np.log2(block / block.sum(axis=0) * 1e6 + 1).T


def test_fetch_and_write_filters_single_cells_and_labels_tissues(https, tmp_path):
    counts = counts_matrix()
    out = build(https, tmp_path, archs4_bytes(tmp_path, counts), block_samples=2)

    kept = [0, 1, 3, 4, 6, 7, 8]  # GSM3 (0.90) and GSM6 (0.50) are single-cell
    with open_dataset(out) as reader:
        samples = reader.samples
        assert samples["sample_id"].tolist() == [SAMPLES[i][0] for i in kept]
        assert samples["study"].tolist() == ["GSE10", "GSE10", "GSE11", "GSE12", "GSE13", "GSE13", "GSM9"]
        assert samples["donor"].tolist() == samples["sample_id"].tolist()
        tissue = [None if pd.isna(v) else v for v in samples["tissue"]]
        assert tissue == ["liver", "liver", "brain", "blood", None, None, "blood"]
        assert reader.genes["gene_id"].tolist() == GENE_IDS
        assert reader.genes["symbol"].tolist() == SYMBOLS
        np.testing.assert_allclose(reader.read_expression(), expected_log_cpm(counts, kept), rtol=1e-6)
        provenance = reader.provenance
    assert provenance["source"] == "archs4"
    assert provenance["source_version"] == "ARCHS4 human gene 2.5"
    assert provenance["single_cell_dropped"] == 2
    assert provenance["value_transform"] == "log2(CPM+1)"
    assert "log2(CPM + 1)" in provenance["preprocessing"][-1]


def test_tissue_filter_then_seeded_subset(https, tmp_path):
    counts = counts_matrix()
    out = build(https, tmp_path, archs4_bytes(tmp_path, counts), tissues=["liver", "blood"], max_samples=2, seed=5)
    eligible = np.array([0, 1, 4, 8])  # liver or blood, not single-cell
    chosen = np.sort(np.random.default_rng(5).choice(eligible, size=2, replace=False))
    with open_dataset(out) as reader:
        assert reader.samples["sample_id"].tolist() == [SAMPLES[i][0] for i in chosen]
        np.testing.assert_allclose(reader.read_expression(), expected_log_cpm(counts, chosen), rtol=1e-6)
        assert reader.provenance["tissue_filter_dropped"] == 3


class CountingDataset:
    """Stands in for an h5py dataset and records every column selection asked for."""

    def __init__(self, array):
        self.array = array
        self.keys = []

    def __getitem__(self, key):
        self.keys.append(key[1])
        return self.array[key]


def test_block_reader_asks_only_for_selected_columns():
    matrix = np.arange(4 * 50).reshape(4, 50)
    columns = np.array([3, 4, 5, 6, 20, 21, 40, 49])
    dataset = CountingDataset(matrix)
    blocks = list(read_sample_blocks(dataset, columns, block_size=4))

    requested = []
    for key in dataset.keys:
        requested.extend(range(key.start, key.stop) if isinstance(key, slice) else key)
    assert requested == columns.tolist()
    assert isinstance(dataset.keys[0], slice)  # a contiguous run is read as one slice
    np.testing.assert_array_equal(np.hstack([b for _, b in blocks]), matrix[:, columns])


def test_tissue_rule_first_matching_field_decides():
    fields = [np.array(["Liver", "x", "brain liver", "x"], dtype=object),
              np.array(["brain", "tissue: Whole-Blood", "liver", "kidney"], dtype=object)]
    assert tissue_labels(fields, KEYWORDS) == ["liver", "blood", None, None]


def test_duplicate_symbols_are_summed_when_file_has_no_ensembl_ids(https, tmp_path):
    counts = counts_matrix()
    out = build(https, tmp_path, archs4_bytes(tmp_path, counts, gene_ids=None), single_cell_threshold=None)
    summed = np.vstack([counts[0], counts[1] + counts[2], counts[3]])
    with open_dataset(out) as reader:
        assert reader.genes["gene_id"].tolist() == ["A1BG", "TP53", "XIST"]
        np.testing.assert_allclose(reader.read_expression(), expected_log_cpm(summed, list(range(9))), rtol=1e-6)


def test_zero_count_samples_are_dropped(https, tmp_path):
    counts = counts_matrix()
    counts[:, 1] = 0
    out = build(https, tmp_path, archs4_bytes(tmp_path, counts), single_cell_threshold=None)
    with open_dataset(out) as reader:
        assert "GSM2" not in reader.samples["sample_id"].tolist()
        assert reader.shape == (8, 4)
        assert reader.provenance["zero_count_samples_dropped"] == 1


def test_missing_metadata_dataset_names_file_and_path(https, tmp_path):
    body = archs4_bytes(tmp_path, counts_matrix(), drop="meta/samples/singlecellprobability")
    with pytest.raises(ArchsFormatError,
                       match=r"human_gene_v2\.5\.h5 has no HDF5 dataset '/meta/samples/singlecellprobability'"):
        build(https, tmp_path, body)


def test_garbled_file_is_reported(https, tmp_path):
    with pytest.raises(ArchsFormatError, match=r"human_gene_v2\.5\.h5 is not a readable HDF5 file"):
        build(https, tmp_path, b"\x00garbage instead of HDF5")


def test_unknown_tissue_in_filter_is_rejected(https, tmp_path):
    with pytest.raises(ValueError, match=r"tissues \['lugn'\] have no entry in tissue_keywords"):
        build(https, tmp_path, archs4_bytes(tmp_path, counts_matrix()), tissues=["lugn"])


def test_blocks_never_split_a_file_chunk():
    dataset = CountingDataset(np.arange(2 * 40).reshape(2, 40))
    dataset.chunks = (2, 10)
    columns = np.array([1, 5, 8, 12, 19, 25, 31, 33])
    blocks = [b.tolist() for b, _ in read_sample_blocks(dataset, columns, block_size=2)]
    # A block of two that ends inside a chunk takes the rest of that chunk's columns too.
    assert blocks == [[1, 5, 8], [12, 19], [25, 31, 33]]
