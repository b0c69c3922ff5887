"""GTEx v8 source: files in the GTEx formats, served over local HTTPS, fetched and written."""

import gzip
import hashlib
import re

import numpy as np
import pytest
from http_server import FileServer, Route

from exprbench.download import DownloadError, read_manifest
from exprbench.sources.gtex import GctFormatError, GTExV8, donor_of
from exprbench.store import open_dataset

GCT_NAME = "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz"
ATTRIBUTES_NAME = "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt"
PHENOTYPES_NAME = "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
# The real attribute file's leading columns, in order; the source reads three of them.
ATTRIBUTE_COLUMNS = ["SAMPID", "SMATSSCR", "SMCENTER", "SMPTHNTS", "SMRIN", "SMTS", "SMTSD", "SMUBRID",
                     "SMTSISCH", "SMTSPAX", "SMNABTCH", "SMNABTCHT", "SMNABTCHD", "SMGEBTCH", "SMGEBTCHD",
                     "SMGEBTCHT", "SMAFRZE", "SMGTC", "SME2MPRT"]
DONORS = {"GTEX-1117F": "2", "GTEX-111CU": "1", "GTEX-ZZPU2": "2"}
TISSUES = {"Blood": "Whole Blood", "Lung": "Lung"}
N_GENES = 30
NOT_RNASEQ = "GTEX-111CU-0326-SM-5GZXO"  # in the GCT, but in the EXCLUDE freeze
NOT_ANNOTATED = "GTEX-ZZPU2-0626-SM-5GZZZ"  # in the GCT, absent from the attributes


def gct_sample_ids() -> list[str]:
    """12 GCT columns: 4 per donor, alternating tissues; one uses the longer id form."""
    ids = []
    for donor in DONORS:
        for k in range(4):
            ids.append(f"{donor}-0{k}26-SM-5GZ{k}{donor[-1]}")
    ids[1] = "GTEX-1117F-0011-R10a-SM-AHZ7F"
    ids[5], ids[10] = NOT_RNASEQ, NOT_ANNOTATED
    return ids


def tissue_of(index: int) -> str:
    return list(TISSUES)[index % 2]


def tpm_matrix(n_genes=N_GENES, n_samples=12) -> np.ndarray:
    rng = np.random.default_rng(7)
    tpm = np.round(rng.lognormal(1.0, 2.0, size=(n_genes, n_samples)), 4)
    tpm[rng.random(tpm.shape) < 0.3] = 0.0  # GTEx TPMs have many zeros
    return tpm


def gct_text(tpm: np.ndarray, sample_ids: list[str], declared: tuple[int, int] | None = None) -> str:
    n_genes, n_samples = declared or tpm.shape
    lines = ["#1.2", f"{n_genes}\t{n_samples}", "\t".join(["Name", "Description", *sample_ids])]
    for g, row in enumerate(tpm):
        lines.append("\t".join([f"ENSG{g:011d}.{g % 7 + 1}", f"GENE{g}", *(f"{v:.10g}" for v in row)]))
    return "\n".join(lines) + "\n"


def attributes_text() -> str:
    rows = ["\t".join(ATTRIBUTE_COLUMNS)]
    for index, sample in enumerate(gct_sample_ids()):
        if sample == NOT_ANNOTATED:
            continue
        freeze = "EXCLUDE" if sample == NOT_RNASEQ else "RNASEQ"
        tissue = tissue_of(index)
        values = {"SAMPID": sample, "SMCENTER": "B1", "SMTS": tissue, "SMTSD": TISSUES[tissue],
                  "SMAFRZE": freeze, "SMRIN": "7.1",
                  # A stray quote like the real pathology notes: the reader must not treat it as quoting.
                  "SMPTHNTS": '"2 pieces, ~15% vessel stroma, rep delineated'}
        rows.append("\t".join(values.get(c, "") for c in ATTRIBUTE_COLUMNS))
    # DNA-only and RNA samples that the GCT lacks are ignored.
    rows.append("\t".join({"SAMPID": "GTEX-1117F-0003-SM-58Q7G", "SMTS": "Blood",
                           "SMAFRZE": "WGS"}.get(c, "") for c in ATTRIBUTE_COLUMNS))
    rows.append("\t".join({"SAMPID": "GTEX-1117F-2826-SM-9ZZZZ", "SMTS": "Lung",
                           "SMAFRZE": "RNASEQ"}.get(c, "") for c in ATTRIBUTE_COLUMNS))
    return "\n".join(rows) + "\n"


