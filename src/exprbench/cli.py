"""The ``exprbench`` command: the steps the workflow's rules call."""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from pathlib import Path

from .family import section_families


def _source(spec: dict, required_labels=()):
    """The dataset's source, after checking it can provide every label its tasks use."""
    from .sources import SOURCES

    source = SOURCES.get(spec["source"])(files=spec.get("files"), **spec.get("params", {}))
    for label in required_labels:
        source.require_label(label)
    return source


def _download(args) -> None:
    from .atomic import write_text
    from .download import DownloadLock, lock_path_for, read_manifest, write_lock

    spec = _download_spec(args.spec)
    lock_path = lock_path_for(spec["definition"]) if spec.get("definition") else None
    if args.lock and lock_path is None:
        raise ValueError("--lock: this dataset entry has no definition file to keep the lock beside; move its "
                         "files: into a YAML under config/datasets/ and point the entry at it with definition:")
    lock = DownloadLock.read(lock_path) if lock_path else None
    paths = _source(spec, args.require_labels).fetch(args.dest_dir, max_workers=args.max_workers,
                                                     cache_dir=args.cache_dir, lock=lock)
    manifest = read_manifest(args.dest_dir)
    record = {name: {"path": str(path), **manifest.get(Path(path).name, {})} for name, path in paths.items()}
    write_text(args.out, json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"{args.out}: {len(paths)} files verified in {args.dest_dir}", file=sys.stderr)
    if args.lock:
        manifests = {folder: read_manifest(folder) for folder in {Path(p).parent for p in paths.values()}}
        served = [manifests[Path(p).parent][Path(p).name] for p in paths.values()]
        added = write_lock(lock_path, {entry["url"]: entry for entry in served})
        print(f"{lock_path}: {added} URLs locked, {len(served) - added} already locked", file=sys.stderr)


def _download_spec(text: str) -> dict:
    """``--spec``: the dataset entry as JSON, or the path of a dataset definition YAML."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    from .config import _with_definition

    return _with_definition(Path(text).stem, {"definition": text}, text)


def _prepare(args) -> None:
    from .store import open_dataset

    spec = json.loads(args.spec)
    downloads = {}
    if args.downloads:
        downloads = {name: Path(entry["path"]) for name, entry in json.loads(args.downloads.read_text()).items()}
    _source(spec, args.require_labels).write(args.out, downloads)
    with open_dataset(args.out) as reader:
        n, g = reader.shape
    print(f"{args.out}: {n} samples x {g} genes from source {spec['source']}", file=sys.stderr)


def _manifest(args) -> None:
    from .store import open_dataset
    from .tasks import build_manifest, write_manifest

    task = json.loads(args.task)
    with open_dataset(args.dataset_file) as reader:
        reader.check_finite()
        manifest = build_manifest(reader, task, args.config_file)
    if args.compendium_stats:
        manifest["compendium_stats"] = str(args.compendium_stats)
    write_manifest(args.out, manifest)
    dropped = manifest["n_dropped_missing_label"]
    counts = ", ".join(f"{k}: {v}" for k, v in manifest["class_counts"].items())
    note = f"; {dropped} samples without a {task['label']!r} label dropped" if dropped else ""
    print(f"task {task['name']}: {len(manifest['rows'])} samples ({counts}){note}", file=sys.stderr)
    if manifest["pair_classes"]:
        print(f"task {task['name']}: pairs of the {len(manifest['pair_classes'])} most common classes: "
              f"{', '.join(manifest['pair_classes'])}", file=sys.stderr)


def _compendium_stats(args) -> None:
    from .compendium import compendium_stats, write_stats
    from .store import open_dataset

    with open_dataset(args.dataset_file) as reader:
        stats = compendium_stats(reader)
        n_samples, n_genes = reader.shape
    write_stats(args.out, stats, args.dataset_file)
    print(f"{args.out}: per-gene statistics of {n_samples} samples x {n_genes} genes", file=sys.stderr)


def _fit_settings(args) -> dict:
    """FitJob's arguments but seed and fold, from the options `fit` and `fit-many` share;
    sets torch's thread count for the process."""
    import torch

    from .tasks import read_manifest

    torch.set_num_threads(args.threads)
    return dict(
        task=json.loads(args.task), manifest=read_manifest(args.manifest), model=json.loads(args.model),
        signal_removal=args.signal_removal, dataset=args.dataset, device=args.device,
        tracker=json.loads(args.tracker), mixed_precision=args.mixed_precision,
        signal_removal_backend=args.signal_removal_backend,
    )


