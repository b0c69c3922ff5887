rule download_dataset:
    output:
        f"{DOWNLOAD_DIR}/{{dataset}}/downloaded.json",
    log:
        "logs/download/{dataset}.log",
    conda:
        "../envs/exprbench.yaml"
    resources:
        mem_mb=1000,
        runtime=scaled("prepare", "runtime"),
    params:
        spec=dataset_spec,
        options=download_options,
        urls=dataset_urls,
        labels=dataset_labels,
    message:
        "Download and verify dataset {wildcards.dataset}: {params.urls}"
    shell:
        "exprbench download --spec {params.spec:q} {params.options} --require-labels {params.labels} "
        "--out {output} 2> {log}"


rule prepare_dataset:
    input:
        downloads=dataset_downloads,
        required=dataset_required_inputs,
    output:
        f"{DATA_DIR}/{{dataset}}.h5",
    log:
        "logs/prepare/{dataset}.log",
    conda:
        "../envs/exprbench.yaml"
    resources:
        mem_mb=scaled("prepare", "mem_mb"),
        runtime=scaled("prepare", "runtime"),
    params:
        spec=dataset_spec,
        downloads=downloads_option,
        labels=dataset_labels,
    shell:
        "exprbench prepare --spec {params.spec:q} {params.downloads} --require-labels {params.labels} "
        "--out {output} 2> {log}"


# Per-gene min, max, mean and variance over every sample of a store (streamed by
# row blocks), once per dataset: preprocessing.fit_on: all scales with these, as the
# paper scaled over the whole compendium.
rule compendium_stats:
    input:
        f"{DATA_DIR}/{{dataset}}.h5",
    output:
        COMPENDIUM_STATS,
    log:
        "logs/compendium_stats/{dataset}.log",
    conda:
        "../envs/exprbench.yaml"
    resources:
        mem_mb=scaled("manifest", "mem_mb"),
        runtime=scaled("prepare", "runtime"),
    shell:
        "exprbench compendium-stats --dataset-file {input} --out {output} 2> {log}"