def phenotypes_text(codes: dict[str, str] = DONORS) -> str:
    rows = ["SUBJID\tSEX\tAGE\tDTHHRDY"] + [f"{d}\t{sex}\t60-69\t2" for d, sex in codes.items()]
    return "\n".join(rows) + "\n"


@pytest.fixture
def https_server(tls, monkeypatch, tmp_path):
    ca_cert, cert, key = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_cert))
    monkeypatch.setenv("EXPRBENCH_CACHE", str(tmp_path / "cache"))
    with FileServer(tls=(cert, key)) as running:
        yield running


def serve(server, bodies: dict[str, bytes], legacy_only=()) -> dict:
    """Publish each file under /adult-gtex (or only under /legacy) and return the files spec."""
    names = {"gene_tpm": GCT_NAME, "sample_attributes": ATTRIBUTES_NAME, "subject_phenotypes": PHENOTYPES_NAME}
    files = {}
    for key, filename in names.items():
        bucket = "legacy" if key in legacy_only else "adult-gtex"
        server.add(f"/{bucket}/{filename}", Route(bodies[key]))
        files[key] = {"urls": [server.url(f"/adult-gtex/{filename}"), server.url(f"/legacy/{filename}")],
                      "filename": filename, "md5": hashlib.md5(bodies[key]).hexdigest()}
    return files


def default_bodies(gct: str | None = None) -> dict[str, bytes]:
    return {"gene_tpm": gzip.compress((gct or gct_text(tpm_matrix(), gct_sample_ids())).encode()),
            "sample_attributes": attributes_text().encode(),
            "subject_phenotypes": phenotypes_text().encode()}


def fetch_and_write(server, tmp_path, bodies=None, legacy_only=(), **params):
    source = GTExV8(files=serve(server, bodies or default_bodies(), legacy_only), **params)
    source.parse_block_values = 12 * 7   # 7 genes per parse block: several blocks and a ragged last one
    source.store_block_values = 16 * 30  # 16 samples per store block
    downloads = source.fetch(tmp_path / "raw", progress=False, backoff=0.01, retries=1)
    out = tmp_path / "gtex.h5"
    source.write(out, downloads)
    return out, downloads


def kept_columns() -> list[int]:
    return [i for i, s in enumerate(gct_sample_ids()) if s not in (NOT_RNASEQ, NOT_ANNOTATED)]


def test_fetch_and_write_filters_labels_and_stores_tpm(https_server, tmp_path):
    out, _ = fetch_and_write(https_server, tmp_path)

    with open_dataset(out) as data:
        samples, genes, provenance = data.samples, data.genes, data.provenance
        expression = data.read_expression()
    kept = kept_columns()
    ids = gct_sample_ids()
    assert expression.shape == (10, N_GENES) and expression.dtype == np.float32
    assert list(samples["sample_id"]) == [ids[i] for i in kept]
    assert NOT_RNASEQ not in set(samples["sample_id"]) and NOT_ANNOTATED not in set(samples["sample_id"])
    np.testing.assert_allclose(expression, tpm_matrix()[:, kept].T, rtol=1e-6)

    assert list(samples["tissue"]) == [tissue_of(i) for i in kept]
    assert list(samples["tissue_detail"]) == [TISSUES[tissue_of(i)] for i in kept]
    expected_sex = {"1": "male", "2": "female"}
    assert list(samples["sex"]) == [expected_sex[DONORS[donor_of(ids[i])]] for i in kept]
    assert samples.loc[samples["sample_id"] == "GTEX-1117F-0011-R10a-SM-AHZ7F", "donor"].item() == "GTEX-1117F"
    assert list(samples["study"]) == list(samples["donor"])
    assert samples.groupby("donor").size().to_dict() == {"GTEX-1117F": 4, "GTEX-111CU": 3, "GTEX-ZZPU2": 3}

    # The store drops Ensembl versions (and genes["symbol"][29] == "GENE29").
    assert genes["gene_id"][0] == "ENSG00000000000"
    assert provenance["source"] == "gtex" and GCT_NAME in provenance["source_version"]
    assert provenance["values"] == "TPM"
    assert not any("log2" in step for step in provenance["preprocessing"])
    assert "kept the 10 of 12 GCT samples" in provenance["preprocessing"][1]
    assert provenance["sample_counts"]["other_freeze"] == 1
    assert provenance["sample_counts"]["not_in_attributes"] == 1
    assert provenance["gct_dimensions"] == [N_GENES, 12]


