# The biclustering family: SpaCoBi against convex, spectral and k-means biclustering
# on planted checkerboards and stored datasets. One job per (experiment, method,
# seed); see docs/biclustering.md.


include: "rules_common.smk"


rule biclustering_fit:
    input:
        data=bic_dataset,
    output:
        metrics=f"{BIC_RUN}/metrics.tsv",
        record=f"{BIC_RUN}/fit.json",
        heatmap=f"{BIC_RUN}/heatmap.npz",
    log:
        "logs/biclustering/{experiment}/{method}/seed{seed}.log",
    benchmark:
        family_benchmark("biclustering", "{experiment}/{method}/seed{seed}")
    wildcard_constraints:
        experiment="[^/]+",
        method="[^/]+",
        seed=r"\d+",
    retries: FAMILY_RETRIES
    conda:
        CONDA_ENV
    threads: BIC["threads"]
    resources:
        **heavy_resources(
            BIC["resources"]["mem_mb"],
            BIC["resources"]["runtime"],
            gpus_per_fit(CFG["gpus_per_fit"], BIC["device"], LOCAL_GPUS),
        ),
    params:
        experiment=lambda w: json.dumps(BIC["experiments"][w.experiment], sort_keys=True),
        dataset=bic_dataset_option,
        device=BIC["device"],
        job_keys=job_keys,
    shell:
        guarded(
            "exprbench bicluster-fit --experiment {params.experiment:q} --method {wildcards.method} "
            "--seed {wildcards.seed} {params.dataset} --device {params.device} --threads {threads} "
            "--metrics {output.metrics} --record {output.record} --heatmap {output.heatmap}",
            "biclustering",
        )


rule biclustering_summarize:
    input:
        [f"{BIC_RUN}/metrics.tsv".format(**j) for j in BIC_JOBS],
    output:
        in_report(BIC_SUMMARY, "biclustering", "summary table"),
    log:
        "logs/biclustering/summarize.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "exprbench bicluster-summarize --out {output} {input} 2> {log}"


rule biclustering_planted_figures:
    input:
        summary=BIC_SUMMARY,
        heatmaps=bic_heatmaps,
    output:
        [
            in_report(f"{BIC_FIGURES}/{{experiment}}_{kind}.{ext}", "biclustering", "experiment: {experiment}", kind)
            for kind in PLANTED_KINDS
            for ext in ("png", "svg")
        ],
    log:
        "logs/biclustering/figures_{experiment}.log",
    wildcard_constraints:
        experiment=bic_names(BIC_PLANTED),
    localrule: True
    conda:
        CONDA_ENV
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
        kinds=" ".join(PLANTED_KINDS),
    shell:
        "exprbench bicluster-figures --summary {input.summary} --experiment {wildcards.experiment} "
        "--kinds {params.kinds} --out-dir {params.out_dir} --heatmaps {input.heatmaps} 2> {log}"


rule biclustering_store_figures:
    input:
        summary=BIC_SUMMARY,
        heatmaps=bic_heatmaps,
    output:
        [
            in_report(f"{BIC_FIGURES}/{{experiment}}_{kind}.{ext}", "biclustering", "experiment: {experiment}", kind)
            for kind in STORE_KINDS
            for ext in ("png", "svg")
        ],
    log:
        "logs/biclustering/figures_{experiment}.log",
    wildcard_constraints:
        experiment=bic_names(BIC_STORE),
    localrule: True
    conda:
        CONDA_ENV
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
        kinds=" ".join(STORE_KINDS),
    shell:
        "exprbench bicluster-figures --summary {input.summary} --experiment {wildcards.experiment} "
        "--kinds {params.kinds} --out-dir {params.out_dir} --heatmaps {input.heatmaps} 2> {log}"


FAMILY_OUTPUTS["biclustering"] = {"summary": BIC_SUMMARY, "targets": BIC_TARGETS}
