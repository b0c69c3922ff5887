"""The two Bioconductor-backed sources, built from the installed R data packages."""

import numpy as np
import pytest

from exprbench import rdata

try:
    rdata.r_objects()
except rdata.RUnavailableError as err:
    pytest.skip(f"R is not usable from Python: {err}", allow_module_level=True)


def _check_matrix(data, shape):
    assert data.expression.shape == shape
    assert data.expression.dtype == np.float32
    assert np.isfinite(data.expression).all()
    assert data.samples["sample_id"].is_unique
    assert data.genes["gene_id"].is_unique


def test_all_shape_and_matrix(all_data):
    _check_matrix(all_data, (128, 12625))
    # RMA log2 intensities
    assert 1.0 < all_data.expression.min() and all_data.expression.max() < 16.0


def test_all_labels(all_data):
    samples = all_data.samples
    assert (samples["study"] == samples["sample_id"]).all()
    assert (samples["donor"] == samples["sample_id"]).all()
    assert samples["sex"].isna().sum() == 3
    assert samples["sex"].value_counts().to_dict() == {"male": 83, "female": 42}
    assert samples["lineage"].value_counts().to_dict() == {"B": 95, "T": 33}
    assert set(samples["bt_subtype"]) == {"B", "B1", "B2", "B3", "B4", "T", "T1", "T2", "T3", "T4"}
    assert (samples["bt_subtype"].str[0] == samples["lineage"]).all()


def test_all_genes_and_provenance(all_data):
    assert (all_data.genes["symbol"] == all_data.genes["gene_id"]).all()
    assert all_data.genes["gene_id"].iloc[0] == "1000_at"
    assert all_data.provenance["source"] == "bioc_all"
    assert all_data.provenance["source_version"].startswith("ALL ")
    assert all_data.provenance["preprocessing"] == ["RMA log2 (as distributed)"]


def test_bladderbatch_shape_and_matrix(bladder_data):
    _check_matrix(bladder_data, (57, 22283))


def test_bladderbatch_labels(bladder_data):
    samples = bladder_data.samples
    assert samples["study"].nunique() == 5
    assert set(samples["study"]) == {f"batch{i}" for i in range(1, 6)}
    assert (samples["donor"] == samples["sample_id"]).all()
    assert samples["sample_id"].str.match(r"^GSM\d+$").all()
    assert samples["cancer"].value_counts().to_dict() == {"Cancer": 40, "Biopsy": 9, "Normal": 8}
    assert set(samples["outcome"]) == {"Normal", "Biopsy", "mTCC", "sTCC+CIS", "sTCC-CIS"}
    assert samples[["cancer", "outcome"]].notna().all().all()


def test_bladderbatch_provenance(bladder_data):
    assert bladder_data.provenance["source"] == "bioc_bladderbatch"
    assert bladder_data.provenance["source_version"].startswith("bladderbatch ")


def test_missing_r_package_names_the_debian_package():
    with pytest.raises(rdata.RPackageMissingError, match="apt-get install r-bioc-nosuchpackage") as raised:
        rdata.load_expression_set("NoSuchPackage", "NoSuchPackage")
    assert "envs/r-limma.yaml" in str(raised.value)


def test_object_missing_from_package_is_reported():
    with pytest.raises(rdata.RDataError, match="did not define 'NoSuchObject'"):
        rdata.load_expression_set("ALL", "NoSuchObject")
