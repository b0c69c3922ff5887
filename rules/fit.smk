rule fit:
    input:
        data=task_dataset_file,
        manifest=f"{RESULTS_DIR}/tasks/{{task}}.json",
    output:
        metrics=METRICS,
        predictions=PREDICTIONS,
    params:
        task=task_spec,
        model=model_spec,
        dataset=task_dataset,
        device=CFG["device"],
        tracker=json.dumps(CFG["tracker"], sort_keys=True),
    threads: CFG["threads_per_job"]
    log:
        "logs/fit/{task}/{model}/{signal_removal}/seed{seed}/fold{fold}.log",
    benchmark:
        f"{RESULTS_DIR}/benchmarks/fit/{{task}}/{{model}}/{{signal_removal}}/seed{{seed}}/fold{{fold}}.tsv"
    conda:
        "../envs/exprbench.yaml"
    shell:
        "exprbench fit --task {params.task:q} --model {params.model:q} --manifest {input.manifest} "
        "--dataset {params.dataset} --signal-removal {wildcards.signal_removal} --seed {wildcards.seed} "
        "--fold {wildcards.fold} --device {params.device} --threads {threads} --tracker {params.tracker:q} "
        "--metrics {output.metrics} --predictions {output.predictions} 2> {log}"
