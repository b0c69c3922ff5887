# Paths, job lists and input functions of the biclustering rules (rules.smk).
import re

from exprbench.biclustering.figures import PLANTED_KINDS, STORE_KINDS
from exprbench.biclustering.settings import jobs as biclustering_jobs

BIC = CFG["biclustering"]
BIC_RESULTS = f"{RESULTS_DIR}/biclustering"
BIC_FIGURES = f"{FIGURES_DIR}/biclustering"
BIC_RUN = f"{BIC_RESULTS}/runs/{{experiment}}/{{method}}/seed{{seed}}"
BIC_SUMMARY = f"{BIC_RESULTS}/summary.tsv"
BIC_JOBS = biclustering_jobs(BIC)
BIC_PLANTED = [name for name, e in BIC["experiments"].items() if e["planted"] is not None]
BIC_STORE = [name for name, e in BIC["experiments"].items() if e["planted"] is None]


def bic_names(names):
    # Experiment names for a wildcard constraint; a pattern that matches nothing when empty.
    return "|".join(map(re.escape, names)) or "(?!)"


def bic_dataset(wildcards):
    dataset = BIC["experiments"][wildcards.experiment]["dataset"]
    return [f"{DATA_DIR}/{dataset}.h5"] if dataset else []


def bic_dataset_option(wildcards, input):
    return f"--dataset-file {input.data[0]}" if input.data else ""


def bic_heatmaps(wildcards):
    return [f"{BIC_RUN}/heatmap.npz".format(**job) for job in BIC_JOBS if job["experiment"] == wildcards.experiment]


BIC_TARGETS = [BIC_SUMMARY] + [
    f"{BIC_FIGURES}/{name}_{kind}.{ext}"
    for names, kinds in ((BIC_PLANTED, PLANTED_KINDS), (BIC_STORE, STORE_KINDS))
    for name in names
    for kind in kinds
    for ext in ("png", "svg")
]
