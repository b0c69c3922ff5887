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
include: "rules/report_common.smk"
include: "rules/data.smk"


# Each family brings its rules in its own package (exprbench/<family>/rules.smk).
for configured_family in families():
    if configured_family.in_config(CFG):

        include: str(configured_family.rules_file)


import pandas as pd

from exprbench.output_folders import OutputFolderClash, claim_output_folders, config_name
from exprbench.results import failed_jobs_report
from exprbench.run_summary import run_summary

# Families with something to do, in display order: classification first.
RUN_FAMILIES = {name: outputs for name, outputs in FAMILY_OUTPUTS.items() if outputs["targets"]}


rule all:
    default_target: True
    input:
        [path for outputs in RUN_FAMILIES.values() for path in outputs["targets"]],


# Runs only when jobs are about to start (not for dry runs or reports).
onstart:
    try:
        claim_output_folders({"results_dir": RESULTS_DIR, "figures_dir": FIGURES_DIR}, CONFIG_FILE)
    except OutputFolderClash as clash:
        print(f"\n{clash}", file=sys.stderr)
        raise SystemExit(1)


onsuccess:
    for name, outputs in RUN_FAMILIES.items():
        print(f"\n{REPORT_CATEGORIES[name].lower()} results:\n  " + "\n  ".join(outputs["targets"]))
    # The short version: the best model of every task, where the figures are, the report.
    print()
    print(
        run_summary(
            {name: outputs["summary"] for name, outputs in RUN_FAMILIES.items()},
            {name: os.path.dirname(outputs["targets"][-1]) for name, outputs in RUN_FAMILIES.items()},
            config_name(CONFIG_FILE),
        )
    )
    # A family may add its own end-of-run lines and errors (a task with no result at
    # all fails the run); otherwise its failed jobs are listed.
    errors = []
    for name, outputs in RUN_FAMILIES.items():
        if "end_of_run" in outputs:
            lines, family_errors = outputs["end_of_run"]()
            for line in lines:
                print(line)
            errors += family_errors
        elif os.path.exists(outputs["summary"]):
            for line in failed_jobs_report(pd.read_csv(outputs["summary"], sep="\t"), family(name).title):
                print(line, file=sys.stderr)
    if errors:
        print("\n" + "\n".join(errors), file=sys.stderr)
        raise SystemExit(1)