def _fit(args) -> None:
    from .fit_group import write_fit_files
    from .job import FitJob

    metrics, predictions = FitJob(**_fit_settings(args), seed=args.seed, fold=args.fold).run()
    write_fit_files(metrics, predictions, args.metrics, args.predictions)


def _fit_cells(args) -> list:
    """The fits a `fit-many` or `record-failure` call covers: --cells, or --seed and --fold."""
    from .fit_group import FitCell

    if args.cells is None:
        args.cells = [f"{args.seed}:{args.fold}"]
    if not len(args.cells) == len(args.metrics) == len(args.predictions):
        raise ValueError(f"--cells, --metrics and --predictions need one entry per cell; got {len(args.cells)}, "
                         f"{len(args.metrics)} and {len(args.predictions)}")
    cells = []
    for cell, metrics, predictions in zip(args.cells, args.metrics, args.predictions):
        seed, _, fold = cell.partition(":")
        if not (seed.isdigit() and fold.isdigit()):
            raise ValueError(f"--cells: {cell!r} is not SEED:FOLD, e.g. 0:1")
        cells.append(FitCell(int(seed), int(fold), metrics, predictions))
    return cells


def _fit_many(args) -> int:
    from .fit_group import run_fit_cells

    cells = _fit_cells(args)
    failed = run_fit_cells(_fit_settings(args), cells, args.attempt, args.attempts)
    print(f"{len(cells) - failed} of {len(cells)} fits done, {failed} recorded as failed", file=sys.stderr)
    return 0


def _record_failure(args) -> int:
    from .fit_group import write_failed_fit
    from .summary import last_error

    if args.cells is None and (args.seed is None or args.fold is None):
        raise ValueError("record-failure: give --seed and --fold, or --cells")
    cells = _fit_cells(args)
    error = last_error(args.log)
    if args.attempt < args.attempts:
        print(f"fit failed on attempt {args.attempt} of {args.attempts}: {error}", file=sys.stderr)
        return 1
    # A group killed part-way keeps the fits it finished; the rest are recorded as failed.
    for cell in cells:
        if not cell.metrics.exists():
            write_failed_fit(json.loads(args.task), args.model, args.dataset, args.signal_removal, cell.seed,
                             cell.fold, error, cell.metrics, cell.predictions)
            print(f"seed {cell.seed} fold {cell.fold}: failed on its last attempt ({args.attempt}); "
                  f"recorded as failed: {error}", file=sys.stderr)
    return 0


def _record_job_failure(args) -> int:
    from .results import last_error, write_failure

    error = last_error(args.log)
    if args.attempt < args.attempts:
        print(f"{args.family} job failed on attempt {args.attempt} of {args.attempts}: {error}", file=sys.stderr)
        return 1
    write_failure(args.outputs, json.loads(args.keys), error)
    print(f"{args.family} job {args.keys} failed on its last attempt ({args.attempt}); recorded as failed: {error}",
          file=sys.stderr)
    return 0


def _summarize(args) -> None:
    from .summary import tasks_where_every_fit_failed, write_summary

    table = write_summary(args.metrics, args.out)
    failed = table[table["status"] == "failed"] if "status" in table else table.iloc[:0]
    print(f"{args.out}: {len(table)} rows, {len(failed)} failed fits", file=sys.stderr)
    for _, row in failed.iterrows():
        print(f"  failed: {row['task']} {row['model']} {row['signal_removal']} seed {row['seed']} "
              f"fold {row['fold']}: {row['error']}", file=sys.stderr)
    for task in tasks_where_every_fit_failed(table):
        print(f"  task {task}: every fit failed", file=sys.stderr)


def _figures(args) -> None:
    from .figures import make_figures

    for path in make_figures(args.summary, args.out_dir):
        print(path, file=sys.stderr)


