"""Compressed sensing of transcriptomes (Cleary et al. 2017 and a 2019 re-study).

Orientation: every array at a function boundary is samples x genes, as in the
store and in scikit-learn (X: n_samples x n_genes). Dictionaries are genes x
modules (``dictionary_``, the reference's U), codes are samples x modules, so
X ~ codes @ dictionary_.T. A measurement matrix A is measurements x genes and
observations are Y = (X + N) @ A.T (samples x measurements).
"""

from ..family import Family

FAMILY = Family(name="compressed_sensing", title="compressed sensing", order=40)
