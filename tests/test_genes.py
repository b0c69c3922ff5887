import numpy as np
import pandas as pd
from conftest import make_data

from exprbench.genes import shared_genes, unversioned
from exprbench.store import open_dataset, write_dataset


def test_versions_are_dropped_but_par_y_and_other_ids_are_kept():
    ids = ["ENSG00000223972.5", "ENSG00000002586.18_PAR_Y", "ENSG00000002586.18", "TP53", "1007_s_at"]
    assert unversioned(ids).tolist() == ["ENSG00000223972", "ENSG00000002586_PAR_Y", "ENSG00000002586", "TP53",
                                         "1007_s_at"]


def test_ids_that_would_clash_keep_their_versions():
    assert unversioned(["ENSG1.1", "ENSG1.2", "ENSG2.3"]).tolist() == ["ENSG1.1", "ENSG1.2", "ENSG2"]


def test_store_keeps_unversioned_ids(tmp_path):
    data = make_data(n_genes=3)
    data.genes["gene_id"] = ["ENSG00000000003.14", "ENSG00000000005.5", "ENSG00000000419.12"]
    write_dataset(tmp_path / "d.h5", data)
    with open_dataset(tmp_path / "d.h5") as reader:
        assert reader.genes["gene_id"].tolist() == ["ENSG00000000003", "ENSG00000000005", "ENSG00000000419"]


def test_shared_genes_match_on_ensembl_ids_or_else_symbols():
    gtex = pd.DataFrame({"gene_id": ["ENSG1", "ENSG2", "ENSG3"], "symbol": ["A", "B", "C"]})
    archs4 = pd.DataFrame({"gene_id": ["ENSG3", "ENSG9", "ENSG1"], "symbol": ["C", "X", "A"]})
    a, b = shared_genes(gtex, archs4)
    np.testing.assert_array_equal(a, [0, 2])
    np.testing.assert_array_equal(b, [2, 0])
    xena = pd.DataFrame({"gene_id": ["C", "B", "B"], "symbol": ["C", "B", "B"]})
    a, b = shared_genes(gtex, xena)  # symbols only; the duplicated B is left out
    np.testing.assert_array_equal(a, [2])
    np.testing.assert_array_equal(b, [0])
