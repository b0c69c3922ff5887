"""The two TCGA sources, from tiny files in the real formats served over local HTTPS."""

import gzip
import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pandas as pd
import pytest
from http_server import Route

from exprbench.download import DownloadError
from exprbench.sources import SOURCES
from exprbench.sources.tcga_xena import TcgaXena
from exprbench.store import open_dataset

XENA_MATRIX_NAME = "EB++AdjustPANCAN_IlluminaHiSeq_RNASeqV2.geneExp.xena.gz"
CLINICAL_NAME = "Survival_SupplementalTable_S1_20171025_xena_sp"
UCI_FOLDER = "TCGA-PANCAN-HiSeq-801x20531"

# Barcode -> kept by the default sample types (01, 03)?
XENA_BARCODES = {
    "TCGA-A1-0001-01": True,
    "TCGA-A1-0001-11": False,  # solid tissue normal of the same participant
    "TCGA-A2-0002-01": True,
    "TCGA-B1-0003-01": True,
    "TCGA-B1-0003-06": False,  # metastasis
    "TCGA-AB-0004-03": True,   # LAML: primary blood-derived cancer
    "TCGA-C1-0005-01": True,   # labelled only through another sample of the participant
    "TCGA-D1-0006-01": True,   # not in the clinical table at all
}
KEPT = [b for b, kept in XENA_BARCODES.items() if kept]

