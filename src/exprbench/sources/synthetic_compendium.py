"""A simulated bulk RNA-seq compendium: many unlabeled samples, few labeled ones.

It stands in for ARCHS4 or TCGA where the real files are not available, with the
structure that makes self-supervised pretraining plausible and non-trivial:

1. **Genes.** Each gene has a baseline log-abundance (normal, so abundances span a
   few orders of magnitude), a length (log-normal, for TPM) and a negative-binomial
   dispersion (log-normal around ``dispersion``).
2. **Gene programs.** ``n_programs`` latent programs, each a sparse vector of
   log-fold changes over about ``program_size`` genes. A sample's log-abundance is
   the baseline plus the sum of program loadings weighted by its program activities.
3. **Classes (tissues).** Each tissue has an activity profile over the programs:
   a few programs it switches on (activity ``tissue_strength``) on top of small
   shared activities. A sample's activities are its tissue's profile plus
   sample-level noise (``within_sd``), so classes overlap. Tissue frequencies are
   drawn from a Dirichlet, so classes are imbalanced.
4. **Studies.** Samples come from ``n_studies`` studies; each study covers one to
   three tissues and adds its own gene-wise log-fold shift (``batch_sd``) and its
   own sequencing depth: a study-level batch effect that is not the label.
5. **Counts.** Library sizes are log-normal around the study's depth. Counts are
   negative binomial (gamma-Poisson) with mean library size x proportion.
6. **Values.** Counts are divided by gene length, scaled to 1e6 per sample (TPM)
   and stored as ``log2(TPM + 1)``, the scale of the real compendia.

Labels: ``tissue`` is known only for a random ``labeled_fraction`` of samples and
missing for the others (the unlabeled pool); ``true_tissue`` holds every sample's
simulated tissue, for checks. Study = simulated study; donor = sample.
Everything derives from ``seed``: the same params give the same file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..store import ExpressionData
from . import DataSource


class SyntheticCompendium(DataSource):
    name = "synthetic_compendium"
    label_columns = ("tissue", "true_tissue")
    defaults = {
        "n_samples": 3000,
        "n_genes": 800,
        "n_tissues": 8,
        "n_programs": 24,
        "program_size": 40,
        "n_studies": 60,
        "labeled_fraction": 0.15,
        "tissue_strength": 1.0,
        "within_sd": 0.6,
        "batch_sd": 0.3,
        "library_size": 2.0e6,
        "library_sd": 0.5,
        "dispersion": 0.1,
        "seed": 0,
    }

    def build(self) -> ExpressionData:
        p = self.params
        n, g = int(p["n_samples"]), int(p["n_genes"])
        n_tissues, n_programs, n_studies = int(p["n_tissues"]), int(p["n_programs"]), int(p["n_studies"])
        if n < 2 * n_tissues or g < 10 or n_tissues < 2 or n_programs < 1 or n_studies < 1:
            raise ValueError("synthetic_compendium: need n_tissues >= 2, n_samples >= 2 x n_tissues, "
                             "n_genes >= 10, n_programs >= 1 and n_studies >= 1")
        if not 0 < float(p["labeled_fraction"]) <= 1:
            raise ValueError(f"synthetic_compendium: labeled_fraction must be in (0, 1], got {p['labeled_fraction']}")
        rng = np.random.default_rng(int(p["seed"]))

        baseline = rng.normal(0.0, 1.5, g)
        length = rng.lognormal(np.log(2000.0), 0.5, g)
        dispersion = float(p["dispersion"]) * rng.lognormal(0.0, 0.5, g)
        loadings = _program_loadings(rng, n_programs, g, int(p["program_size"]))
        profiles = _tissue_profiles(rng, n_tissues, n_programs, float(p["tissue_strength"]))

        tissue_share = rng.dirichlet(np.full(n_tissues, 5.0))
        study_tissues, study_share = _studies(rng, n_studies, n_tissues)
        tissue = rng.choice(n_tissues, size=n, p=tissue_share)
        study = _assign_studies(rng, tissue, study_tissues, study_share)

        activity = profiles[tissue] + rng.normal(0.0, float(p["within_sd"]), (n, n_programs))
        batch_shift = rng.normal(0.0, float(p["batch_sd"]), (n_studies, g))
        log_abundance = baseline + activity @ loadings + batch_shift[study]
        proportion = np.exp(log_abundance - log_abundance.max(axis=1, keepdims=True))
        proportion /= proportion.sum(axis=1, keepdims=True)

        study_depth = float(p["library_size"]) * rng.lognormal(0.0, float(p["library_sd"]), n_studies)
        library = study_depth[study] * rng.lognormal(0.0, float(p["library_sd"]) / 2, n)
        counts = _negative_binomial(rng, library[:, None] * proportion, dispersion)
        per_length = counts / length
        tpm = per_length / np.maximum(per_length.sum(axis=1, keepdims=True), 1e-12) * 1e6
        expression = np.log2(tpm + 1.0).astype(np.float32)

        labeled = np.zeros(n, dtype=bool)
        labeled[rng.permutation(n)[: max(n_tissues, int(round(float(p["labeled_fraction"]) * n)))]] = True
        names = np.array([f"tissue{t:02d}" for t in range(n_tissues)], dtype=object)
        ids = [f"syn{i:06d}" for i in range(n)]
        samples = pd.DataFrame({
            "sample_id": ids,
            "study": [f"study{s:03d}" for s in study],
            "donor": ids,
            "tissue": np.where(labeled, names[tissue], None),
            "true_tissue": names[tissue],
        })
        gene_ids = [f"gene{j:05d}" for j in range(g)]
        genes = pd.DataFrame({"gene_id": gene_ids, "symbol": gene_ids})
        provenance = {
            "source": self.name,
            "source_version": "1",
            "preprocessing": ["negative binomial counts", "TPM with simulated gene lengths", "log2(TPM + 1)"],
            "params": dict(p),
            "n_labeled": int(labeled.sum()),
        }
        return ExpressionData(expression, samples, genes, provenance)


def _program_loadings(rng, n_programs: int, n_genes: int, size: int) -> np.ndarray:
    """Sparse log-fold changes: each program moves ``size`` random genes up or down."""
    size = min(max(size, 1), n_genes)
    loadings = np.zeros((n_programs, n_genes))
    for k in range(n_programs):
        genes = rng.choice(n_genes, size=size, replace=False)
        loadings[k, genes] = rng.normal(0.0, 1.0, size)
    return loadings


def _tissue_profiles(rng, n_tissues: int, n_programs: int, strength: float) -> np.ndarray:
    """Program activities per tissue: two or three programs on, small shared activity elsewhere."""
    profiles = rng.normal(0.0, 0.2, (n_tissues, n_programs))
    for t in range(n_tissues):
        on = rng.choice(n_programs, size=min(n_programs, int(rng.integers(2, 4))), replace=False)
        profiles[t, on] += strength * rng.choice([-1.0, 1.0], size=on.size)
    return profiles


def _studies(rng, n_studies: int, n_tissues: int):
    """The tissues each study covers (one to three; every tissue in at least one
    study) and each study's relative size."""
    covered = [set(rng.choice(n_tissues, size=int(rng.integers(1, min(3, n_tissues) + 1)), replace=False).tolist())
               for _ in range(n_studies)]
    for t in range(n_tissues):
        if not any(t in c for c in covered):
            covered[int(rng.integers(n_studies))].add(t)
    share = rng.lognormal(0.0, 0.7, n_studies)
    return covered, share


def _assign_studies(rng, tissue: np.ndarray, study_tissues, study_share) -> np.ndarray:
    """Each sample goes to one of the studies covering its tissue, in proportion to study size."""
    study = np.empty(tissue.size, dtype=np.int64)
    for t in np.unique(tissue):
        candidates = np.array([s for s, tissues in enumerate(study_tissues) if t in tissues])
        weights = study_share[candidates] / study_share[candidates].sum()
        rows = np.flatnonzero(tissue == t)
        study[rows] = rng.choice(candidates, size=rows.size, p=weights)
    return study


def _negative_binomial(rng, mean: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Gamma-Poisson counts with variance mean + dispersion x mean^2 (dispersion per gene)."""
    shape = 1.0 / dispersion
    rate = rng.gamma(shape, mean * dispersion)
    return rng.poisson(rate).astype(np.float64)
