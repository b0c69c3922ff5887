"""``exprbench`` subcommands of the biclustering family."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fit(args) -> None:
    import numpy as np
    import torch

    from ..atomic import atomic_path, write_table, write_text
    from .job import run_job

    torch.set_num_threads(args.threads)
    table, record, heatmap = run_job(args.dataset_file, json.loads(args.experiment), args.method, args.seed,
                                     args.device)
    with atomic_path(args.heatmap) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, method=args.method, seed=args.seed, **heatmap)
    write_text(args.record, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    write_table(args.metrics, table)  # first output, written last: it marks the job complete


def _summarize(args) -> None:
    from .summary import leading_metrics_text, write_summary

    table = write_summary(args.metrics, args.out)
    print(f"{args.out}: {len(table)} rows\n\n{leading_metrics_text(table)}", file=sys.stderr)


def _figures(args) -> None:
    from .figures import make_figures

    for path in make_figures(args.summary, args.out_dir, args.experiment, args.kinds, args.heatmaps):
        print(path, file=sys.stderr)


def add_commands(commands) -> None:
    p = commands.add_parser("bicluster-fit", help="biclustering: fit one method on every cell of an experiment")
    p.add_argument("--experiment", required=True, help="resolved experiment as JSON")
    p.add_argument("--method", required=True)
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--dataset-file", type=Path, default=None, help="the store file (not for planted experiments)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", default=1, type=int)
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--record", required=True, type=Path, help="JSON record of the fits (params, γ, sparsity)")
    p.add_argument("--heatmap", required=True, type=Path, help="npz of the first cell's matrix and labels")
    p.set_defaults(func=_fit)

    p = commands.add_parser("bicluster-summarize", help="biclustering: collect job metrics into one table")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("metrics", nargs="+", type=Path)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("bicluster-figures", help="biclustering: accuracy, time, label and heat-map figures")
    p.add_argument("--summary", required=True, type=Path)
    p.add_argument("--experiment", required=True)
    p.add_argument("--kinds", nargs="+", required=True)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--heatmaps", nargs="*", default=[], type=Path)
    p.set_defaults(func=_figures)