CLINICAL_ROWS = [
    # sample, _PATIENT, cancer type abbreviation, gender
    ("TCGA-A1-0001-01", "TCGA-A1-0001", "BRCA", "FEMALE"),
    ("TCGA-A1-0001-11", "TCGA-A1-0001", "BRCA", "FEMALE"),
    ("TCGA-A2-0002-01", "TCGA-A2-0002", "BRCA", "FEMALE"),
    ("TCGA-B1-0003-01", "TCGA-B1-0003", "LUAD", "MALE"),
    ("TCGA-AB-0004-03", "TCGA-AB-0004", "LAML", ""),
    ("TCGA-C1-0005-02", "TCGA-C1-0005", "KIRC", "MALE"),
]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of two genes and two samples, so a handful of rows crosses block boundaries."""
    monkeypatch.setattr(TcgaXena, "genes_per_block", 2)
    monkeypatch.setattr(TcgaXena, "samples_per_block", 2)


def fetch_and_write(source, tmp_path, tls):
    downloads = source.fetch(tmp_path / "raw", ca_bundle=tls[0], progress=False, retries=0)
    out = tmp_path / "data" / "dataset.h5"
    source.write(out, downloads)
    return open_dataset(out)


# ----------------------------------------------------------------------------- Xena files


def xena_genes():
    """Gene rows: (symbol, values per barcode); None is written as NA."""
    rng = np.random.default_rng(0)
    rows = []
    for symbol in ["TP53", "7157", "SLC35E2", "HAS_NA_IN_TUMOUR", "SLC35E2", "HAS_NA_IN_NORMAL", "GATA3"]:
        values = [round(float(v), 4) for v in rng.uniform(0, 15, len(XENA_BARCODES))]
        if symbol == "HAS_NA_IN_TUMOUR":
            values[list(XENA_BARCODES).index("TCGA-B1-0003-01")] = None
        if symbol == "HAS_NA_IN_NORMAL":
            values[list(XENA_BARCODES).index("TCGA-A1-0001-11")] = None
        rows.append((symbol, values))
    return rows


def xena_matrix_text(rows, header=None):
    lines = ["\t".join(header or ["sample", *XENA_BARCODES])]
    for symbol, values in rows:
        lines.append("\t".join([symbol, *("NA" if v is None else repr(v) for v in values)]))
    return "\n".join(lines) + "\n"


def clinical_text(rows=CLINICAL_ROWS, columns=("sample", "_PATIENT", "cancer type abbreviation", "gender")):
    # The real table has many more columns around these; a few keep the test honest.
    header = [columns[0], columns[1], columns[2], "age_at_initial_pathologic_diagnosis", columns[3],
              "OS", "OS.time", "PFI", "PFI.time"]
    lines = ["\t".join(header)]
    for sample, patient, cancer, gender in rows:
        lines.append("\t".join([sample, patient, cancer, "61", gender, "0", "1234", "1", ""]))
    return "\n".join(lines) + "\n"


def xena_source(server, matrix: bytes, clinical: bytes, **params):
    files = {
        "expression": {"urls": [server.add("/download/" + XENA_MATRIX_NAME.replace("+", "%2B"), Route(matrix))],
                       "filename": XENA_MATRIX_NAME},
        "clinical": {"urls": [server.add("/download/" + CLINICAL_NAME, Route(clinical))],
                     "filename": CLINICAL_NAME + ".tsv", "md5": hashlib.md5(clinical).hexdigest()},
    }
    return SOURCES.get("tcga_xena")(files=files, **params)


# ----------------------------------------------------------------------------- Xena tests


def test_xena_keeps_primary_tumours_with_labels_donors_and_sites(https_server, tls, tmp_path, tiny_blocks):
    matrix = gzip.compress(xena_matrix_text(xena_genes()).encode())
    source = xena_source(https_server, matrix, clinical_text().encode())

    with fetch_and_write(source, tmp_path, tls) as dataset:
        samples, provenance = dataset.samples, dataset.provenance
        values = dataset.read_expression()

    assert list(samples["sample_id"]) == KEPT
    assert list(samples["donor"]) == [b[:12] for b in KEPT]
    assert list(samples["study"]) == ["A1", "A2", "B1", "AB", "C1", "D1"]
    assert samples["cancer_type"].tolist() == ["BRCA", "BRCA", "LUAD", "LAML", "KIRC", pd.NA]
    assert samples["sex"].tolist() == ["female", "female", "male", pd.NA, "male", pd.NA]
    assert provenance["samples_without_cancer_type"] == 1
    assert provenance["samples_without_sex"] == 2
    assert values.shape == (len(KEPT), 6)
    assert values.dtype == np.float32


def test_xena_drops_genes_with_missing_values_in_kept_samples(https_server, tls, tmp_path, tiny_blocks):
    rows = xena_genes()
    matrix = gzip.compress(xena_matrix_text(rows).encode())
    source = xena_source(https_server, matrix, clinical_text().encode())

    with fetch_and_write(source, tmp_path, tls) as dataset:
        genes, values, provenance = dataset.genes, dataset.read_expression(), dataset.provenance

    # Only the NA in a kept tumour removes a gene; an NA in a dropped normal does not.
    assert genes["symbol"].tolist() == ["TP53", "7157", "SLC35E2", "SLC35E2", "HAS_NA_IN_NORMAL", "GATA3"]
    assert genes["gene_id"].tolist() == ["TP53", "7157", "SLC35E2", "SLC35E2.2", "HAS_NA_IN_NORMAL", "GATA3"]
    assert provenance["genes_in_file"] == 7
    assert provenance["genes_dropped_missing"] == 1
    assert any("dropped 1 of 7 genes" in step for step in provenance["preprocessing"])
    kept_positions = [list(XENA_BARCODES).index(b) for b in KEPT]
    expected = np.array([[r[1][i] for i in kept_positions] for r in rows if r[0] != "HAS_NA_IN_TUMOUR"]).T
    np.testing.assert_allclose(values, expected.astype(np.float32), rtol=0, atol=1e-6)


def test_xena_records_files_and_preprocessing(https_server, tls, tmp_path):
    matrix = gzip.compress(xena_matrix_text(xena_genes()).encode())
    source = xena_source(https_server, matrix, clinical_text().encode())

    with fetch_and_write(source, tmp_path, tls) as dataset:
        provenance = dataset.provenance

    assert provenance["source"] == "tcga_xena"
    assert provenance["params"] == {"sample_types": ["01", "03"]}
    assert provenance["files"]["expression"]["sha256"] == hashlib.sha256(matrix).hexdigest()
    assert provenance["files"]["expression"]["url"].endswith("/download/EB%2B%2BAdjustPANCAN_IlluminaHiSeq_RNASeqV2."
                                                             "geneExp.xena.gz")
    assert "log2(norm_count+1)" in provenance["preprocessing"][0]
    assert "kept 6 of 8 samples" in provenance["preprocessing"][1]


def test_xena_sample_types_param_selects_barcodes(https_server, tls, tmp_path):
    matrix = gzip.compress(xena_matrix_text(xena_genes()).encode())
    source = xena_source(https_server, matrix, clinical_text().encode(), sample_types=["11", "06"])

    with fetch_and_write(source, tmp_path, tls) as dataset:
        samples, genes = dataset.samples, dataset.genes

    assert samples["sample_id"].tolist() == ["TCGA-A1-0001-11", "TCGA-B1-0003-06"]
    # The metastasis is not in the table: labelled through its participant.
    assert samples["cancer_type"].tolist() == ["BRCA", "LUAD"]
    assert "HAS_NA_IN_NORMAL" not in set(genes["symbol"]) and "HAS_NA_IN_TUMOUR" in set(genes["symbol"])


def test_xena_reads_long_barcodes_with_vial_letters(tmp_path):
    header = ["sample", "TCGA-A1-0001-01A", "TCGA-A1-0001-11A-01R-1234-07", "TCGA-A2-0002-01B"]
    matrix = write_file(tmp_path / XENA_MATRIX_NAME,
                        gzip.compress(xena_matrix_text([("TP53", [1.0, 2.0, 3.0])], header).encode()))
    clinical = write_file(tmp_path / "clinical.tsv", clinical_text().encode())
    out = tmp_path / "out.h5"

    TcgaXena().write(out, {"expression": matrix, "clinical": clinical})

    with open_dataset(out) as dataset:
        assert dataset.samples["sample_id"].tolist() == ["TCGA-A1-0001-01A", "TCGA-A2-0002-01B"]
        assert dataset.samples["cancer_type"].tolist() == ["BRCA", "BRCA"]
        np.testing.assert_array_equal(dataset.read_expression()[:, 0], [1.0, 3.0])


def write_file(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("matrix_text, problem", [
    ("gene\tTCGA-A1-0001-01\nTP53\t1.0\n", "header must start with 'sample'"),
    ("sample\tTCGA-A1-0001-01\tnot-a-barcode\nTP53\t1.0\t2.0\n", "'not-a-barcode' is not a TCGA sample barcode"),
    ("sample\tTCGA-A1-0001-01\tTCGA-A1-0001-01\nTP53\t1.0\t2.0\n", "repeated sample barcodes"),
    ("sample\tTCGA-A1-0001-01\nTP53\tabc\n", "malformed Xena matrix"),
    ("sample\tTCGA-A1-0001-01\nTP53\t1.0\t2.0\t3.0\n", "malformed Xena matrix"),
    ("sample\tTCGA-A1-0001-11\nTP53\t1.0\n", "no sample has a sample-type code"),
    ("sample\tTCGA-A1-0001-01\nTP53\tNA\n", "every one of 1 gene rows has a missing value"),
])
def test_xena_malformed_matrix_names_the_file(tmp_path, matrix_text, problem):
    matrix = write_file(tmp_path / XENA_MATRIX_NAME, gzip.compress(matrix_text.encode()))
    clinical = write_file(tmp_path / "clinical.tsv", clinical_text().encode())

    with pytest.raises(ValueError, match=problem) as caught:
        TcgaXena().write(tmp_path / "out.h5", {"expression": matrix, "clinical": clinical})

    assert str(matrix) in str(caught.value)
    assert not (tmp_path / "out.h5").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.h5")] == []


@pytest.mark.parametrize("damage", ["not gzip", "truncated"])
def test_xena_garbled_gzip_names_the_file(tmp_path, damage):
    body = gzip.compress(xena_matrix_text(xena_genes()).encode())
    body = b"<html>moved</html>" if damage == "not gzip" else body[: len(body) // 2]
    matrix = write_file(tmp_path / XENA_MATRIX_NAME, body)
    clinical = write_file(tmp_path / "clinical.tsv", clinical_text().encode())

    with pytest.raises(ValueError, match="EB\\+\\+AdjustPANCAN"):
        TcgaXena().write(tmp_path / "out.h5", {"expression": matrix, "clinical": clinical})


def test_xena_clinical_table_without_cancer_type_names_the_file(tmp_path):
    matrix = write_file(tmp_path / XENA_MATRIX_NAME, gzip.compress(xena_matrix_text(xena_genes()).encode()))
    clinical = write_file(tmp_path / "clinical.tsv",
                          clinical_text(columns=("sample", "_PATIENT", "cancer type", "gender")).encode())

    with pytest.raises(ValueError, match="clinical.tsv: clinical table lacks columns \\['cancer type abbreviation'\\]"):
        TcgaXena().write(tmp_path / "out.h5", {"expression": matrix, "clinical": clinical})


def test_xena_missing_download_is_named(tmp_path):
    with pytest.raises(ValueError, match="no downloaded file named 'clinical'"):
        TcgaXena().write(tmp_path / "out.h5", {"expression": tmp_path / "x.gz"})


def test_xena_file_missing_on_the_server_fails_the_fetch(https_server, tls, tmp_path):
    matrix = gzip.compress(xena_matrix_text(xena_genes()).encode())
    source = xena_source(https_server, matrix, clinical_text().encode())
    del https_server.routes["/download/" + CLINICAL_NAME]

    with pytest.raises(DownloadError, match=CLINICAL_NAME):
        source.fetch(tmp_path / "raw", ca_bundle=tls[0], progress=False, retries=0)


# ----------------------------------------------------------------------------- UCI files


UCI_CLASSES = ["PRAD", "LUAD", "PRAD", "BRCA", "KIRC", "COAD", "BRCA"]


def uci_tables(n_genes=5, classes=UCI_CLASSES):
    rng = np.random.default_rng(1)
    values = np.round(rng.uniform(0, 12, (len(classes), n_genes)), 6)
    values[:, 0] = 0.0  # the real data has many exact zeros
    ids = [f"sample_{i}" for i in range(len(classes))]
    data = "," + ",".join(f"gene_{j}" for j in range(n_genes)) + "\n"
    data += "".join(f"{s}," + ",".join(repr(float(v)) for v in row) + "\n" for s, row in zip(ids, values, strict=False))
    labels = ",Class\n" + "".join(f"{s},{c}\n" for s, c in zip(ids, classes, strict=False))
    return data.encode(), labels.encode(), values


def uci_tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folder = tarfile.TarInfo(UCI_FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in members.items():
            info = tarfile.TarInfo(f"{UCI_FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def uci_zip(tarball: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{UCI_FOLDER}.tar.gz", tarball)
    return buffer.getvalue()


def uci_source(urls):
    files = {"archive": {"urls": urls, "filename": f"{UCI_FOLDER}.archive"}}
    return SOURCES.get("tcga_uci")(files=files)


@pytest.mark.parametrize("container", ["tar.gz", "zip around tar.gz"])
def test_uci_fetch_and_write(https_server, tls, tmp_path, container):
    data, labels, values = uci_tables()
    tarball = uci_tarball({"labels.csv": labels, "data.csv": data})
    body = tarball if container == "tar.gz" else uci_zip(tarball)
    source = uci_source([https_server.add("/archive", Route(body))])

    with fetch_and_write(source, tmp_path, tls) as dataset:
        samples, genes, provenance = dataset.samples, dataset.genes, dataset.provenance
        matrix = dataset.read_expression()

    ids = [f"sample_{i}" for i in range(len(UCI_CLASSES))]
    assert samples["sample_id"].tolist() == ids
    assert (samples["study"] == samples["sample_id"]).all() and (samples["donor"] == samples["sample_id"]).all()
    assert samples["cancer_type"].tolist() == UCI_CLASSES
    assert genes["gene_id"].tolist() == [f"gene_{j}" for j in range(5)]
    np.testing.assert_allclose(matrix, values.astype(np.float32))
    assert provenance["source"] == "tcga_uci"


def test_uci_legacy_mirror_used_when_current_is_gone(https_server, tls, tmp_path):
    data, labels, _ = uci_tables()
    gone = https_server.add("/static/public/401/gene+expression+cancer+rna+seq.zip", Route(status=404))
    legacy = https_server.add("/legacy.tar.gz", Route(uci_tarball({"data.csv": data, "labels.csv": labels})))

    with fetch_and_write(uci_source([gone, legacy]), tmp_path, tls) as dataset:
        assert dataset.shape == (len(UCI_CLASSES), 5)


def test_uci_labels_follow_sample_ids_not_row_order(tmp_path):
    data, _, _ = uci_tables()
    shuffled = ",Class\n" + "".join(f"sample_{i},{UCI_CLASSES[i]}\n" for i in reversed(range(len(UCI_CLASSES))))
    archive = write_file(tmp_path / "a.tar.gz", uci_tarball({"data.csv": data, "labels.csv": shuffled.encode()}))

    SOURCES.get("tcga_uci")().write(tmp_path / "out.h5", {"archive": archive})

    with open_dataset(tmp_path / "out.h5") as dataset:
        assert dataset.samples["cancer_type"].tolist() == UCI_CLASSES


def uci_problem_cases():
    data, labels, _ = uci_tables()
    return {
        "no labels.csv": (uci_tarball({"data.csv": data}), "archive has no labels.csv"),
        "no Class column": (uci_tarball({"data.csv": data, "labels.csv": labels.replace(b"Class", b"Label")}),
                            "labels.csv lacks the 'Class' column"),
        "unlabelled sample": (uci_tarball({"data.csv": data, "labels.csv": labels.replace(b"sample_3,", b"sample_9,")}),
                              "1 samples of data.csv are not in labels.csv"),
        "text in data": (uci_tarball({"data.csv": data.replace(b"sample_2,0.0", b"sample_2,oops"),
                                      "labels.csv": labels}), "data.csv has non-numeric values"),
        "garbled bytes": (b"\x00garbage" * 50, "neither gzip nor zip"),
        "truncated tarball": (uci_tarball({"data.csv": data, "labels.csv": labels})[:-40],
                              "not a readable tar.gz or zip archive"),
    }


@pytest.mark.parametrize("case", list(uci_problem_cases()))
def test_uci_malformed_archive_names_the_file(tmp_path, case):
    body, problem = uci_problem_cases()[case]
    archive = write_file(tmp_path / "uci.archive", body)

    with pytest.raises(ValueError, match=problem) as caught:
        SOURCES.get("tcga_uci")().write(tmp_path / "out.h5", {"archive": archive})

    assert str(archive) in str(caught.value)
    assert not (tmp_path / "out.h5").exists()
