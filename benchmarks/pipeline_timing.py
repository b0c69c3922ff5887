"""Time the `make run` pipeline and each model fit.

Runs the workflow on a config in a fresh folder (or reads an existing run with
--from), then prints the wall time against the 10-minute budget and, per model,
the time per fit and per job (a job = one process: imports, search, all fits).

    .venv/bin/python benchmarks/pipeline_timing.py                 # default config, all cores
    .venv/bin/python benchmarks/pipeline_timing.py --from /tmp/run # report an earlier run
    .venv/bin/python benchmarks/pipeline_timing.py --cores 2 --grains fold model

--grains runs the config's classification tasks only, once per fit_grain, in one folder:
datasets and task manifests are built first and not timed; each grain then redoes every
fit, the summary and the figures. It prints each grain's wall time, its ratio to the
first grain's, and to the machine's limit (the fits' own training time spread over the
cores, with no start-up or search at all).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 600


def new_workdir() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="exprbench-timing-"))
    for name in ("Snakefile", "rules", "config", "envs"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, workdir / name)
    return workdir


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def snakemake(workdir: Path, config: Path, cores: str, *extra: str, check: bool = True) -> float:
    """Seconds one Snakemake run takes."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "snakemake"), *extra, "--cores", cores, "--quiet", "rules",
                    "--configfile", str(config)], cwd=workdir, env=env, check=check)
    return time.perf_counter() - started


def run_pipeline(config: Path, cores: str) -> tuple[Path, float]:
    workdir = new_workdir()
    return workdir, snakemake(workdir, workdir / "config" / config.name, cores)


def run_grains(config: Path, cores: str, grains: list[str], tasks: list[str] | None = None) -> tuple[Path, dict]:
    """Wall and CPU seconds of the classification fits, summary and figures per fit_grain,
    after a shared setup; CPU seconds (every process the run started) are what a busy
    machine distorts least."""
    import yaml

    sys.path.insert(0, str(ROOT / "src"))
    from exprbench.config import family_sections

    workdir = new_workdir()
    settings = yaml.safe_load(config.read_text())
    classification = workdir / "classification.yaml"
    settings = {k: v for k, v in settings.items() if k not in family_sections()}
    if tasks:
        settings["tasks"] = {name: settings["tasks"][name] for name in tasks}
    classification.write_text(yaml.safe_dump(settings))
    manifests = [f"results/tasks/{task}.json" for task in settings["tasks"]]
    # The Snakefile's end-of-run report reads the summary, which a setup-only run lacks.
    setup = snakemake(workdir, classification, cores, *manifests, check=False)
    missing = [path for path in manifests if not (workdir / path).exists()]
    if missing:
        raise SystemExit(f"setup failed: {', '.join(missing)} not written; see {workdir}/logs")
    print(f"setup (datasets, task manifests; not counted): {setup:.0f} s")
    walls = {}
    for grain in grains:
        for name in ("results/runs", "results/benchmarks/fit", "logs/fit", "figures"):
            shutil.rmtree(workdir / name, ignore_errors=True)
        (workdir / "results" / "summary.tsv").unlink(missing_ok=True)
        cpu_before = children_cpu_seconds()
        wall = snakemake(workdir, classification, cores, "--config", f"fit_grain={grain}")
        walls[grain] = (wall, children_cpu_seconds() - cpu_before)
        fit_seconds = pd.read_csv(workdir / "results" / "summary.tsv", sep="\t")["fit_seconds"].sum()
        n_cores = os.cpu_count() if cores == "all" else int(cores)
        limit = fit_seconds / n_cores
        (first_wall, first_cpu), (wall, cpu) = walls[grains[0]], walls[grain]
        print(f"fit_grain {grain}: {len(job_seconds(workdir))} fit jobs; {wall:.0f} s wall "
              f"({first_wall / wall:.2f}x the speed of fit_grain {grains[0]}; {wall / limit:.1f}x the limit: "
              f"{fit_seconds:.0f} s of training / {n_cores} cores); {cpu:.0f} s CPU "
              f"({first_cpu / cpu:.2f}x less than fit_grain {grains[0]}; {cpu / fit_seconds:.1f}x the training)",
              flush=True)
    return workdir, walls


def job_seconds(workdir: Path) -> pd.DataFrame:
    """Seconds per fit job: one fit (fit_grain: fold) or a group of fits."""
    rows = []
    folder = workdir / "results" / "benchmarks" / "fit"
    for path in folder.rglob("*.tsv"):
        task, model = path.relative_to(folder).parts[:2]
        rows.append({"task": task, "model": model, "job_s": float(pd.read_csv(path, sep="\t")["s"].iloc[0])})
    return pd.DataFrame(rows, columns=["task", "model", "job_s"])


def report(workdir: Path, wall: float | None) -> None:
    summary = pd.read_csv(workdir / "results" / "summary.tsv", sep="\t")
    jobs = job_seconds(workdir)
    if wall is not None:
        print(f"pipeline wall time: {wall:.0f} s = {wall / BUDGET_SECONDS:.2f} x the {BUDGET_SECONDS} s budget")
    print(f"fit jobs: {len(jobs)}, total job time {jobs['job_s'].sum():.0f} s; "
          f"fits recorded: {len(summary)}, total fit time {summary['fit_seconds'].sum():.0f} s")
    per_model = summary.groupby("model")["fit_seconds"].agg(["count", "median", "mean", "max"])
    per_model["job_median_s"] = jobs.groupby("model")["job_s"].median()
    print("\nper model (fit = one training run of one fraction; job = whole process):")
    print(per_model.round(3).to_string())
    print("\nper task, median fit seconds:")
    print(summary.groupby("task")["fit_seconds"].median().round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--from", dest="existing", type=Path, help="report an existing run folder instead")
    parser.add_argument("--grains", nargs="+", choices=["fold", "seed", "model"],
                        help="time the classification part once per fit_grain, after a shared setup")
    parser.add_argument("--tasks", nargs="+", help="with --grains: only these tasks of the config")
    args = parser.parse_args()
    if args.grains:
        workdir, _ = run_grains(args.config, args.cores, args.grains, args.tasks)
        print(f"\nrun folder: {workdir}")
    elif args.existing:
        report(args.existing, None)
    else:
        workdir, wall = run_pipeline(args.config, args.cores)
        report(workdir, wall)
        print(f"\nrun folder: {workdir}")


if __name__ == "__main__":
    main()
