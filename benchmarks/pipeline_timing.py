"""Time the `make run` pipeline and each model fit.

Runs the workflow on a config in a fresh folder (or reads an existing run with
--from), then prints the wall time against the 10-minute budget and, per model,
the time per fit and per job (a job = one process: imports, search, all fits).

    .venv/bin/python benchmarks/pipeline_timing.py                 # default config, all cores
    .venv/bin/python benchmarks/pipeline_timing.py --from /tmp/run # report an earlier run
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 600


def run_pipeline(config: Path, cores: str) -> tuple[Path, float]:
    workdir = Path(tempfile.mkdtemp(prefix="exprbench-timing-"))
    for name in ("Snakefile", "rules", "config", "envs"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, workdir / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--cores", cores, "--quiet", "rules",
                    "--configfile", str(workdir / "config" / config.name)], cwd=workdir, env=env, check=True)
    return workdir, time.perf_counter() - started


def job_seconds(workdir: Path) -> pd.DataFrame:
    rows = []
    for path in (workdir / "results" / "benchmarks" / "fit").glob("*/*/*/*/*.tsv"):
        task, model = path.parts[-5], path.parts[-4]
        rows.append({"task": task, "model": model, "job_s": float(pd.read_csv(path, sep="\t")["s"].iloc[0])})
    return pd.DataFrame(rows)


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
    args = parser.parse_args()
    if args.existing:
        report(args.existing, None)
    else:
        workdir, wall = run_pipeline(args.config, args.cores)
        report(workdir, wall)
        print(f"\nrun folder: {workdir}")


if __name__ == "__main__":
    main()
