"""Gene identifiers shared across sources: Ensembl ids without their version.

GTEx and Recount3 give versioned ids (ENSG00000223972.5), ARCHS4 and D-GEX
unversioned ones, TCGA's Xena matrix only symbols. The store keeps the
unversioned id, so sources can be matched on it, and on symbols otherwise.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_VERSIONED = re.compile(r"^(ENS[A-Z]*G\d+)\.\d+(_PAR_Y)?$")


def unversioned(gene_ids) -> np.ndarray:
    """Drop Ensembl version suffixes, keeping a PAR_Y marker; other ids are unchanged.

    Where dropping a version would make two ids equal, both keep their version.
    """
    ids = np.asarray([str(g) for g in gene_ids], dtype=object)
    stripped = np.array([_VERSIONED.sub(r"\1\2", g) for g in ids], dtype=object)
    clashes = pd.Series(stripped).duplicated(keep=False).to_numpy() & (stripped != ids)
    return np.where(clashes, ids, stripped)


def shared_genes(genes_a: pd.DataFrame, genes_b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of the genes two datasets share, in ``genes_a``'s order.

    Matches on Ensembl ids when both tables have them, otherwise on symbols;
    an identifier that is not unique in either table is left out.
    """
    def is_ensembl(table):
        return table["gene_id"].astype(str).str.match(r"^ENS[A-Z]*G\d+").mean() > 0.5

    column = "gene_id" if is_ensembl(genes_a) and is_ensembl(genes_b) else "symbol"
    a = genes_a[column].astype(str)
    b = genes_b[column].astype(str)
    a_unique, b_unique = a[~a.duplicated(keep=False)], b[~b.duplicated(keep=False)]
    position_in_b = pd.Series(b_unique.index, index=b_unique.to_numpy())
    common = a_unique[a_unique.isin(position_in_b.index)]
    return common.index.to_numpy(), position_in_b[common.to_numpy()].to_numpy()
