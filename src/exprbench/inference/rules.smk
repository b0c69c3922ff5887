# Landmark -> target gene expression inference (D-GEX, Deep-LSMTL and baselines).
# One job per (task, model, seed); see docs/inference.md.
from exprbench.inference import figures as inference_figures
from exprbench.inference import workflow as inference_workflow

INFERENCE_RESULTS = f"{RESULTS_DIR}/inference"
INFERENCE_RUN = f"{INFERENCE_RESULTS}/runs/{{task}}/{{model}}/seed{{seed}}"
INFERENCE_FIGURES = [
    f"{FIGURES_DIR}/inference/{stem}.{ext}" for stem in inference_figures.FIGURE_NAMES for ext in ("png", "svg")
]
INF = CFG.get("inference", {})
INFERENCE_JOBS = exprbench_config.family("inference").jobs(INF) if INF else []
INFERENCE_TARGETS = [f"{INFERENCE_RESULTS}/summary.tsv", *INFERENCE_FIGURES] if INF else []


rule inference_fit:
    input:
        unpack(lambda w: inference_workflow.job_inputs(INF, DATA_DIR, w.task)),
    output:
        metrics=f"{INFERENCE_RUN}/metrics.tsv",
        per_gene=f"{INFERENCE_RUN}/per_gene.npz",
        split=f"{INFERENCE_RUN}/split.tsv",
        attribution=f"{INFERENCE_RUN}/attribution.npz",
    log:
        "logs/inference/{task}/{model}/seed{seed}.log",
    benchmark:
        family_benchmark("inference", "{task}/{model}/seed{seed}")
    retries: FAMILY_RETRIES
    conda:
        CONDA_ENV
    threads: INF.get("threads", 1)
    resources:
        **heavy_resources(
            lambda w: inference_workflow.resource(INF, w.model, "mem_mb", 1),
            lambda w: inference_workflow.resource(INF, w.model, "runtime", 1),
            gpus_per_fit(CFG["gpus_per_fit"], INF.get("device", "auto"), LOCAL_GPUS),
        ),
    params:
        task=lambda w: inference_workflow.spec_json(INF["tasks"], w.task),
        model=lambda w: inference_workflow.spec_json(INF["models"], w.model),
        stores=lambda w: json.dumps(inference_workflow.stores(INF, DATA_DIR, w.task), sort_keys=True),
        settings=inference_workflow.settings_json(INF),
        device=INF.get("device", "auto"),
        out_dir=lambda w, output: os.path.dirname(output.metrics),
        job_keys=job_keys,
    shell:
        guarded(
            "exprbench inference-fit --task {params.task:q} --model {params.model:q} --seed {wildcards.seed} "
            "--stores {params.stores:q} --device {params.device} --threads {threads} "
            "--settings {params.settings:q} --out-dir {params.out_dir}",
            "inference",
        )


rule inference_summarize:
    input:
        inference_workflow.run_files(INFERENCE_RESULTS, INFERENCE_JOBS, "metrics.tsv"),
    output:
        in_report(f"{INFERENCE_RESULTS}/summary.tsv", "inference", "summary table"),
    log:
        "logs/inference/summarize.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "exprbench inference-summarize --metrics {input} --out {output} 2> {log}"


rule inference_figures:
    input:
        f"{INFERENCE_RESULTS}/summary.tsv",
    output:
        [in_report(path, "inference", f"tasks: {', '.join(INF.get('tasks', {}))}") for path in INFERENCE_FIGURES],
    log:
        "logs/inference/figures.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        out_dir=figures_folder,
    shell:
        "exprbench inference-figures --summary {input} --out-dir {params.out_dir} 2> {log}"


FAMILY_OUTPUTS["inference"] = {"summary": f"{INFERENCE_RESULTS}/summary.tsv", "targets": INFERENCE_TARGETS}
