# Config validation and the helpers the rules use. No rules here.
import json
import os

from snakemake.exceptions import WorkflowError

from exprbench import config as exprbench_config

CONFIG_FILE = workflow.configfiles[-1] if workflow.configfiles else "config"

try:
    CFG = exprbench_config.resolve(config, CONFIG_FILE)
except exprbench_config.ConfigError as err:
    raise WorkflowError(f"Invalid config: {err}") from None

DATA_DIR = CFG["data_dir"]
RESULTS_DIR = CFG["results_dir"]
FIGURES_DIR = CFG["figures_dir"]
SUMMARY = f"{RESULTS_DIR}/summary.tsv"
FIGURES = [f"{FIGURES_DIR}/{name}.{ext}" for name in ("learning_curves", "binary_pairs") for ext in ("png", "svg")]
RUN_DIR = f"{RESULTS_DIR}/runs/{{task}}/{{model}}/{{signal_removal}}/seed{{seed}}/fold{{fold}}"
METRICS = f"{RUN_DIR}/metrics.tsv"
PREDICTIONS = f"{RUN_DIR}/predictions.tsv"
FIT_JOBS = exprbench_config.fit_jobs(CFG)


wildcard_constraints:
    task="[^/]+",
    model="[^/]+",
    dataset="[^/]+",
    signal_removal="none|limma",
    seed=r"\d+",
    fold=r"\d+",


def dataset_spec(wildcards):
    return json.dumps(CFG["datasets"][wildcards.dataset], sort_keys=True)


def task_dataset_file(wildcards):
    return f"{DATA_DIR}/{CFG['tasks'][wildcards.task]['dataset']}.h5"


def task_spec(wildcards):
    return json.dumps(CFG["tasks"][wildcards.task], sort_keys=True)


def task_dataset(wildcards):
    return CFG["tasks"][wildcards.task]["dataset"]


def model_spec(wildcards):
    return json.dumps(CFG["models"][wildcards.model], sort_keys=True)


def all_metric_files():
    return [METRICS.format(**job) for job in FIT_JOBS]


def figures_folder(wildcards, output):
    return os.path.dirname(output[0])
