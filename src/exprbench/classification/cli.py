"""``exprbench`` subcommands of the classification family: the task manifest, fits,
failure records, the summary table and the figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _manifest(args) -> None:
    from ..store import open_dataset
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
        signal_removal_backend=args.signal_removal_backend, stacked_fits=args.stacked_fits,
        compile_steps=args.compile_steps,
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
    for cell, metrics, predictions in zip(args.cells, args.metrics, args.predictions, strict=False):
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


def add_commands(commands) -> None:
    p = commands.add_parser("manifest", help="fit a task's label encoding and check its labels")
    p.add_argument("--task", required=True, help="resolved task as JSON")
    p.add_argument("--dataset-file", required=True, type=Path)
    p.add_argument("--config-file", default="config")
    p.add_argument("--compendium-stats", type=Path, help="statistics for preprocessing.fit_on: all")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=_manifest)

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
        p.add_argument("--stacked-fits", default="auto", choices=["auto", "on", "off"],
                       help="train the search's fits as one stacked model (auto: on CUDA only)")
        p.add_argument("--compile-steps", action="store_true", help="compile the stacked training steps")

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

    p = commands.add_parser("record-failure",
                            help="after a failed fit: fail again, or record the failure on the last attempt")
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

    p = commands.add_parser("summarize", help="collect job metrics into one table")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("metrics", nargs="+", type=Path)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("figures", help="draw the figures from a summary table")
    p.add_argument("--summary", required=True, type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=_figures)
