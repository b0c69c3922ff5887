# The classification family: linear vs non-linear classifiers on labelled tasks
# (tasks: and defaults: at the config's top level); see docs/classification.md.
# A task manifest per task, fit jobs at the config's fit_grain, one summary table
# and the learning-curve figures.


include: "rules_common.smk"


rule task_manifest:
    input:
        data=task_dataset_file,
        stats=task_compendium_stats,
    output:
        f"{RESULTS_DIR}/tasks/{{task}}.json",
    log:
        "logs/manifest/{task}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=scaled("manifest", "mem_mb"),
        runtime=scaled("manifest", "runtime"),
    params:
        task=task_spec,
        config_file=CONFIG_FILE,
        stats=compendium_stats_option,
    shell:
        "exprbench manifest --task {params.task:q} --dataset-file {input.data} {params.stats} "
        "--config-file {params.config_file:q} --out {output} 2> {log}"


# fit_grain (config) picks the job grain: fold = this rule, one fit per job; model or
# seed = the fit_group rules below, several fits per job writing the same files.
if FIT_GRAIN == "fold":

    rule fit:
        input:
            data=task_dataset_file,
            manifest=f"{RESULTS_DIR}/tasks/{{task}}.json",
        output:
            metrics=METRICS,
            predictions=PREDICTIONS,
        log:
            "logs/fit/{task}/{model}/{signal_removal}/seed{seed}/fold{fold}.log",
        benchmark:
            f"{RESULTS_DIR}/benchmarks/fit/{{task}}/{{model}}/{{signal_removal}}/seed{{seed}}/fold{{fold}}.tsv"
        retries: CFG["fit_retries"]
        conda:
            CONDA_ENV
        threads: CFG["threads_per_job"]
        resources:
            **CPUS_PER_GPU,
            mem_mb=fit_mem_mb,
            runtime=fit_runtime,
            gpu=GPUS_PER_FIT,
            fit_attempt=attempt_number,
            fit_attempts=FIT_ATTEMPTS,
        params:
            task=task_spec,
            model=model_spec,
            dataset=task_dataset,
            device=CFG["device"],
            tracker=json.dumps(CFG["tracker"], sort_keys=True),
            precision=training_options(),
            limma_backend=signal_removal_backend,
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

else:
    # One rule per set of cells (seeds x folds) a job covers; tasks with their own seeds
    # or folds get their own rule (fit_group_2, ...). A failing fit fails the group before
    # its last attempt (retried with more memory and time); on the last attempt it is
    # recorded as a failed row and the other fits of the group go on (fit_group.py).
    for layout_index, (layout_cells, layout_tasks) in enumerate(classification_settings.fit_group_layouts(CFG)):

        rule:
            name:
                "fit_group" if layout_index == 0 else f"fit_group_{layout_index + 1}"
            input:
                data=task_dataset_file,
                manifest=f"{RESULTS_DIR}/tasks/{{task}}.json",
            output:
                metrics=fit_cell_files(METRICS, layout_cells),
                predictions=fit_cell_files(PREDICTIONS, layout_cells),
            log:
                f"logs/fit/{FIT_GROUP_WILDCARDS[FIT_GRAIN]}.log",
            benchmark:
                f"{RESULTS_DIR}/benchmarks/fit/{FIT_GROUP_WILDCARDS[FIT_GRAIN]}.tsv"
            wildcard_constraints:
                task="|".join(re.escape(task) for task in layout_tasks),
            retries: CFG["fit_retries"]
            conda:
                CONDA_ENV
            threads: CFG["threads_per_job"]
            resources:
                **CPUS_PER_GPU,
                # Every fit of a group holds the same data: memory of one, runtime of all.
                mem_mb=fit_mem_mb,
                runtime=fit_group_runtime(len(layout_cells)),
                gpu=GPUS_PER_FIT,
                fit_attempt=attempt_number,
                fit_attempts=FIT_ATTEMPTS,
            params:
                task=task_spec,
                model=model_spec,
                dataset=task_dataset,
                cells=fit_cells_option(layout_cells),
                device=CFG["device"],
                tracker=json.dumps(CFG["tracker"], sort_keys=True),
                precision=training_options(),
                limma_backend=signal_removal_backend,
            # A process killed on its last attempt (out of memory, time limit) keeps the
            # fits it finished; record-failure records the others as failed.
            shell:
                "exprbench fit-many --task {params.task:q} --model {params.model:q} --manifest {input.manifest} "
                "--dataset {params.dataset} --signal-removal {wildcards.signal_removal} --cells {params.cells} "
                "--device {params.device} --threads {threads} --tracker {params.tracker:q} {params.precision} "
                "--signal-removal-backend {params.limma_backend} --attempt {resources.fit_attempt} "
                "--attempts {resources.fit_attempts} --metrics {output.metrics} "
                "--predictions {output.predictions} 2> {log} "
                "|| exprbench record-failure --task {params.task:q} --model {wildcards.model} "
                "--dataset {params.dataset} --signal-removal {wildcards.signal_removal} --cells {params.cells} "
                "--attempt {resources.fit_attempt} --attempts {resources.fit_attempts} --log {log} "
                "--metrics {output.metrics} --predictions {output.predictions}"


rule summarize:
    input:
        all_metric_files(),
    output:
        in_report(SUMMARY, "classification", "summary table"),
    log:
        "logs/summarize.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "exprbench summarize --out {output} {input} 2> {log}"


rule figures:
    input:
        SUMMARY,
    output:
        [in_report(path, "classification", classification_figure_group(path)) for path in FIGURES],
    log:
        "logs/figures.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        out_dir=figures_folder,
    shell:
        "exprbench figures --summary {input} --out-dir {params.out_dir} 2> {log}"


FAMILY_OUTPUTS["classification"] = {
    "summary": SUMMARY,
    "targets": [SUMMARY, *FIGURES] if CFG["tasks"] else [],
    "end_of_run": classification_end_of_run,
}
