"""``exprbench`` subcommands of the inference family (``inference-*``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fit(args) -> None:
    import torch

    from .job import InferenceJob

    torch.set_num_threads(args.threads)
    job = InferenceJob(task=json.loads(args.task), model=json.loads(args.model), seed=args.seed,
                       paths=json.loads(args.stores), device=args.device, **json.loads(args.settings))
    job.run(args.out_dir)


def _summarize(args) -> None:
    from .summary import write_summary

    table = write_summary(args.metrics, args.out)
    print(f"{args.out}: {len(table)} rows", file=sys.stderr)


def _figures(args) -> None:
    from .figures import make_figures

    for path in make_figures(args.summary, args.out_dir):
        print(path, file=sys.stderr)


def add_commands(commands) -> None:
    p = commands.add_parser("inference-fit", help="fit and score one landmark -> target model (task, model, seed)")
    p.add_argument("--task", required=True, help="resolved task as JSON")
    p.add_argument("--model", required=True, help="model spec as JSON (estimator, params, grid)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--stores", required=True, help='JSON {dataset: store path} for the datasets the task reads')
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--settings", default="{}", help="JSON: max_in_memory_mb, chunk_rows, attribution")
    p.add_argument("--out-dir", type=Path, required=True)
    p.set_defaults(func=_fit)

    p = commands.add_parser("inference-summarize", help="collect inference metrics into one table")
    p.add_argument("--metrics", nargs="+", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("inference-figures", help="draw the inference figures from the summary")
    p.add_argument("--summary", type=Path, required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.set_defaults(func=_figures)
