# exprbench: benchmarks of linear and non-linear classifiers on gene expression.
# Rules only orchestrate; the logic lives in the exprbench package (src/exprbench).
from snakemake.utils import min_version

min_version("9.0")


# The embedded default, only when no --configfile is given: Snakemake would
# otherwise merge a user's config into this one and run both sets of tasks.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# `make report` (snakemake --report) gathers every family's figures and tables.
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/fit.smk"
include: "rules/report.smk"
include: "rules/ssl.smk"
include: "rules/inference.smk"
include: "rules/compressed_sensing.smk"


from exprbench.output_folders import OutputFolderClash, claim_output_folders, config_name
from exprbench.run_summary import run_summary


CLASSIFICATION_TARGETS = [SUMMARY, *FIGURES] if CFG["tasks"] else []
# (family, its summary table, its targets), for the table printed at the end of a run.
FAMILY_SUMMARIES = [
    ("classification", SUMMARY, CLASSIFICATION_TARGETS),
    ("ssl", SSL_TABLES[0], SSL_TARGETS),
    ("inference", f"{INFERENCE_RESULTS}/summary.tsv", INFERENCE_TARGETS),
    ("compressed_sensing", CS_SUMMARY, COMPRESSED_SENSING_TARGETS),
]


rule all:
    default_target: True
    input:
        CLASSIFICATION_TARGETS,
        SSL_TARGETS,
        INFERENCE_TARGETS,
        COMPRESSED_SENSING_TARGETS,


# Runs only when jobs are about to start (not for dry runs or reports).
onstart:
    try:
        claim_output_folders({"results_dir": RESULTS_DIR, "figures_dir": FIGURES_DIR}, CONFIG_FILE)
    except OutputFolderClash as clash:
        print(f"\n{clash}", file=sys.stderr)
        raise SystemExit(1)


onsuccess:
    for line in dropped_samples_report(f"{RESULTS_DIR}/tasks/{task}.json" for task in CFG["tasks"]):
        print(line)
    for family, targets in [("classification", CLASSIFICATION_TARGETS), ("self-supervised", SSL_TARGETS),
                            ("gene inference", INFERENCE_TARGETS), ("compressed sensing", COMPRESSED_SENSING_TARGETS)]:
        if targets:
            print(f"\n{family} results:\n  " + "\n  ".join(targets))
    # The short version: the best model of every task, where the figures are, the report.
    print()
    print(run_summary(
        {family: summary for family, summary, targets in FAMILY_SUMMARIES if targets},
        {family: os.path.dirname(targets[-1]) for family, _, targets in FAMILY_SUMMARIES if targets},
        config_name(CONFIG_FILE),
    ))
    # Failed fits are recorded so the rest completes, but a task left with no
    # result at all is a failed run.
    failed_tasks = failed_tasks_report(SUMMARY) if os.path.exists(SUMMARY) else []  # absent after --until
    if failed_tasks:
        print("\n" + "\n".join(failed_tasks), file=sys.stderr)
        raise SystemExit(1)