def _check_config(args) -> None:
    from . import config as config_module

    config = config_module.load(args.config)
    fits, groups = config_module.fit_jobs(config), config_module.fit_groups(config)
    parts = [f"{len(config['tasks'])} tasks, {len(fits)} fits in {len(groups)} fit jobs "
             f"(fit_grain: {config['fit_grain']})"] if config["tasks"] else []
    for name in config_module.family_sections():
        if name in config:
            parts.append(f"{name}: {len(config_module.family(name).jobs(config[name]))} jobs")
    print(f"{args.config}: valid; {'; '.join(parts)}")


def _plan(args) -> None:
    from .plan import run

    print(run(args.config, calibrate=not args.no_calibrate, recalibrate=args.recalibrate))


def _export(args) -> None:
    from .h5ad import export_h5ad

    store = Path(args.dataset)
    if args.configfile is not None:
        from . import config as config_module

        config = config_module.load(args.configfile)
        if args.dataset not in config["datasets"]:
            raise ValueError(f"{args.configfile}: datasets: no dataset {args.dataset!r}"
                             f"{config_module.did_you_mean(args.dataset, config['datasets'])} "
                             f"(has: {', '.join(sorted(config['datasets']))})")
        store = Path(config["data_dir"]) / f"{args.dataset}.h5"
    elif not store.is_file():
        raise ValueError(f"{store}: no such store file; give the path of a prepared store (data/NAME.h5), "
                         "or a dataset name with --configfile")
    n_samples, n_genes = export_h5ad(store, args.h5ad)
    print(f"{args.h5ad}: {n_samples} samples x {n_genes} genes from {store}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exprbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("check-config", help="validate a workflow config")
    p.add_argument("config", type=Path)
    p.set_defaults(func=_check_config)

    p = commands.add_parser("plan", help="jobs, fits, CPU/GPU time and memory a config will need, before running it")
    p.add_argument("config", type=Path)
    p.add_argument("--no-calibrate", action="store_true",
                   help="measure nothing; use only the cached calibration (~/.cache/exprbench/calibration.json)")
    p.add_argument("--recalibrate", action="store_true",
                   help="measure again what this plan needs (e.g. the machine was busy when the cache was made)")
    p.set_defaults(func=_plan)

    p = commands.add_parser("download", help="fetch and verify one dataset's remote files")
    p.add_argument("--spec", required=True,
                   help="dataset entry as JSON: {source, params, files}, or a dataset definition YAML")
    p.add_argument("--dest-dir", required=True, type=Path)
    p.add_argument("--max-workers", type=int, default=4)
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--out", required=True, type=Path, help="record of the verified files")
    p.add_argument("--require-labels", nargs="*", default=[], help="labels the tasks need from this dataset")
    p.add_argument("--lock", action="store_true",
                   help="write the size and SHA-256 of every file fetched into the definition's lock file "
                        "(config/datasets/<name>.lock.json), which every later download is checked against")
    p.set_defaults(func=_download)

    p = commands.add_parser("prepare", help="build one dataset into the HDF5 store")
    p.add_argument("--spec", required=True, help="dataset entry as JSON: {source, params, files}")
    p.add_argument("--downloads", type=Path, help="record written by `exprbench download`")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--require-labels", nargs="*", default=[], help="labels the tasks need from this dataset")
    p.set_defaults(func=_prepare)

    p = commands.add_parser("manifest", help="fit a task's label encoding and check its labels")
    p.add_argument("--task", required=True, help="resolved task as JSON")
    p.add_argument("--dataset-file", required=True, type=Path)
    p.add_argument("--config-file", default="config")
    p.add_argument("--compendium-stats", type=Path, help="statistics for preprocessing.fit_on: all")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=_manifest)

    p = commands.add_parser("compendium-stats", help="per-gene statistics of every sample of a dataset (streamed)")
    p.add_argument("--dataset-file", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=_compendium_stats)

    def add_fit_job_options(p):
        p.add_argument("--task", required=True)
        p.add_argument("--model", required=True)
        p.add_argument("--manifest", required=True, type=Path)
        p.add_argument("--dataset", required=True)
        p.add_argument("--signal-removal", required=True, choices=["none", "limma", "limma_joint"])
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        p.add_argument("--threads", default=1, type=int)
        p.add_argument("--tracker", default='{"backend": "none"}')
        p.add_argument("--mixed-precision", action="store_true", help="autocast training (float16 on CUDA)")
        p.add_argument("--signal-removal-backend", default="r", choices=["r", "native"],
                       help="limma through R (the reference) or the same fit in numpy")

    p = commands.add_parser("fit", help="run one (task, model, signal_removal, seed, fold) job")
    add_fit_job_options(p)
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--fold", required=True, type=int)
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--predictions", required=True, type=Path)
    p.set_defaults(func=_fit)

    p = commands.add_parser("fit-many", help="run several (seed, fold) fits of one (task, model, signal_removal) "
                                             "in one process, writing each fit's files as it finishes")
    add_fit_job_options(p)
    p.add_argument("--cells", required=True, nargs="+", help="SEED:FOLD of each fit, in order")
    p.add_argument("--metrics", required=True, nargs="+", type=Path, help="one per cell, in the order of --cells")
    p.add_argument("--predictions", required=True, nargs="+", type=Path, help="one per cell, in the order of --cells")
    p.add_argument("--attempt", default=1, type=int,
                   help="this run's attempt; before the last, a failing fit fails the whole run so it is retried")
    p.add_argument("--attempts", default=1, type=int)
    p.set_defaults(func=_fit_many)

    p = commands.add_parser("record-failure", help="after a failed fit: fail again, or record the failure on the last attempt")
    p.add_argument("--task", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--signal-removal", required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--fold", type=int)
    p.add_argument("--cells", nargs="+", help="SEED:FOLD of each fit of a grouped job, instead of --seed and --fold")
    p.add_argument("--attempt", required=True, type=int)
    p.add_argument("--attempts", required=True, type=int)
    p.add_argument("--log", required=True, type=Path)
    p.add_argument("--metrics", required=True, nargs="+", type=Path, help="one per fit; fits that have one are kept")
    p.add_argument("--predictions", required=True, nargs="+", type=Path)
    p.set_defaults(func=_record_failure)

    p = commands.add_parser("record-job-failure", help="after a family's job failed: exit 1 to retry it, or, on "
                            "its last attempt, write a failed row in place of its outputs")
    p.add_argument("--family", required=True)
    p.add_argument("--keys", required=True, help="the job's key columns as JSON (its wildcards)")
    p.add_argument("--attempt", required=True, type=int)
    p.add_argument("--attempts", required=True, type=int)
    p.add_argument("--log", required=True, type=Path)
    p.add_argument("outputs", nargs="+", type=Path)
    p.set_defaults(func=_record_job_failure)

    p = commands.add_parser("summarize", help="collect job metrics into one table")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("metrics", nargs="+", type=Path)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("figures", help="draw the figures from a summary table")
    p.add_argument("--summary", required=True, type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=_figures)

    p = commands.add_parser("export", help="write a prepared dataset store as AnnData (.h5ad)")
    p.add_argument("dataset", help="path of a store (data/NAME.h5), or a dataset name with --configfile")
    p.add_argument("--configfile", type=Path,
                   help="workflow config: DATASET is then a key of its datasets:, read from its data_dir")
    p.add_argument("--h5ad", required=True, type=Path, help="AnnData file to write (X samples x genes, obs, var, uns)")
    p.set_defaults(func=_export)

    # Each benchmark family adds its own subcommands (family.py).
    for family in section_families():
        family.cli().add_commands(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if os.environ.get("EXPRBENCH_FAIL_COMMAND") == args.command:
            # Exercises the failure path of a workflow step (tests, or a dry run of a recovery).
            raise RuntimeError(f"{args.command} failed on purpose (EXPRBENCH_FAIL_COMMAND)")
        status = args.func(args)
    # EOFError, zlib: damaged gzip input; FloatingPointError: a loss that never became finite
    except (ValueError, OSError, KeyError, EOFError, zlib.error, FloatingPointError) as err:
        # Input problems get one readable line; EXPRBENCH_DEBUG=1 shows the traceback.
        if os.environ.get("EXPRBENCH_DEBUG"):
            raise
        print(f"exprbench {args.command}: error: {err}", file=sys.stderr)
        return 1
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
