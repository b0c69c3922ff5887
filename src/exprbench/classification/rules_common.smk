# Paths, job lists and input functions of the classification rules (rules.smk).
from exprbench.classification import figures as classification_figures
from exprbench.classification import settings as classification_settings
from exprbench.classification.summary import failed_tasks_report
from exprbench.classification.tasks import dropped_samples_report

SUMMARY = f"{RESULTS_DIR}/summary.tsv"
FIGURES = [f"{FIGURES_DIR}/{name}.{ext}" for name in classification_figures.FIGURE_NAMES for ext in ("png", "svg")]
RUN_DIR = f"{RESULTS_DIR}/runs/{{task}}/{{model}}/{{signal_removal}}/seed{{seed}}/fold{{fold}}"
METRICS = f"{RUN_DIR}/metrics.tsv"
PREDICTIONS = f"{RUN_DIR}/predictions.tsv"
FIT_JOBS = classification_settings.fit_jobs(CFG)
FIT_ATTEMPTS = CFG["fit_retries"] + 1
FIT_GRAIN = CFG["fit_grain"]
GPUS_PER_FIT = gpus_per_fit(CFG["gpus_per_fit"], CFG["device"], LOCAL_GPUS)
CPUS_PER_GPU = {"cpus_per_gpu": CFG["threads_per_job"]} if GPUS_PER_FIT else {}


def task_dataset_file(wildcards):
    return f"{DATA_DIR}/{CFG['tasks'][wildcards.task]['dataset']}.h5"


def task_compendium_stats(wildcards):
    """The dataset's whole-store statistics, for a task whose preprocessing is fitted on them."""
    task = CFG["tasks"][wildcards.task]
    return [COMPENDIUM_STATS.format(dataset=task["dataset"])] if task["preprocessing"]["fit_on"] == "all" else []


def compendium_stats_option(wildcards, input):
    return f"--compendium-stats {input.stats[0]}" if input.stats else ""


def task_spec(wildcards):
    return json.dumps(CFG["tasks"][wildcards.task], sort_keys=True)


def task_dataset(wildcards):
    return CFG["tasks"][wildcards.task]["dataset"]


def model_spec(wildcards):
    return json.dumps(CFG["models"][wildcards.model], sort_keys=True)


def fit_mem_mb(wildcards, input, attempt):
    return classification_settings.fit_resources(CFG, wildcards.model, input.size_mb, attempt)["mem_mb"]


def fit_runtime(wildcards, input, attempt):
    return classification_settings.fit_resources(CFG, wildcards.model, input.size_mb, attempt)["runtime"]


# fit_grain model or seed: one job runs several fits; the wildcards its files share.
FIT_GROUP_WILDCARDS = {"model": "{task}/{model}/{signal_removal}", "seed": "{task}/{model}/{signal_removal}/seed{seed}"}


def signal_removal_backend(wildcards):
    # A function, not the value: the lint takes "r" for a hardcoded prefix of results/.
    return CFG["signal_removal_backend"]


def fit_cell_files(pattern, cells):
    """A per-fit path pattern filled in for each cell, ((field, value), ...), of a grouped job."""
    files = []
    for cell in cells:
        path = pattern
        for key, value in cell:
            path = path.replace(f"{{{key}}}", str(value))
        files.append(path)
    return files


def fit_cells_option(cells):
    """--cells SEED:FOLD ... of a grouped job; a seed grain takes its seed from the wildcards."""

    def option(wildcards):
        return " ".join(f"{dict(cell).get('seed', wildcards.get('seed'))}:{dict(cell)['fold']}" for cell in cells)

    return option


def training_options():
    # Non-default choices only: params left as they were keep finished fits from rerunning.
    options = ["--mixed-precision"] if CFG["mixed_precision"] else []
    stacked = {True: "on", False: "off"}.get(CFG.get("stacked_fits", "auto"), CFG.get("stacked_fits", "auto"))
    if stacked != "auto":  # YAML reads on/off as booleans
        options.append(f"--stacked-fits {stacked}")
    if CFG.get("compile_steps", False):
        options.append("--compile-steps")
    return " ".join(options)


def fit_group_runtime(n_fits):
    def runtime(wildcards, input, attempt):
        return classification_settings.fit_resources(CFG, wildcards.model, input.size_mb, attempt, n_fits)["runtime"]

    return runtime


def all_metric_files():
    return [METRICS.format(**job) for job in FIT_JOBS]


def classification_end_of_run():
    """Lines for the end of a run, and the errors that make it a failed run: failed fits
    are recorded so the rest completes, but a task left with no result at all fails it."""
    lines = list(dropped_samples_report(f"{RESULTS_DIR}/tasks/{task}.json" for task in CFG["tasks"]))
    errors = failed_tasks_report(SUMMARY) if os.path.exists(SUMMARY) else []  # absent after --until
    return lines, errors
