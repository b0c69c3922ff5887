"""``exprbench`` subcommands of the generative family."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fit(args) -> None:
    import torch

    from ..atomic import write_table
    from .job import run_job

    torch.set_num_threads(args.threads)  # more threads than cores makes small models crawl
    metrics, predictions, points = run_job(args.dataset_file, json.loads(args.experiment), args.generator, args.seed,
                                           args.device)
    write_table(args.predictions, predictions)
    write_table(args.projection, points)
    write_table(args.metrics, metrics)  # last: the metrics file marks the job complete


def _summarize(args) -> None:
    import pandas as pd

    from ..atomic import write_table
    from ..results import with_status
    from .summary import leading_metrics_text, write_summary

    table = write_summary(args.metrics, args.out)
    # Predictions and PCA coordinates of every job, for the figures (failed jobs: their failure row).
    for files, out in ((args.predictions, args.predictions_out), (args.projection, args.projection_out)):
        write_table(out, with_status(pd.concat([pd.read_csv(f, sep="\t") for f in files], ignore_index=True)))
    print(f"{args.out}: {len(table)} rows\n\n{leading_metrics_text(table)}", file=sys.stderr)


def _figures(args) -> None:
    from .figures import make_figures

    for path in make_figures(args.summary, args.predictions, args.projection, args.out_dir, args.experiment):
        print(path, file=sys.stderr)


def add_commands(commands) -> None:
    p = commands.add_parser("gen-fit", help="generative: fit one generator per fold and fraction, augment, score")
    p.add_argument("--experiment", required=True, help="resolved experiment as JSON")
    p.add_argument("--generator", required=True, help="a registered generator, or none (real only)")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--dataset-file", required=True, type=Path)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", default=1, type=int)
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--predictions", required=True, type=Path)
    p.add_argument("--projection", required=True, type=Path)
    p.set_defaults(func=_fit)

    p = commands.add_parser("gen-summarize", help="generative: collect job tables into one")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--metrics", required=True, nargs="+", type=Path)
    p.add_argument("--predictions", required=True, nargs="+", type=Path)
    p.add_argument("--projection", required=True, nargs="+", type=Path)
    p.add_argument("--predictions-out", required=True, type=Path)
    p.add_argument("--projection-out", required=True, type=Path)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("gen-figures", help="generative: augmentation, fidelity, projection, ROC figures")
    p.add_argument("--summary", required=True, type=Path)
    p.add_argument("--predictions", required=True, type=Path)
    p.add_argument("--projection", required=True, type=Path)
    p.add_argument("--experiment", required=True)
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=_figures)
