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
        precision="--mixed-precision" if CFG["mixed_precision"] else "",
        limma_backend=CFG["signal_removal_backend"],
    threads: CFG["threads_per_job"]
    retries: CFG["fit_retries"]
    resources:
        mem_mb=fit_mem_mb,
        runtime=fit_runtime,
        gpu=GPUS_PER_FIT,
        fit_attempt=attempt_number,
        fit_attempts=FIT_ATTEMPTS,
        **CPUS_PER_GPU,
    log:
        "logs/fit/{task}/{model}/{signal_removal}/seed{seed}/fold{fold}.log",
    benchmark:
        f"{RESULTS_DIR}/benchmarks/fit/{{task}}/{{model}}/{{signal_removal}}/seed{{seed}}/fold{{fold}}.tsv"
    conda:
        "../envs/exprbench.yaml"
    # A fit that fails on its last attempt is recorded as a failed row, so the
    # rest of the benchmark still completes; earlier attempts fail and are retried.
    shell:
        "exprbench fit --task {params.task:q} --model {params.model:q} --manifest {input.manifest} "
        "--dataset {params.dataset} --signal-removal {wildcards.signal_removal} --seed {wildcards.seed} "
        "--fold {wildcards.fold} --device {params.device} --threads {threads} --tracker {params.tracker:q} "
        "{params.precision} --signal-removal-backend {params.limma_backend} --metrics {output.metrics} --predictions {output.predictions} 2> {log} "
        "|| exprbench record-failure --task {params.task:q} --model {wildcards.model} "
        "--dataset {params.dataset} --signal-removal {wildcards.signal_removal} --seed {wildcards.seed} "
        "--fold {wildcards.fold} --attempt {resources.fit_attempt} --attempts {resources.fit_attempts} "
        "--log {log} --metrics {output.metrics} --predictions {output.predictions}"
