# Summary table and figures of the classification tasks. Every family marks its
# figures and tables for the HTML report with in_report (report_common.smk).

include: "report_common.smk"


rule summarize:
    localrule: True
    input:
        all_metric_files(),
    output:
        in_report(SUMMARY, "classification", "summary table"),
    log:
        "logs/summarize.log",
    conda:
        "../envs/exprbench.yaml"
    shell:
        "exprbench summarize --out {output} {input} 2> {log}"


rule figures:
    localrule: True
    input:
        SUMMARY,
    output:
        [in_report(path, "classification", classification_figure_group(path)) for path in FIGURES],
    params:
        out_dir=figures_folder,
    log:
        "logs/figures.log",
    conda:
        "../envs/exprbench.yaml"
    shell:
        "exprbench figures --summary {input} --out-dir {params.out_dir} 2> {log}"


FAMILY_OUTPUTS["classification"] = {"summary": SUMMARY, "targets": [SUMMARY, *FIGURES] if CFG["tasks"] else []}
