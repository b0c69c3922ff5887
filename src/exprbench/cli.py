"""The ``exprbench`` command: the steps the workflow's rules call."""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from pathlib import Path

from .family import families


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


def _compendium_stats(args) -> None:
    from .compendium import compendium_stats, write_stats
    from .store import open_dataset

    with open_dataset(args.dataset_file) as reader:
        stats = compendium_stats(reader)
        n_samples, n_genes = reader.shape
    write_stats(args.out, stats, args.dataset_file)
    print(f"{args.out}: per-gene statistics of {n_samples} samples x {n_genes} genes", file=sys.stderr)


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


def _check_config(args) -> None:
    from . import config as config_module

    config = config_module.load(args.config)
    parts = []
    for fam in families():
        settings = fam.settings()
        if fam.config_keys:
            if config[fam.keys[0]]:
                parts.append(settings.describe(config))
        elif fam.name in config:
            parts.append(f"{fam.name}: {len(settings.jobs(config[fam.name]))} jobs")
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

    p = commands.add_parser("compendium-stats", help="per-gene statistics of every sample of a dataset (streamed)")
    p.add_argument("--dataset-file", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=_compendium_stats)

    p = commands.add_parser("record-job-failure", help="after a family's job failed: exit 1 to retry it, or, on "
                            "its last attempt, write a failed row in place of its outputs")
    p.add_argument("--family", required=True)
    p.add_argument("--keys", required=True, help="the job's key columns as JSON (its wildcards)")
    p.add_argument("--attempt", required=True, type=int)
    p.add_argument("--attempts", required=True, type=int)
    p.add_argument("--log", required=True, type=Path)
    p.add_argument("outputs", nargs="+", type=Path)
    p.set_defaults(func=_record_job_failure)

    p = commands.add_parser("export", help="write a prepared dataset store as AnnData (.h5ad)")
    p.add_argument("dataset", help="path of a store (data/NAME.h5), or a dataset name with --configfile")
    p.add_argument("--configfile", type=Path,
                   help="workflow config: DATASET is then a key of its datasets:, read from its data_dir")
    p.add_argument("--h5ad", required=True, type=Path, help="AnnData file to write (X samples x genes, obs, var, uns)")
    p.set_defaults(func=_export)

    # Each benchmark family adds its own subcommands (family.py).
    for family in families():
        family.cli().add_commands(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in os.environ.get("EXPRBENCH_FAIL_COMMAND", "").split(","):
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
