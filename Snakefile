# exprbench: benchmarks of linear and non-linear classifiers on gene expression.
# Rules only orchestrate; the logic lives in the exprbench package (src/exprbench).
from snakemake.utils import min_version

min_version("9.0")


# The embedded default, only when no --configfile is given: Snakemake would
# otherwise merge a user's config into this one and run both sets of tasks.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/fit.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        SUMMARY,
        FIGURES,


onsuccess:
    for line in dropped_samples_report(f"{RESULTS_DIR}/tasks/{task}.json" for task in CFG["tasks"]):
        print(line)
    print(f"\nResults table: {SUMMARY}\nFigures: {FIGURES_DIR}/ ({', '.join(FIGURES)})")
