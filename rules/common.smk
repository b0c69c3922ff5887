# Config validation and the helpers the rules use. No rules here.
import json
import os
import re
import sys

from snakemake.exceptions import WorkflowError

from exprbench import config as exprbench_config
from exprbench.devices import gpus_per_fit, local_gpu_count
from exprbench.family import families, family, section_families
from exprbench.sources import SOURCES
from exprbench.run_lock import claim_run

CONFIG_FILE = workflow.configfiles[-1] if workflow.configfiles else "config"

try:
    CFG = exprbench_config.resolve(config, CONFIG_FILE)
except exprbench_config.ConfigError as err:
    raise WorkflowError(f"Invalid config: {err}") from None

# A run killed earlier leaves its lock behind; remove it when its process is gone.
if workflow.is_main_process:
    for message in claim_run():
        print(message, file=sys.stderr)

DATA_DIR = CFG["data_dir"]
RESULTS_DIR = CFG["results_dir"]
FIGURES_DIR = CFG["figures_dir"]

# On a workstation, GPU jobs may not outnumber the GPUs here, unless --resources says otherwise.
LOCAL_GPUS = local_gpu_count()
# A cluster run sets nodes (--jobs); the executor plugin itself is attached only after parsing.
if workflow.resource_settings.nodes is None and "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", LOCAL_GPUS)


wildcard_constraints:
    task="[^/]+",
    model="[^/]+",
    dataset="[^/]+",
    signal_removal="none|limma|limma_joint",
    seed=r"\d+",
    fold=r"\d+",


def dataset_spec(wildcards):
    return json.dumps(CFG["datasets"][wildcards.dataset], sort_keys=True)


DOWNLOAD_DIR = CFG["download"]["dir"]


def dataset_downloads(wildcards):
    """The download record a dataset's preparation waits for, if it has remote files."""
    if CFG["datasets"][wildcards.dataset]["files"]:
        return [f"{DOWNLOAD_DIR}/{wildcards.dataset}/downloaded.json"]
    return []


def dataset_labels(wildcards):
    return " ".join(f"'{label}'" for label in exprbench_config.labels_used(CFG, wildcards.dataset))


def dataset_urls(wildcards):
    files = CFG["datasets"][wildcards.dataset]["files"]
    return "; ".join(f"{name}: {spec['urls'][0]}" for name, spec in sorted(files.items()))


COMPENDIUM_STATS = f"{DATA_DIR}/{{dataset}}.compendium_stats.npz"


def dataset_required_inputs(wildcards):
    entry = CFG["datasets"][wildcards.dataset]
    return SOURCES.get(entry["source"])(files=entry["files"], **entry["params"]).required_inputs()


def downloads_option(wildcards, input):
    return f"--downloads {input.downloads[0]}" if input.downloads else ""


def download_options(wildcards, output):
    settings = CFG["download"]
    options = f"--dest-dir {os.path.dirname(output[0])} --max-workers {settings['max_workers']}"
    return options + (f" --cache-dir {settings['cache_dir']}" if settings["cache_dir"] else "")


def scaled(rule_name, key):
    def by_attempt(wildcards, attempt):
        return CFG["resources"][rule_name][key] * attempt

    return by_attempt


def attempt_number(wildcards, attempt):
    return attempt


def figures_folder(wildcards, output):
    return os.path.dirname(output[0])


# Shared by every family's rules (family.py): the conda env, the files each family
# registers for `rule all` and the end-of-run messages, and what makes a heavy job
# robust: retries with attempt-scaled resources, a log, a benchmark and a failure row.
CONDA_ENV = os.path.join(workflow.basedir, "envs", "exprbench.yaml")
FAMILY_OUTPUTS = {}  # family name -> {"summary": path, "targets": [paths]}
FAMILY_RETRIES = CFG["fit_retries"]
JOB_ATTEMPTS = FAMILY_RETRIES + 1


def heavy_resources(mem_mb, runtime, gpu=0):
    """Resources of a heavy job: memory and runtime (numbers, or functions of the
    wildcards) grow with the attempt, so a job killed for either gets more next time."""

    def scaled(value):
        def by_attempt(wildcards, attempt):
            return int((value(wildcards) if callable(value) else value) * attempt)

        return by_attempt

    extra = {"cpus_per_gpu": CFG["threads_per_job"]} if gpu else {}
    return {"mem_mb": scaled(mem_mb), "runtime": scaled(runtime), "gpu": gpu, "job_attempt": attempt_number, **extra}


def job_keys(wildcards):
    """A heavy job's key columns (its wildcards) as JSON, for its failure row."""
    return json.dumps(dict(wildcards.items()), sort_keys=True)


def guarded(command, family):
    """``command`` with its stderr in the rule's log; if it fails, record-job-failure
    exits 1 before the last attempt (Snakemake retries) and on the last attempt
    writes a failed row in place of the outputs, so the rest of the run completes.
    Its callers set ``params: job_keys=job_keys`` and ``resources: **heavy_resources(...)``."""
    return (
        f"{command} 2> {{log}} || exprbench record-job-failure --family {family} --keys {{params.job_keys:q}} "
        f"--attempt {{resources.job_attempt}} --attempts {JOB_ATTEMPTS} --log {{log}} {{output}}"
    )


def family_benchmark(family, pattern):
    return f"{RESULTS_DIR}/benchmarks/{family}/{pattern}.tsv"
