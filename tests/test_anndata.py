"""AnnData out (``exprbench export``) and in (the ``local`` source), and the round trip."""

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_data

from exprbench.cli import main
from exprbench.sources.local import LocalSource
from exprbench.store import ExpressionData, open_dataset, write_dataset

DATA = Path(__file__).parent / "data"
# The matrix of the fixture files, which anndata 0.12.19 wrote (CSR and CSC X, categorical obs with a missing value).
FIXTURE_X = np.array([[2, 2, 2, 0], [2, 2, 0, 1], [1, 1, 4, 0], [2, 4, 2, 3], [2, 1, 3, 1], [0, 4, 0, 3]], np.float32)


def original_store(tmp_path) -> Path:
    data = make_data(n_samples=24, n_genes=15)
    samples = data.samples.assign(stage=["early", None, "late"] * 8)
    provenance = {"source": "test", "source_version": "1", "preprocessing": ["log2(x+1)", "none"],
                  "params": {"n": 24}, "files": {"matrix": {"sha256": "ab" * 32}}, "counts": [1, 2, 3]}
    path = tmp_path / "original.h5"
    write_dataset(path, ExpressionData(data.expression, samples, data.genes, provenance))
    return path


def test_round_trip_store_h5ad_local_store(tmp_path):
    store = original_store(tmp_path)
    assert main(["export", str(store), "--h5ad", str(tmp_path / "out.h5ad")]) == 0
    source = LocalSource(expression=str(tmp_path / "out.h5ad"))
    source.rows_per_block = 5
    source.write(tmp_path / "again.h5", {})
    with open_dataset(store) as original, open_dataset(tmp_path / "again.h5") as again:
        np.testing.assert_array_equal(again.read_expression(), original.read_expression())
        pd.testing.assert_frame_equal(again.samples, original.samples)
        pd.testing.assert_frame_equal(again.genes, original.genes)
        assert again.samples["stage"].isna().sum() == 8, "missing labels stay missing"
        kept = again.provenance["input_provenance"]
        assert kept == original.provenance
        assert again.provenance["preprocessing"][:2] == ["log2(x+1)", "none"]


def test_export_layout(tmp_path):
    store = original_store(tmp_path)
    main(["export", str(store), "--h5ad", str(tmp_path / "out.h5ad")])
    with h5py.File(tmp_path / "out.h5ad", "r") as h5, open_dataset(store) as reader:
        assert h5.attrs["encoding-type"] == "anndata"
        assert h5["X"].shape == (24, 15) and h5["X"].dtype == np.float32
        obs, var = h5["obs"], h5["var"]
        assert obs.attrs["_index"] == "sample_id" and list(obs.attrs["column-order"]) == ["study", "donor", "label",
                                                                                           "stage"]
        assert obs["stage"].attrs["encoding-type"] == "categorical"
        assert var.attrs["_index"] == "gene_id" and list(var["symbol"].asstr()[...]) == reader.genes["symbol"].tolist()
        assert h5["uns"]["provenance"]["source"].asstr()[()] == "test"
        assert list(h5["uns"]["provenance"]["preprocessing"].asstr()[...]) == ["log2(x+1)", "none"]
        assert json.loads(h5["uns"]["exprbench_provenance_json"].asstr()[()]) == reader.provenance


def test_export_by_dataset_name_and_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_dataset(tmp_path / "stores" / "mine.h5", make_data(n_samples=10, n_genes=6))
    config = {"data_dir": "stores", "datasets": {"mine": {"source": "simulated"}},
              "model_dir": str(Path(__file__).parents[1] / "config" / "models"),
              "tasks": {"t": {"dataset": "mine", "label": "label", "kind": "binary",
                              "models": ["logistic_regression"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["export", "mine", "--configfile", "c.yaml", "--h5ad", "mine.h5ad"]) == 0
    with h5py.File("mine.h5ad", "r") as h5:
        assert h5["X"].shape == (10, 6)
    assert main(["export", "yours", "--configfile", "c.yaml", "--h5ad", "x.h5ad"]) == 1
    assert main(["export", "missing.h5", "--h5ad", "x.h5ad"]) == 1
    assert not Path("x.h5ad").exists()


@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_reads_files_anndata_wrote(tmp_path, layout):
    path = DATA / f"anndata_0.12.19_{layout}.h5ad"
    assert LocalSource.labels_for({"expression": str(path)}) == ("tissue", "age")
    source = LocalSource(expression=str(path))
    source.rows_per_block = 4
    source.write(tmp_path / "out.h5", {})
    with open_dataset(tmp_path / "out.h5") as reader:
        np.testing.assert_array_equal(reader.read_expression(), FIXTURE_X)
        samples = reader.samples
        assert samples["sample_id"].tolist() == [f"cell{i}" for i in range(6)]
        assert samples["study"].tolist() == ["st0", "st1"] * 3
        assert samples["tissue"].fillna("?").tolist() == ["liver", "brain", "?", "liver", "brain", "liver"]
        assert samples["age"].tolist() == [str(30 + i) for i in range(6)]
        assert reader.genes["gene_id"].tolist() == [f"ENSG{j:011d}" for j in range(4)]
        assert reader.genes["symbol"].tolist() == [f"SYM{j}" for j in range(4)]


def test_anndata_reads_the_export(tmp_path):
    anndata = pytest.importorskip("anndata")  # not installable beside pandas 3 yet; checked when it is
    store = original_store(tmp_path)
    main(["export", str(store), "--h5ad", str(tmp_path / "out.h5ad")])
    adata = anndata.read_h5ad(tmp_path / "out.h5ad")
    with open_dataset(store) as reader:
        np.testing.assert_array_equal(adata.X, reader.read_expression())
        assert adata.obs_names.tolist() == reader.samples["sample_id"].tolist()
        assert adata.var["symbol"].tolist() == reader.genes["symbol"].tolist()