def test_log_transform_on_stores_log2_tpm(https_server, tmp_path):
    out, _ = fetch_and_write(https_server, tmp_path, log_transform=True)

    with open_dataset(out) as data:
        np.testing.assert_allclose(data.read_expression(), np.log2(tpm_matrix()[:, kept_columns()].T + 1), rtol=1e-6)
        assert data.provenance["values"] == "log2(TPM + 1)"
        assert data.provenance["preprocessing"][-1] == "log2(TPM + 1), float32"


def test_donor_missing_from_phenotypes_has_no_sex(https_server, tmp_path):
    bodies = default_bodies()
    bodies["subject_phenotypes"] = phenotypes_text({"GTEX-1117F": "2", "GTEX-111CU": "1"}).encode()
    out, _ = fetch_and_write(https_server, tmp_path, bodies)

    with open_dataset(out) as data:
        samples = data.samples
    assert samples.loc[samples["donor"] == "GTEX-ZZPU2", "sex"].isna().all()
    assert samples.loc[samples["donor"] == "GTEX-111CU", "sex"].eq("male").all()


def test_legacy_mirror_is_used_when_the_current_bucket_404s(https_server, tmp_path):
    out, downloads = fetch_and_write(https_server, tmp_path, legacy_only=("gene_tpm",))

    manifest = read_manifest(downloads["gene_tpm"].parent)
    assert manifest[GCT_NAME]["url"].endswith(f"/legacy/{GCT_NAME}")
    assert manifest[ATTRIBUTES_NAME]["url"].endswith(f"/adult-gtex/{ATTRIBUTES_NAME}")
    gct_requests = [r.path for r in https_server.requests if r.path.endswith(GCT_NAME)]
    assert gct_requests == [f"/adult-gtex/{GCT_NAME}", f"/legacy/{GCT_NAME}"]
    with open_dataset(out) as data:
        assert data.shape == (10, N_GENES)


def test_missing_everywhere_names_both_mirrors(https_server, tmp_path):
    source = GTExV8(files=serve(https_server, default_bodies()))
    source.files["gene_tpm"]["urls"] = [https_server.url("/adult-gtex/gone.gct.gz"),
                                        https_server.url("/legacy/gone.gct.gz")]

    with pytest.raises(DownloadError, match="all 2 mirrors failed") as error:
        source.fetch(tmp_path / "raw", progress=False, backoff=0.01, retries=1)
    assert "/adult-gtex/gone.gct.gz" in str(error.value) and "/legacy/gone.gct.gz" in str(error.value)


@pytest.mark.parametrize("gene_rows, declared, message", [
    (N_GENES, (N_GENES + 1, 12), f"declares {N_GENES + 1} genes but the file has {N_GENES} gene rows"),
    (N_GENES, (N_GENES - 1, 12), f"declares {N_GENES - 1} genes but the file has more gene rows"),
    (N_GENES, (N_GENES, 13), "declares 13 samples but the header names 12"),
    (0, (N_GENES, 12), f"declares {N_GENES} genes but the file has 0 gene rows"),
])
def test_dimensions_line_disagreeing_with_content_is_rejected(https_server, tmp_path, gene_rows, declared, message):
    gct = gct_text(tpm_matrix()[:gene_rows], gct_sample_ids(), declared=declared)

    with pytest.raises(GctFormatError, match=message) as error:
        fetch_and_write(https_server, tmp_path, default_bodies(gct))
    assert GCT_NAME in str(error.value)
    assert not (tmp_path / "gtex.h5").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gtex.h5")] == []  # no scratch left


