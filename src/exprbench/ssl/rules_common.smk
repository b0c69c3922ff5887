# Paths, job lists and input functions of the ssl rules (rules.smk).
SSL_RESULTS = f"{RESULTS_DIR}/ssl"
SSL_PRETRAIN_DIR = f"{SSL_RESULTS}/{{experiment}}/pretrain/{{method}}/{{architecture}}/{{pretrain}}/seed{{seed}}"
SSL_FINETUNE_DIR = (
    f"{SSL_RESULTS}/{{experiment}}/finetune/{{method}}/{{mode}}/{{architecture}}/{{pretrain}}/seed{{seed}}"
)
SSL_TABLES = [f"{SSL_RESULTS}/{name}.tsv" for name in ("summary", "gains", "spectra")]

if "ssl" in CFG:
    SSL = CFG["ssl"]
    SSL_SETTINGS = exprbench_config.family("ssl")
    SSL_PRETRAIN_JOBS = SSL_SETTINGS.pretrain_jobs(SSL)
    SSL_FINETUNE_JOBS = SSL_SETTINGS.finetune_jobs(SSL)
    SSL_FIGURES = [f"{FIGURES_DIR}/ssl/{name}.{ext}" for name in SSL["figures"]["make"] for ext in ("png", "svg")]
    SSL_TARGETS = SSL_TABLES + SSL_FIGURES
    SSL_GPUS = gpus_per_fit(CFG["gpus_per_fit"], SSL["device"], LOCAL_GPUS)
    SSL_RESOURCES = SSL["resources"]
else:
    SSL = {}
    SSL_PRETRAIN_JOBS = []
    SSL_FINETUNE_JOBS = []
    SSL_FIGURES = []
    SSL_TARGETS = []
    SSL_GPUS = 0
    SSL_RESOURCES = {}


def ssl_experiment(wildcards):
    return json.dumps(SSL["experiments"][wildcards.experiment], sort_keys=True)


def ssl_stores(wildcards):
    exp = SSL["experiments"][wildcards.experiment]
    return {
        "pretrain_data": f"{DATA_DIR}/{exp['pretrain_dataset']}.h5",
        "finetune_data": f"{DATA_DIR}/{exp['finetune_dataset']}.h5",
    }


def ssl_encoder(wildcards):
    """The pretrained encoder a fine-tuning job starts from; none for the baseline."""
    if wildcards.method == "baseline":
        return []
    return [f"{SSL_PRETRAIN_DIR}/encoder.pt".format(**wildcards)]


def ssl_encoder_option(wildcards, input):
    return f"--encoder {input.encoder}" if input.encoder else ""


def ssl_predictions_option(wildcards):
    return "--save-predictions" if SSL["experiments"][wildcards.experiment]["finetune"]["save_predictions"] else ""


def ssl_section():
    return json.dumps(SSL, sort_keys=True) if SSL else "{}"
