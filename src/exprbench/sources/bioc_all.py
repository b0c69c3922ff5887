"""Acute lymphoblastic leukemia arrays from the Bioconductor data package ``ALL``.

128 patients (Chiaretti et al., Ritz laboratory) on Affymetrix HG-U95Av2, 12,625
probe sets, RMA-normalised log2 values as the package distributes them.

Labels:
  * ``sex``: "female" / "male" from pData ``sex`` (F / M); missing for 3 patients.
  * ``lineage``: "B" or "T", the first letter of pData ``BT``.
  * ``bt_subtype``: the raw ``BT`` value (B, B1..B4, T, T1..T4).

Each array comes from a different patient and the package records no processing
batches, so every sample is its own study and its own donor: study-wise splits
reduce to sample-wise splits.

No probe annotation package (hgu95av2.db) is installed alongside, so the gene
symbol is the probe id.
"""

from __future__ import annotations

import pandas as pd

from ..rdata import load_expression_set
from ..store import ExpressionData
from . import DataSource

_SEX_NAMES = {"F": "female", "M": "male"}


class BiocALL(DataSource):
    name = "bioc_all"
    label_columns = ("sex", "lineage", "bt_subtype")
    defaults: dict = {}

    def build(self) -> ExpressionData:
        eset = load_expression_set("ALL", "ALL")
        pheno = eset.phenotypes
        bt = pheno["BT"]
        unknown_sex = sorted(set(pheno["sex"].dropna()) - set(_SEX_NAMES))
        if unknown_sex:
            raise ValueError(f"bioc_all: unexpected sex codes {unknown_sex} in the ALL package")

        samples = pd.DataFrame(
            {
                "sample_id": eset.sample_names,
                "study": eset.sample_names,
                "donor": eset.sample_names,
                "sex": [None if pd.isna(v) else _SEX_NAMES[v] for v in pheno["sex"]],
                "lineage": [None if pd.isna(v) else v[0] for v in bt],
                "bt_subtype": list(bt),
            }
        )
        genes = pd.DataFrame({"gene_id": eset.feature_names, "symbol": eset.feature_names})
        provenance = {
            "source": self.name,
            "source_version": f"ALL {eset.package_version}",
            "preprocessing": ["RMA log2 (as distributed)"],
            "platform": eset.annotation,
        }
        return ExpressionData(eset.expression, samples, genes, provenance)
