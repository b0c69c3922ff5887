# Self-supervised pretraining (SCARF, VIME, BYOL) and fine-tuning; see docs/ssl.md.
# One pretraining job per (experiment, method, architecture, pretraining size, seed);
# one fine-tuning job per pretrained encoder and mode, plus the baseline per architecture.


include: "rules_common.smk"


rule ssl_pretrain:
    input:
        unpack(ssl_stores),
    output:
        encoder=f"{SSL_PRETRAIN_DIR}/encoder.pt",
        history=f"{SSL_PRETRAIN_DIR}/history.tsv",
        spectrum=f"{SSL_PRETRAIN_DIR}/spectrum.tsv",
    log:
        "logs/ssl/pretrain/{experiment}/{method}/{architecture}/{pretrain}/seed{seed}.log",
    benchmark:
        family_benchmark("ssl", "pretrain/{experiment}/{method}/{architecture}/{pretrain}/seed{seed}")
    wildcard_constraints:
        experiment="[^/]+",
        method="[^/]+",
        architecture=r"d\d+w\d+",
        pretrain=r"q[0-9.e+-]+",
        seed=r"\d+",
    retries: FAMILY_RETRIES
    conda:
        CONDA_ENV
    threads: CFG["threads_per_job"]
    resources:
        **heavy_resources(SSL_RESOURCES["pretrain"]["mem_mb"], SSL_RESOURCES["pretrain"]["runtime"], SSL_GPUS),
    params:
        experiment=ssl_experiment,
        device=SSL.get("device", "auto"),
        job_keys=job_keys,
    shell:
        guarded(
            "exprbench ssl-pretrain --experiment {params.experiment:q} --method {wildcards.method} "
            "--architecture {wildcards.architecture} --pretrain {wildcards.pretrain} --seed {wildcards.seed} "
            "--pretrain-data {input.pretrain_data} --finetune-data {input.finetune_data} --device {params.device} "
            "--threads {threads} --encoder {output.encoder} --history {output.history} "
            "--spectrum {output.spectrum}",
            "ssl",
        )


rule ssl_finetune:
    input:
        unpack(ssl_stores),
        encoder=ssl_encoder,
    output:
        scores=f"{SSL_FINETUNE_DIR}/scores.tsv",
        predictions=f"{SSL_FINETUNE_DIR}/predictions.tsv",
    log:
        "logs/ssl/finetune/{experiment}/{method}/{mode}/{architecture}/{pretrain}/seed{seed}.log",
    benchmark:
        family_benchmark("ssl", "finetune/{experiment}/{method}/{mode}/{architecture}/{pretrain}/seed{seed}")
    wildcard_constraints:
        experiment="[^/]+",
        method="[^/]+",
        mode="frozen|unfrozen",
        architecture=r"d\d+w\d+",
        pretrain=r"q[0-9.e+-]+|none",
        seed=r"\d+",
    retries: FAMILY_RETRIES
    conda:
        CONDA_ENV
    threads: CFG["threads_per_job"]
    resources:
        **heavy_resources(SSL_RESOURCES["finetune"]["mem_mb"], SSL_RESOURCES["finetune"]["runtime"], SSL_GPUS),
    params:
        experiment=ssl_experiment,
        device=SSL.get("device", "auto"),
        encoder=ssl_encoder_option,
        predictions=ssl_predictions_option,
        job_keys=job_keys,
    shell:
        guarded(
            "exprbench ssl-finetune --experiment {params.experiment:q} --method {wildcards.method} "
            "--mode {wildcards.mode} --architecture {wildcards.architecture} --pretrain {wildcards.pretrain} "
            "--seed {wildcards.seed} --pretrain-data {input.pretrain_data} --finetune-data {input.finetune_data} "
            "{params.encoder} --device {params.device} --threads {threads} {params.predictions} "
            "--scores {output.scores} --predictions {output.predictions}",
            "ssl",
        )


rule ssl_summarize:
    input:
        scores=[f"{SSL_FINETUNE_DIR}/scores.tsv".format(**job) for job in SSL_FINETUNE_JOBS],
        spectra=[f"{SSL_PRETRAIN_DIR}/spectrum.tsv".format(**job) for job in SSL_PRETRAIN_JOBS],
    output:
        [
            in_report(path, "ssl", "summary tables", caption=os.path.basename(path)[:-4] + "_table")
            for path in SSL_TABLES
        ],
    log:
        "logs/ssl/summarize.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        section=ssl_section(),
        out_dir=figures_folder,
    shell:
        "exprbench ssl-summarize --section {params.section:q} --scores {input.scores} "
        "--spectra {input.spectra} --out-dir {params.out_dir} 2> {log}"


rule ssl_figures:
    input:
        SSL_TABLES,
    output:
        [in_report(path, "ssl", f"experiments: {', '.join(SSL['experiments'])}") for path in SSL_FIGURES],
    log:
        "logs/ssl/figures.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        section=ssl_section(),
        results_dir=lambda wildcards, input: os.path.dirname(input[0]),
        out_dir=figures_folder,
    shell:
        "exprbench ssl-figures --section {params.section:q} --results-dir {params.results_dir} "
        "--out-dir {params.out_dir} 2> {log}"


FAMILY_OUTPUTS["ssl"] = {"summary": SSL_TABLES[0], "targets": SSL_TARGETS}
