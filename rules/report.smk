rule summarize:
    localrule: True
    input:
        all_metric_files(),
    output:
        SUMMARY,
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
        FIGURES,
    params:
        out_dir=figures_folder,
    log:
        "logs/figures.log",
    conda:
        "../envs/exprbench.yaml"
    shell:
        "exprbench figures --summary {input} --out-dir {params.out_dir} 2> {log}"
