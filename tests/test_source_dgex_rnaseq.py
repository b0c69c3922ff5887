"""D-GEX GTEx / 1000 Genomes source: tiny RPKM files served over local HTTPS, mapped
onto the quantiles of a tiny GEO store."""

import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
from http_server import Route

from exprbench.quantile import map_to_reference_quantiles
from exprbench.sources.dgex_geo import DgexGeo
from exprbench.sources.dgex_rnaseq import DgexRnaseq, RnaseqFormatError
from exprbench.store import ExpressionData, open_dataset, write_dataset

FAST = dict(progress=False, backoff=0.01, retries=1, timeout=5, use_cache=False)

# D-GEX genes in GEO store order: two landmarks, then three targets.
GENE_IDS = ["ENSG00000175063", "ENSG00000171174", "ENSG00000000003", "ENSG00000204209", "ENSG00000182378"]
SYMBOLS = ["UBE2C", "RBKS", "TSPAN6", "DAXX", "PLCXD1"]
LANDMARK_IDS = GENE_IDS[:2]
LANDMARK_MAP = "UBE2C\tENSG00000175063\tp1_at,p2_at\nRBKS\tENSG00000171174\tp3_s_at\n"
TARGET_MAP = ("TSPAN6\tENSG00000000003\tp4_at\nDAXX\tENSG00000204209\tp5_x_at,p6_at\n"
              "PLCXD1\tENSG00000182378\tp7_at\n")
REFERENCE = np.array([1.5, 2.0, 4.0, 7.5, 11.0])

# RNA-seq gene rows: shuffled, versioned, with genes D-GEX does not use and a chrY PAR copy.
RNASEQ_GENE_IDS = ["ENSG00000223972.5", "ENSG00000182378.14", "ENSG00000204209.6", "ENSG00000000003.14",
                   "ENSG00000171174.13", "ENSG00000175063.16", "ENSG00000227232.5", "ENSG00000182378.14_PAR_Y"]
# Column of each D-GEX gene (GENE_IDS order) in RNASEQ_GENE_IDS.
ALIGNED = [5, 4, 3, 2, 1]


def write_geo_store(path, reference=REFERENCE, with_array=True):
    """A dgex_geo store as that source writes it (values are irrelevant here)."""
    samples = pd.DataFrame({"sample_id": ["GSM1", "GSM2"], "study": ["GSM1", "GSM2"], "donor": ["GSM1", "GSM2"]})
    genes = pd.DataFrame({"gene_id": GENE_IDS, "symbol": SYMBOLS})
    provenance = {"source": "dgex_geo", "source_version": "D-GEX GEO bgedv2_QNORM.gctx",
                  "preprocessing": ["test"], "landmark_genes": LANDMARK_IDS}
    arrays = {"reference_quantiles": reference} if with_array else {}
    write_dataset(path, ExpressionData(np.zeros((2, len(GENE_IDS))), samples, genes, provenance, arrays=arrays))
    return path


