"""``exprbench`` subcommands of the compressed_sensing family."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fit(args) -> None:
    import torch

    from ..atomic import write_table, write_text
    from .job import run_job

    torch.set_num_threads(args.threads)
    table, record = run_job(args.dataset_file, json.loads(args.experiment), args.method, args.seed, args.device,
                            threads=args.threads)
    write_text(args.record, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    write_table(args.metrics, table)  # last: the metrics file marks the job complete


def _summarize(args) -> None:
    from .summary import leading_metrics_text, write_summary

    table = write_summary(args.metrics, args.out)
    print(f"{args.out}: {len(table)} rows\n\n{leading_metrics_text(table)}", file=sys.stderr)


def _figures(args) -> None:
    from .figures import make_figures

    for path in make_figures(args.summary, args.out_dir, args.experiment):
        print(path, file=sys.stderr)


def add_commands(commands) -> None:
    p = commands.add_parser("cs-fit", help="compressed sensing: fit one method and recover at every d")
    p.add_argument("--experiment", required=True, help="resolved experiment as JSON")
    p.add_argument("--method", required=True)
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--dataset-file", required=True, type=Path)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", default=1, type=int)
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--record", required=True, type=Path, help="JSON record of the fit (params, iterations)")
    p.set_defaults(func=_fit)

    p = commands.add_parser("cs-summarize", help="compressed sensing: collect job metrics into one table")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("metrics", nargs="+", type=Path)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("cs-figures", help="compressed sensing: metric against measurements figures")
    p.add_argument("--summary", required=True, type=Path)
    p.add_argument("--experiment", required=True)
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=_figures)
