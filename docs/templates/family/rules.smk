# The toy family's rules: one heavy job per value, then a summary table.
# Included by the Snakefile when the config has a `toy:` section.
TOY = CFG["toy"]
TOY_RUN = f"{RESULTS_DIR}/toy/runs/{{value}}.tsv"
TOY_SUMMARY = f"{RESULTS_DIR}/toy/summary.tsv"


# A heavy rule: retried with more memory and time, benchmarked, logged, and on its
# last failed attempt replaced by a failure row (guarded) so the run completes.
rule toy_fit:
    output:
        TOY_RUN,
    log:
        "logs/toy/{value}.log",
    benchmark:
        family_benchmark("toy", "{value}")
    retries: FAMILY_RETRIES
    conda:
        CONDA_ENV
    resources:
        **heavy_resources(100, 1),
    params:
        job_keys=job_keys,
    shell:
        guarded("exprbench toy-fit --value {wildcards.value} --out {output}", "toy")


rule toy_summarize:
    input:
        [TOY_RUN.format(**job) for job in exprbench_config.family("toy").jobs(TOY)],
    output:
        TOY_SUMMARY,
    log:
        "logs/toy/summarize.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "exprbench toy-summarize --out {output} {input} 2> {log}"


# What `rule all` builds and the end of a run reports.
FAMILY_OUTPUTS["toy"] = {"summary": TOY_SUMMARY, "targets": [TOY_SUMMARY]}