def rpkm(n_samples, seed=0):
    """Samples x RNA-seq genes RPKM; sample 1 has tied zeros."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.gamma(1.0, 20.0, size=(n_samples, len(RNASEQ_GENE_IDS))), 3) + 0.001
    values[1, [5, 3, 2]] = 0.0
    return values


GTEX_SAMPLES = ["GTEX-1117F-0226-SM-5GZZ7", "GTEX-1117F-0011-R10a-SM-AHZ7F", "GTEX-ZZPU-2626-SM-5E45Y"]
GEUVADIS_SAMPLES = ["HG00096", "HG00097", "NA06984", "NA12878"]


def gtex_gctx(tmp_path, values, gene_ids=RNASEQ_GENE_IDS) -> bytes:
    """A GCTX as cmapPy writes it: matrix stored samples x genes."""
    path = tmp_path / "gtex.gctx"
    with h5py.File(path, "w") as h5:
        h5.attrs["version"] = "GCTX1.0"
        h5.create_dataset("0/DATA/0/matrix", data=np.asarray(values, dtype=np.float32), chunks=True)
        h5.create_dataset("0/META/ROW/id", data=np.array(gene_ids, dtype="S"))
        h5.create_dataset("0/META/COL/id", data=np.array(GTEX_SAMPLES[:len(values)], dtype="S"))
    return path.read_bytes()


def gd462_gz(values, gene_ids=RNASEQ_GENE_IDS) -> bytes:
    """The GD462 table: genes in rows, TargetID, Gene_Symbol, Chr, Coord, then samples."""
    table = pd.DataFrame({"TargetID": gene_ids, "Gene_Symbol": [f"SYM{i}" for i in range(len(gene_ids))],
                          "Chr": "1", "Coord": [str(1000 * (i + 1)) for i in range(len(gene_ids))]})
    for j, sample in enumerate(GEUVADIS_SAMPLES[:values.shape[0]]):
        table[sample] = values[j]
    return gzip.compress(table.to_csv(sep="\t", index=False).encode())


FILENAMES = {"gtex": "GTEx_RNASeq_RPKM_n2921x55993.gctx",
             "1000g": "GD462.GeneQuantRPKM.50FN.samplename.resk10.txt.gz"}


def build(server, tmp_path, platform, body: bytes, reference_store, **params):
    name = FILENAMES[platform]
    files = {
        "expression": {"urls": [server.add(f"/{platform}/{name}", Route(body))], "filename": name},
        "landmarks": {"urls": [server.add("/D-GEX/map_lm.txt", Route(LANDMARK_MAP.encode()))],
                      "filename": "map_lm.txt"},
        "targets": {"urls": [server.add("/D-GEX/map_tg.txt", Route(TARGET_MAP.encode()))],
                    "filename": "map_tg.txt"},
    }
    source = DgexRnaseq(files=files, platform=platform, reference_store=str(reference_store), **params)
    assert source.required_inputs() == [str(reference_store)]
    downloads = source.fetch(tmp_path / "raw", **FAST)
    out = tmp_path / f"dgex_{platform}.h5"
    source.write(out, downloads)
    return out


def check_mapped(out, values):
    aligned = values[:, ALIGNED]
    with open_dataset(out) as reader:
        stored = reader.read_expression()
        assert reader.genes["gene_id"].tolist() == GENE_IDS
        assert reader.genes["symbol"].tolist() == SYMBOLS
        provenance = reader.provenance
    assert stored.dtype == np.float32
    np.testing.assert_allclose(stored, map_to_reference_quantiles(aligned, REFERENCE), rtol=1e-6)
    # Samples without ties take exactly the reference quantiles, ordered as their RPKM.
    for row, sample in zip(stored, aligned, strict=False):
        if len(np.unique(sample)) == len(sample):
            np.testing.assert_allclose(np.sort(row), REFERENCE, rtol=1e-6)
            assert np.argsort(row).tolist() == np.argsort(sample).tolist()
    # Sample 1's three tied zeros share the lowest quantile; the top value keeps the top one.
    assert stored[1].tolist().count(REFERENCE[0]) == 3 and stored[1].max() == REFERENCE[-1]
    assert provenance["landmark_genes"] == LANDMARK_IDS and provenance["n_landmarks"] == 2
    assert provenance["n_targets"] == 3 and provenance["missing_genes"] == 0
    assert provenance["repeated_gene_ids_in_file"] == 1
    assert any("reference quantiles" in step for step in provenance["preprocessing"])
    return provenance


def test_gtex_gctx_mapped_onto_geo_quantiles_in_geo_gene_order(https, tmp_path):
    store = write_geo_store(tmp_path / "dgex_geo.h5")
    values = rpkm(3)
    out = build(https, tmp_path, "gtex", gtex_gctx(tmp_path, values), store, block_samples=2)
    provenance = check_mapped(out, values)
    assert provenance["source"] == "dgex_rnaseq" and provenance["platform"] == "gtex"
    with open_dataset(out) as reader:
        samples = reader.samples
    assert samples["sample_id"].tolist() == GTEX_SAMPLES
    assert samples["donor"].tolist() == ["GTEX-1117F", "GTEX-1117F", "GTEX-ZZPU"]
    assert samples["study"].tolist() == samples["donor"].tolist()
    assert list(samples.columns) == ["sample_id", "study", "donor"]


def test_1000g_table_mapped_onto_geo_quantiles_in_geo_gene_order(https, tmp_path):
    store = write_geo_store(tmp_path / "dgex_geo.h5")
    values = rpkm(4, seed=1)
    out = build(https, tmp_path, "1000g", gd462_gz(values), store)
    provenance = check_mapped(out, values)
    assert provenance["platform"] == "1000g" and provenance["samples_in_file"] == 4
    with open_dataset(out) as reader:
        samples = reader.samples
    assert samples["sample_id"].tolist() == GEUVADIS_SAMPLES
    assert samples["study"].tolist() == GEUVADIS_SAMPLES and samples["donor"].tolist() == GEUVADIS_SAMPLES


def test_reference_written_by_the_geo_source_is_used(https, tmp_path):
    # GEO profiles over seven probes; the GEO source averages them into the five genes.
    rng = np.random.default_rng(2)
    geo = tmp_path / "geo.gctx"
    with h5py.File(geo, "w") as h5:
        h5.create_dataset("0/DATA/0/matrix", data=rng.normal(8, 2, size=(6, 7)).astype(np.float32))
        h5.create_dataset("0/META/ROW/id", data=np.array(
            ["p1_at", "p2_at", "p3_s_at", "p4_at", "p5_x_at", "p6_at", "p7_at"], dtype="S"))
        h5.create_dataset("0/META/COL/id", data=np.array([f"GSM{i}" for i in range(6)], dtype="S"))
    maps = {"landmarks": tmp_path / "map_lm.txt", "targets": tmp_path / "map_tg.txt"}
    maps["landmarks"].write_text(LANDMARK_MAP)
    maps["targets"].write_text(TARGET_MAP)
    store = tmp_path / "dgex_geo.h5"
    DgexGeo(deduplicate=False).write(store, {"expression": geo, **maps})
    with open_dataset(store) as reader:
        reference = reader.array("reference_quantiles")
        geo_values = reader.read_expression()
    np.testing.assert_allclose(reference, np.sort(geo_values, axis=1).mean(axis=0), rtol=1e-5)

    values = rpkm(3)
    out = build(https, tmp_path, "gtex", gtex_gctx(tmp_path, values), store)
    with open_dataset(out) as reader:
        np.testing.assert_allclose(np.sort(reader.read_expression()[0]), reference, rtol=1e-6)


def test_genes_missing_from_rnaseq_are_listed(https, tmp_path):
    store = write_geo_store(tmp_path / "dgex_geo.h5")
    values = rpkm(3)
    kept = [i for i, g in enumerate(RNASEQ_GENE_IDS) if not g.startswith("ENSG00000171174")]
    body = gtex_gctx(tmp_path, values[:, kept], [RNASEQ_GENE_IDS[i] for i in kept])
    with pytest.raises(RnaseqFormatError,
                       match=r"1 of the 5 D-GEX genes are not in .*GTEx_RNASeq_RPKM_n2921x55993\.gctx: "
                             r"ENSG00000171174; set drop_missing_genes"):
        build(https, tmp_path, "gtex", body, store)


def test_missing_genes_can_be_dropped(https, tmp_path):
    store = write_geo_store(tmp_path / "dgex_geo.h5")
    values = rpkm(4)
    kept = [i for i, g in enumerate(RNASEQ_GENE_IDS) if not g.startswith("ENSG00000171174")]
    body = gd462_gz(values[:, kept], [RNASEQ_GENE_IDS[i] for i in kept])
    out = build(https, tmp_path, "1000g", body, store, drop_missing_genes=True)
    with open_dataset(out) as reader:
        assert reader.genes["gene_id"].tolist() == [g for g in GENE_IDS if g != "ENSG00000171174"]
        stored = reader.read_expression()
        provenance = reader.provenance
    assert provenance["landmark_genes"] == ["ENSG00000175063"] and provenance["n_targets"] == 3
    assert provenance["missing_genes"] == 1 and provenance["missing_genes_shown"] == ["ENSG00000171174"]
    # Four genes on a five-value reference: the largest still maps to the top quantile.
    assert stored.shape == (4, 4) and stored[0].max() == REFERENCE[-1]


def test_missing_reference_store_names_path_and_fix(https, tmp_path):
    absent = tmp_path / "data" / "dgex_geo.h5"
    with pytest.raises(RnaseqFormatError, match=r"data/dgex_geo\.h5 does not exist; prepare dgex_geo first"):
        build(https, tmp_path, "1000g", gd462_gz(rpkm(4)), absent)


def test_reference_store_without_quantiles_names_path_and_fix(https, tmp_path):
    store = write_geo_store(tmp_path / "old_geo.h5", with_array=False)
    with pytest.raises(RnaseqFormatError,
                       match=r"old_geo\.h5 has no array 'reference_quantiles'; prepare dgex_geo first"):
        build(https, tmp_path, "gtex", gtex_gctx(tmp_path, rpkm(3)), store)


def test_gene_maps_other_than_the_stores_are_refused(https, tmp_path):
    samples = pd.DataFrame({"sample_id": ["GSM1"], "study": ["GSM1"], "donor": ["GSM1"]})
    genes = pd.DataFrame({"gene_id": GENE_IDS[:4], "symbol": SYMBOLS[:4]})
    store = tmp_path / "dgex_geo.h5"
    write_dataset(store, ExpressionData(np.zeros((1, 4)), samples, genes,
                                        {"source": "dgex_geo", "landmark_genes": LANDMARK_IDS},
                                        arrays={"reference_quantiles": REFERENCE[:4]}))
    with pytest.raises(RnaseqFormatError, match=r"differ from the genes of .*dgex_geo\.h5.*prepare dgex_geo again"):
        build(https, tmp_path, "1000g", gd462_gz(rpkm(4)), store)


def write_local(tmp_path, platform, body: bytes, reference_store):
    """Prepare from files already on disk: the downloader itself refuses a file that is not gzip."""
    raw = tmp_path / "local"
    raw.mkdir(exist_ok=True)
    downloads = {"expression": raw / FILENAMES[platform], "landmarks": raw / "map_lm.txt",
                 "targets": raw / "map_tg.txt"}
    downloads["expression"].write_bytes(body)
    downloads["landmarks"].write_text(LANDMARK_MAP)
    downloads["targets"].write_text(TARGET_MAP)
    source = DgexRnaseq(platform=platform, reference_store=str(reference_store))
    source.write(tmp_path / "out.h5", downloads)


def test_garbled_gd462_and_wrong_columns_are_reported(tmp_path):
    store = write_geo_store(tmp_path / "dgex_geo.h5")
    truncated = gd462_gz(rpkm(4))[:-20]
    with pytest.raises(RnaseqFormatError, match=r"GD462\.GeneQuantRPKM.*is not a readable gzipped"):
        write_local(tmp_path, "1000g", truncated, store)
    renamed = gzip.compress(gzip.decompress(gd462_gz(rpkm(4))).replace(b"TargetID", b"Gene", 1))
    with pytest.raises(RnaseqFormatError, match=r"expected columns \['TargetID', 'Gene_Symbol', 'Chr', 'Coord'\]"):
        write_local(tmp_path, "1000g", renamed, store)


def test_garbled_gctx_is_reported(https, tmp_path):
    store = write_geo_store(tmp_path / "dgex_geo.h5")
    with pytest.raises(RnaseqFormatError, match=r"GTEx_RNASeq_RPKM_n2921x55993\.gctx is not a readable GCTX"):
        build(https, tmp_path, "gtex", b"this is not HDF5", store)


def test_platform_must_be_named():
    with pytest.raises(ValueError, match=r"platform must be one of \['gtex', '1000g'\]"):
        DgexRnaseq(platform="geo")
    assert DgexRnaseq(platform="1000g").required_inputs() == ["data/dgex_geo.h5"]
