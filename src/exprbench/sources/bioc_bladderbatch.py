"""Bladder cancer arrays from the Bioconductor data package ``bladderbatch``.

57 samples (Dyrskjot et al. 2004) on Affymetrix HG-U133A, 22,283 probe sets,
RMA-normalised log2 values as distributed; the sva package uses them to show
batch effects (Leek et al. 2010).

Samples table:
  * ``sample_id``: the GEO sample accession (the R sample name without ".CEL").
  * ``study``: the processing batch from pData ``batch``, as "batch1".."batch5".
    The batches are the array processing dates, so batch-wise splits test
    transfer across batches.
  * ``donor``: the sample id (one array per donor).
  * ``cancer``: pData ``cancer`` as distributed: "Cancer", "Normal" or "Biopsy".
  * ``outcome``: pData ``outcome`` as distributed: "Normal", "Biopsy", "mTCC",
    "sTCC+CIS", "sTCC-CIS".

No probe annotation package (hgu133a.db) is installed alongside, so the gene
symbol is the probe id.
"""

from __future__ import annotations

import pandas as pd

from ..rdata import load_expression_set
from ..store import ExpressionData
from . import DataSource


def _batch_name(value: str) -> str:
    # pData stores the batch as an R double, which arrives as text such as "3".
    return f"batch{int(float(value))}"


class BiocBladderBatch(DataSource):
    name = "bioc_bladderbatch"
    label_columns = ("cancer", "outcome")
    defaults: dict = {}

    def build(self) -> ExpressionData:
        eset = load_expression_set("bladderbatch", "bladderEset", dataset="bladderdata")
        pheno = eset.phenotypes
        if pheno[["batch", "cancer", "outcome"]].isna().any().any():
            raise ValueError("bioc_bladderbatch: batch, cancer or outcome missing in the bladderbatch package")

        sample_ids = [name.removesuffix(".CEL") for name in eset.sample_names]
        samples = pd.DataFrame(
            {
                "sample_id": sample_ids,
                "study": [_batch_name(v) for v in pheno["batch"]],
                "donor": sample_ids,
                "cancer": list(pheno["cancer"]),
                "outcome": list(pheno["outcome"]),
            }
        )
        genes = pd.DataFrame({"gene_id": eset.feature_names, "symbol": eset.feature_names})
        provenance = {
            "source": self.name,
            "source_version": f"bladderbatch {eset.package_version}",
            "preprocessing": ["RMA log2 (as distributed)"],
            "platform": eset.annotation,
        }
        return ExpressionData(eset.expression, samples, genes, provenance)
