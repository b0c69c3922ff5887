# The generative family: generators judged by fidelity and by augmentation gain.
# One job per (experiment, generator, seed), plus generator "none" (real only and the
# real-vs-real baseline); see docs/generative.md.
from exprbench.generative import figures as generative_figures
from exprbench.generative.settings import jobs as generative_jobs

GEN = CFG.get("generative")
GEN_RESULTS = f"{RESULTS_DIR}/generative"
GEN_FIGURES = f"{FIGURES_DIR}/generative"
GEN_RUN = f"{GEN_RESULTS}/runs/{{experiment}}/{{generator}}/seed{{seed}}"
GEN_SUMMARY = f"{GEN_RESULTS}/summary.tsv"
GEN_PREDICTIONS = f"{GEN_RESULTS}/predictions.tsv"
GEN_PROJECTION = f"{GEN_RESULTS}/projection.tsv"
GEN_FIGURE_KINDS = generative_figures.KINDS

GENERATIVE_TARGETS = []
if GEN:
    GEN_JOBS = generative_jobs(GEN)
    GENERATIVE_TARGETS = [GEN_SUMMARY] + [
        f"{GEN_FIGURES}/{name}_{kind}.{ext}"
        for name in GEN["experiments"]
        for kind in GEN_FIGURE_KINDS
        for ext in ("png", "svg")
    ]

    rule generative_fit:
        input:
            data=lambda w: f"{DATA_DIR}/{GEN['experiments'][w.experiment]['dataset']}.h5",
        output:
            metrics=f"{GEN_RUN}/metrics.tsv",
            predictions=f"{GEN_RUN}/predictions.tsv",
            projection=f"{GEN_RUN}/projection.tsv",
        log:
            "logs/generative/{experiment}/{generator}/seed{seed}.log",
        benchmark:
            family_benchmark("generative", "{experiment}/{generator}/seed{seed}")
        wildcard_constraints:
            experiment="[^/]+",
            generator="[^/]+",
            seed=r"\d+",
        retries: FAMILY_RETRIES
        conda:
            CONDA_ENV
        threads: GEN["threads"]
        resources:
            **heavy_resources(
                GEN["resources"]["mem_mb"],
                GEN["resources"]["runtime"],
                gpus_per_fit(CFG["gpus_per_fit"], GEN["device"], LOCAL_GPUS),
            ),
        params:
            experiment=lambda w: json.dumps(GEN["experiments"][w.experiment], sort_keys=True),
            device=GEN["device"],
            job_keys=job_keys,
        shell:
            guarded(
                "exprbench gen-fit --experiment {params.experiment:q} --generator {wildcards.generator} "
                "--seed {wildcards.seed} --dataset-file {input.data} --device {params.device} --threads {threads} "
                "--metrics {output.metrics} --predictions {output.predictions} --projection {output.projection}",
                "generative",
            )

    rule generative_summarize:
        input:
            metrics=[f"{GEN_RUN}/metrics.tsv".format(**j) for j in GEN_JOBS],
            predictions=[f"{GEN_RUN}/predictions.tsv".format(**j) for j in GEN_JOBS],
            projection=[f"{GEN_RUN}/projection.tsv".format(**j) for j in GEN_JOBS],
        output:
            summary=in_report(GEN_SUMMARY, "generative", "summary table"),
            predictions=GEN_PREDICTIONS,
            projection=GEN_PROJECTION,
        log:
            "logs/generative/summarize.log",
        localrule: True
        conda:
            CONDA_ENV
        shell:
            "exprbench gen-summarize --out {output.summary} --metrics {input.metrics} "
            "--predictions {input.predictions} --projection {input.projection} "
            "--predictions-out {output.predictions} --projection-out {output.projection} 2> {log}"

    rule generative_figures:
        input:
            summary=GEN_SUMMARY,
            predictions=GEN_PREDICTIONS,
            projection=GEN_PROJECTION,
        output:
            [
                in_report(f"{GEN_FIGURES}/{{experiment}}_{kind}.{ext}", "generative", "experiment: {experiment}", kind)
                for kind in GEN_FIGURE_KINDS
                for ext in ("png", "svg")
            ],
        log:
            "logs/generative/figures_{experiment}.log",
        wildcard_constraints:
            experiment="[^/]+",
        localrule: True
        conda:
            CONDA_ENV
        params:
            out_dir=lambda w, output: os.path.dirname(output[0]),
        shell:
            "exprbench gen-figures --summary {input.summary} --predictions {input.predictions} "
            "--projection {input.projection} --experiment {wildcards.experiment} --out-dir {params.out_dir} 2> {log}"


FAMILY_OUTPUTS["generative"] = {"summary": GEN_SUMMARY, "targets": GENERATIVE_TARGETS}
