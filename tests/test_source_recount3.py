import gzip
from pathlib import Path

import numpy as np
import pytest
import recount3_fixtures as fx
import yaml
from http_server import FileServer, Route

from exprbench.download import DownloadError
from exprbench.genes import unversioned
from exprbench.sources import SOURCES, recount3
from exprbench.sources.recount3 import PROJECT_LIST_PATH, Recount3Error, Recount3SRA
from exprbench.store import open_dataset

REPO = Path(__file__).resolve().parents[1]
ANNOTATION_PATH = "human/annotations/gene_sums/human.gene_sums.G026.gtf.gz"
MIRROR_1, MIRROR_2 = "/recount3/release/", "/mirror/recount3/data/"
# Only the second mirror has this file: fetching it proves the per-project fallback.
ONLY_ON_MIRROR_2 = "human/data_sources/sra/gene_sums/02/ERP000202/sra.gene_sums.ERP000202.G026.gz"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)


@pytest.fixture
def release(tls):
    """An HTTPS server with the fake release on two mirrors."""
    _, cert, key = tls
    with FileServer(tls=(cert, key)) as server:
        for relative, body in fx.release_files().items():
            server.add(MIRROR_2 + relative, Route(body))
            if relative != ONLY_ON_MIRROR_2:
                server.add(MIRROR_1 + relative, Route(body))
        yield server


def files_on(server) -> dict:
    return {
        "project_list": {"urls": [server.url(m + PROJECT_LIST_PATH) for m in (MIRROR_1, MIRROR_2)],
                         "filename": "sra.recount_project.MD.gz"},
        "gene_annotation": {"urls": [server.url(m + ANNOTATION_PATH) for m in (MIRROR_1, MIRROR_2)],
                            "filename": "human.gene_sums.G026.gtf.gz"},
    }


def options(tls) -> dict:
    return dict(max_workers=3, ca_bundle=tls[0], progress=False, use_cache=False, retries=0, backoff=0.0)


def flynn_file(tmp_path) -> Path:
    path = tmp_path / "manual" / "combined_human_mouse_meta_v2.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fx.flynn_csv())
    return path


def source_for(server, tmp_path, **params) -> Recount3SRA:
    params.setdefault("sex_labels_path", str(tmp_path / "manual" / "combined_human_mouse_meta_v2.csv"))
    return Recount3SRA(files=files_on(server), **params)


def expected_tpm(run: str) -> np.ndarray:
    lengths = np.array([g[2] for g in fx.GENES], dtype=float)
    rates = np.array(fx.COVERAGE[run], dtype=float) / lengths
    return rates / rates.sum() * 1e6


# ----------------------------------------------------------------------------- fetch


def test_fetch_gets_every_human_project_file_and_skips_the_mouse_project(release, tls, tmp_path):
    paths = source_for(release, tmp_path).fetch(tmp_path / "raw", **options(tls))

    per_project = {f"{p}/{t}" for p in fx.PROJECTS for t in ("gene_sums", "sra", "recount_project", "recount_pred")}
    assert set(paths) == {"project_list", "gene_annotation"} | per_project
    assert paths["SRP000101/gene_sums"] == tmp_path / "raw/projects/SRP000101/sra.gene_sums.SRP000101.G026.gz"
    assert all(p.is_file() for p in paths.values())
    assert not any(fx.MOUSE_PROJECT in r.path for r in release.requests)
    assert (tmp_path / "raw/projects/ERP000202/MANIFEST.json").is_file()


def test_refetch_requests_nothing_and_a_deleted_file_alone_is_fetched_again(release, tls, tmp_path):
    source = source_for(release, tmp_path)
    paths = source.fetch(tmp_path / "raw", **options(tls))
    release.requests.clear()

    assert source.fetch(tmp_path / "raw", **options(tls)) == paths
    assert release.requests == []

    paths["SRP000101/recount_pred"].unlink()
    source.fetch(tmp_path / "raw", **options(tls))
    assert [r.path for r in release.requests] == [MIRROR_1 + "human/data_sources/sra/metadata/01/SRP000101/"
                                                  "sra.recount_pred.SRP000101.MD.gz"]


def test_fetch_restricted_to_listed_projects(release, tls, tmp_path):
    paths = source_for(release, tmp_path, projects=["ERP000202"]).fetch(tmp_path / "raw", **options(tls))

    assert {n.split("/")[0] for n in paths if "/" in n} == {"ERP000202"}
    assert not any("SRP000101" in r.path for r in release.requests)


