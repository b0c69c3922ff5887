# The compressed_sensing family: recovery of expression from random composite
# measurements. One job per (experiment, method, seed); see docs/compressed_sensing.md.
from exprbench.compressed_sensing import figures as compressed_sensing_figures
from exprbench.compressed_sensing.settings import jobs as compressed_sensing_jobs

CS = CFG.get("compressed_sensing")
CS_RESULTS = f"{RESULTS_DIR}/compressed_sensing"
CS_FIGURES = f"{FIGURES_DIR}/compressed_sensing"
CS_RUN = f"{CS_RESULTS}/runs/{{experiment}}/{{method}}/seed{{seed}}"
CS_SUMMARY = f"{CS_RESULTS}/summary.tsv"
CS_FIGURE_KINDS = compressed_sensing_figures.FIGURE_NAMES

COMPRESSED_SENSING_TARGETS = []
if CS:
    CS_JOBS = compressed_sensing_jobs(CS)
    COMPRESSED_SENSING_TARGETS = [CS_SUMMARY] + [
        f"{CS_FIGURES}/{name}_{kind}.{ext}"
        for name in CS["experiments"]
        for kind in CS_FIGURE_KINDS
        for ext in ("png", "svg")
    ]

    rule compressed_sensing_fit:
        input:
            data=lambda w: f"{DATA_DIR}/{CS['experiments'][w.experiment]['dataset']}.h5",
        output:
            metrics=f"{CS_RUN}/metrics.tsv",
            record=f"{CS_RUN}/fit.json",
        log:
            "logs/compressed_sensing/{experiment}/{method}/seed{seed}.log",
        benchmark:
            family_benchmark("compressed_sensing", "{experiment}/{method}/seed{seed}")
        wildcard_constraints:
            experiment="[^/]+",
            method="[^/]+",
            seed=r"\d+",
        retries: FAMILY_RETRIES
        conda:
            CONDA_ENV
        threads: CS["threads"]
        resources:
            **heavy_resources(
                CS["resources"]["mem_mb"],
                CS["resources"]["runtime"],
                gpus_per_fit(CFG["gpus_per_fit"], CS["device"], LOCAL_GPUS),
            ),
        params:
            experiment=lambda w: json.dumps(CS["experiments"][w.experiment], sort_keys=True),
            device=CS["device"],
            job_keys=job_keys,
        shell:
            guarded(
                "exprbench cs-fit --experiment {params.experiment:q} --method {wildcards.method} "
                "--seed {wildcards.seed} --dataset-file {input.data} --device {params.device} --threads {threads} "
                "--metrics {output.metrics} --record {output.record}",
                "compressed_sensing",
            )

    rule compressed_sensing_summarize:
        input:
            [f"{CS_RUN}/metrics.tsv".format(**j) for j in CS_JOBS],
        output:
            in_report(CS_SUMMARY, "compressed_sensing", "summary table"),
        log:
            "logs/compressed_sensing/summarize.log",
        localrule: True
        conda:
            CONDA_ENV
        shell:
            "exprbench cs-summarize --out {output} {input} 2> {log}"

    rule compressed_sensing_figures:
        input:
            CS_SUMMARY,
        output:
            [
                in_report(
                    f"{CS_FIGURES}/{{experiment}}_{kind}.{ext}", "compressed_sensing", "experiment: {experiment}", kind
                )
                for kind in CS_FIGURE_KINDS
                for ext in ("png", "svg")
            ],
        log:
            "logs/compressed_sensing/figures_{experiment}.log",
        wildcard_constraints:
            experiment="[^/]+",
        localrule: True
        conda:
            CONDA_ENV
        params:
            out_dir=lambda w, output: os.path.dirname(output[0]),
        shell:
            "exprbench cs-figures --summary {input} --experiment {wildcards.experiment} "
            "--out-dir {params.out_dir} 2> {log}"


FAMILY_OUTPUTS["compressed_sensing"] = {"summary": CS_SUMMARY, "targets": COMPRESSED_SENSING_TARGETS}
