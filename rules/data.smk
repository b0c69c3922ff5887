rule prepare_dataset:
    output:
        f"{DATA_DIR}/{{dataset}}.h5",
    params:
        spec=dataset_spec,
    resources:
        mem_mb=scaled("prepare", "mem_mb"),
        runtime=scaled("prepare", "runtime"),
    log:
        "logs/prepare/{dataset}.log",
    conda:
        "../envs/exprbench.yaml"
    shell:
        "exprbench prepare --spec {params.spec:q} --out {output} 2> {log}"


rule task_manifest:
    input:
        task_dataset_file,
    output:
        f"{RESULTS_DIR}/tasks/{{task}}.json",
    params:
        task=task_spec,
        config_file=CONFIG_FILE,
    resources:
        mem_mb=scaled("manifest", "mem_mb"),
        runtime=scaled("manifest", "runtime"),
    log:
        "logs/manifest/{task}.log",
    conda:
        "../envs/exprbench.yaml"
    shell:
        "exprbench manifest --task {params.task:q} --dataset-file {input} "
        "--config-file {params.config_file:q} --out {output} 2> {log}"