def test_fetch_rejects_a_project_that_is_not_listed(release, tls, tmp_path):
    with pytest.raises(Recount3Error, match=r"\['SRP424242'\] are not human SRA projects"):
        source_for(release, tmp_path, projects=["SRP424242", "ERP000202"]).fetch(tmp_path / "raw", **options(tls))


def test_fetch_names_the_missing_project_file(release, tls, tmp_path):
    for mirror in (MIRROR_1, MIRROR_2):
        release.routes.pop(mirror + "human/data_sources/sra/metadata/01/SRP000101/sra.sra.SRP000101.MD.gz", None)
    with pytest.raises(DownloadError, match="sra.sra.SRP000101.MD.gz"):
        source_for(release, tmp_path).fetch(tmp_path / "raw", **options(tls))


def test_project_list_url_must_end_with_the_release_path(tmp_path):
    files = {"project_list": {"urls": ["https://example.org/recount3/projects.gz"]},
             "gene_annotation": {"urls": ["https://example.org/a.gtf.gz"]}}
    with pytest.raises(Recount3Error, match="does not end with /human/data_sources/sra/metadata"):
        Recount3SRA(files=files).fetch(tmp_path)


# ----------------------------------------------------------------------------- write


@pytest.fixture
def fetched(release, tls, tmp_path):
    return source_for(release, tmp_path).fetch(tmp_path / "raw", **options(tls))


def test_write_stores_tpm_by_default_and_removes_single_cell_runs(fetched, release, tmp_path):
    out = tmp_path / "recount3.h5"
    source_for(release, tmp_path).write(out, fetched)

    with open_dataset(out) as data:
        samples, genes, matrix, provenance = data.samples, data.genes, data.read_expression(), data.provenance
    assert list(samples["sample_id"]) == ["ERR2002", "ERR2003", "SRR1001", "SRR1003"]
    assert list(genes["gene_id"]) == list(unversioned([g[0] for g in fx.GENES]))
    assert list(genes["symbol"]) == ["GENEA", "GENEB", "GENEC", "GENED", "ENSG00000000005.1"]
    # SRR1001 by hand: coverage/length = 1, 2, 0, 1, 1 -> TPM 2e5, 4e5, 0, 2e5, 2e5
    np.testing.assert_allclose(matrix[2], [200000, 400000, 0, 200000, 200000], rtol=1e-6)
    for row, run in enumerate(samples["sample_id"]):
        np.testing.assert_allclose(matrix[row], expected_tpm(run), rtol=1e-5)
    assert matrix.dtype == np.float32
    assert provenance["n_removed_sparse"] == 1 and provenance["n_removed_scrna"] == 1
    assert provenance["n_runs_seen"] == 6 and provenance["n_projects"] == 2
    assert provenance["values"] == "TPM" and "TPM, float32" in provenance["preprocessing"]
    assert not any("log2" in step for step in provenance["preprocessing"])
    assert len(provenance["source_version"].rsplit(" ", 1)[1]) == 64  # project list SHA-256


def test_log_transform_param_stores_log2_tpm(fetched, release, tmp_path):
    out = tmp_path / "recount3.h5"
    source_for(release, tmp_path, log_transform=True).write(out, fetched)

    with open_dataset(out) as data:
        samples, matrix, provenance = data.samples, data.read_expression(), data.provenance
    for row, run in enumerate(samples["sample_id"]):
        np.testing.assert_allclose(matrix[row], np.log2(expected_tpm(run) + 1), rtol=1e-5)
    assert provenance["values"] == "log2(TPM + 1)" and "log2(TPM + 1), float32" in provenance["preprocessing"]


def test_reading_runs_in_small_batches_gives_the_same_store(fetched, release, tmp_path, monkeypatch):
    whole, batched = tmp_path / "whole.h5", tmp_path / "batched.h5"
    source_for(release, tmp_path).write(whole, fetched)
    monkeypatch.setattr(recount3, "_RUNS_PER_PASS", 1)
    source_for(release, tmp_path).write(batched, fetched)

    with open_dataset(whole) as a, open_dataset(batched) as b:
        assert a.samples.equals(b.samples)
        np.testing.assert_array_equal(a.read_expression(), b.read_expression())
        assert a.provenance["n_removed_sparse"] == b.provenance["n_removed_sparse"] == 1