def replace_first_value_of_gene12(text: str, value: str) -> str:
    return re.sub(r"(\tGENE12\t)[^\t]+", lambda m: m.group(1) + value, text)


def drop_last_value_of_gene3(text: str) -> str:
    return "\n".join(line.rsplit("\t", 1)[0] if line.startswith("ENSG00000000003") else line
                     for line in text.split("\n"))


NOT_A_NUMBER = "between file lines 11 and 17 is missing or not a number"


@pytest.mark.parametrize("garble, message", [
    (lambda text: text.replace("#1.2", "#1.3", 1), "not a GCT 1.2 file"),
    (lambda text: text.replace("\tGENE12\t", "\tGENE12\t1.5\t", 1), "file line 16 has 13 values, the header names"),
    (drop_last_value_of_gene3, "file line 7 has 11 values, the header names 12"),
    (lambda text: replace_first_value_of_gene12(text, "x"), NOT_A_NUMBER),
    (lambda text: replace_first_value_of_gene12(text, ""), NOT_A_NUMBER),
    (lambda text: replace_first_value_of_gene12(text, "nan"), NOT_A_NUMBER),
    (lambda text: replace_first_value_of_gene12(text, "inf"), r"gene row 13 \(ENSG00000000012.6\) holds a NaN"),
])
def test_garbled_gct_is_rejected_naming_the_file(https_server, tmp_path, garble, message):
    gct = garble(gct_text(tpm_matrix(), gct_sample_ids()))

    with pytest.raises(GctFormatError, match=message) as error:
        fetch_and_write(https_server, tmp_path, default_bodies(gct))
    assert GCT_NAME in str(error.value)


def test_truncated_local_gct_is_rejected_naming_the_file(tmp_path):
    # Downloads are checked, but a file damaged on disk afterwards reaches write() as is.
    whole = gzip.compress(gct_text(tpm_matrix(), gct_sample_ids()).encode())
    files = {"gene_tpm": tmp_path / GCT_NAME, "sample_attributes": tmp_path / ATTRIBUTES_NAME,
             "subject_phenotypes": tmp_path / PHENOTYPES_NAME}
    files["gene_tpm"].write_bytes(whole[: len(whole) * 2 // 3])
    files["sample_attributes"].write_text(attributes_text())
    files["subject_phenotypes"].write_text(phenotypes_text())

    with pytest.raises(GctFormatError, match="truncated or corrupt") as error:
        GTExV8().write(tmp_path / "gtex.h5", files)
    assert GCT_NAME in str(error.value)
    assert not (tmp_path / "gtex.h5").exists()


def test_unknown_sex_code_is_rejected_naming_the_file(https_server, tmp_path):
    bodies = default_bodies()
    bodies["subject_phenotypes"] = phenotypes_text({**DONORS, "GTEX-ZZPU2": "M"}).encode()

    with pytest.raises(ValueError, match=r"unexpected SEX codes \['M'\]") as error:
        fetch_and_write(https_server, tmp_path, bodies)
    assert PHENOTYPES_NAME in str(error.value)


def test_attributes_without_freeze_column_are_rejected(https_server, tmp_path):
    bodies = default_bodies()
    bodies["sample_attributes"] = attributes_text().replace("SMAFRZE", "SMAFRZ").encode()

    with pytest.raises(ValueError, match=r"lacks column\(s\) \['SMAFRZE'\]") as error:
        fetch_and_write(https_server, tmp_path, bodies)
    assert ATTRIBUTES_NAME in str(error.value)


def test_donor_is_the_first_two_fields_of_the_sample_id():
    assert donor_of("GTEX-1117F-0226-SM-5GZZ7") == "GTEX-1117F"
    assert donor_of("GTEX-1117F-0011-R10a-SM-AHZ7F") == "GTEX-1117F"


def test_labels_are_declared_for_the_config_check():
    assert set(GTExV8.labels_for({})) == {"tissue", "tissue_detail", "sex"}
    assert GTExV8.defaults == {"log_transform": False}