def test_write_sets_study_donor_and_tissue(fetched, release, tmp_path):
    out = tmp_path / "recount3.h5"
    source_for(release, tmp_path).write(out, fetched)

    samples = open_dataset(out).samples.set_index("sample_id")
    assert samples["study"].to_dict() == {"ERR2002": "ERP000202", "ERR2003": "ERP000202",
                                          "SRR1001": "SRP000101", "SRR1003": "SRP000101"}
    # Two runs of one SRA sample are one donor.
    assert samples["donor"].to_dict() == {"ERR2002": "ERS2000", "ERR2003": "ERS2000",
                                          "SRR1001": "SRS1001", "SRR1003": "SRS1003"}
    assert samples["tissue"].fillna("-").to_dict() == {"ERR2002": "Blood", "ERR2003": "Blood",
                                                       "SRR1001": "Liver", "SRR1003": "-"}


def test_sex_labels_come_from_the_flynn_file(fetched, release, tmp_path):
    labels = flynn_file(tmp_path)
    out = tmp_path / "recount3.h5"
    source = source_for(release, tmp_path)
    source.require_label("sex")
    source.write(out, fetched)

    with open_dataset(out) as data:
        sex = data.samples.set_index("sample_id")["sex"].fillna("-").to_dict()
        provenance = data.provenance
    assert sex == {"ERR2002": "female", "ERR2003": "-", "SRR1001": "male", "SRR1003": "-"}
    assert provenance["sex_labels"]["path"] == str(labels) and provenance["n_with_sex"] == 2


def test_without_the_flynn_file_sex_is_missing_and_requiring_it_names_the_path(fetched, release, tmp_path):
    out = tmp_path / "recount3.h5"
    source = source_for(release, tmp_path)
    source.write(out, fetched)

    assert open_dataset(out).samples["sex"].isna().all()
    source.require_label("tissue")
    expected = tmp_path / "manual" / "combined_human_mouse_meta_v2.csv"
    with pytest.raises(Recount3Error, match="figshare.com/s/985621c1705043421962") as error:
        source.require_label("sex")
    assert str(expected) in str(error.value)


def test_flynn_file_with_other_columns_is_rejected_by_name(fetched, release, tmp_path):
    labels = flynn_file(tmp_path)
    labels.write_text("run,sex\nSRR1001,male\n")
    with pytest.raises(Recount3Error, match=f"{labels}: .*lacks columns"):
        source_for(release, tmp_path).write(tmp_path / "out.h5", fetched)
    assert not (tmp_path / "out.h5").exists()


def test_gene_sums_missing_a_run_names_the_file(fetched, release, tmp_path):
    path = fetched["SRP000101/gene_sums"]
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress("\n".join(line.rsplit("\t", 1)[0] for line in lines).encode()))
    with pytest.raises(Recount3Error, match=f"{path}: runs \\['SRR1003'\\]"):
        source_for(release, tmp_path).write(tmp_path / "out.h5", fetched)


def test_gene_sums_with_a_gene_off_the_annotation_names_the_file(fetched, release, tmp_path):
    path = fetched["SRP000101/gene_sums"]
    text = gzip.decompress(path.read_bytes()).decode().replace("ENSG00000000004.7", "ENSG00000999999.1")
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(Recount3Error, match=f"{path}: gene ENSG00000999999.1 is not in the G026"):
        source_for(release, tmp_path).write(tmp_path / "out.h5", fetched)


def test_write_keeps_only_the_requested_projects(fetched, release, tmp_path):
    out = tmp_path / "recount3.h5"
    source_for(release, tmp_path, projects=["SRP000101"]).write(out, fetched)
    assert list(open_dataset(out).samples["sample_id"]) == ["SRR1001", "SRR1003"]


# ----------------------------------------------------------------------------- registration


def test_dataset_definition_builds_a_source_with_tissue_and_sex_labels():
    # The full config check (config.resolve) also loads the models, which is slow here;
    # this checks what the source itself needs from the definition.
    definition = yaml.safe_load((REPO / "config/datasets/recount3_sra.yaml").read_text())
    source_class = SOURCES.get(definition["source"])
    source = source_class(files=definition["files"], **definition["params"])

    assert source_class is Recount3SRA
    assert {"tissue", "sex"} <= set(source_class.labels_for(definition["params"]))
    assert all(url.startswith("https://") for f in definition["files"].values() for url in f["urls"])
    assert len(source._mirror_bases()) == 2
