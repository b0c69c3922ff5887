"""``exprbench`` subcommands of the ssl family: one per workflow step."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _pretrain(args) -> None:
    import torch

    from ..atomic import atomic_path, write_table
    from .job import pretrain

    torch.set_num_threads(args.threads)
    model, history, spectrum = pretrain(json.loads(args.experiment), args.method, args.architecture, args.pretrain,
                                        args.seed, args.device, args.pretrain_data, args.finetune_data)
    write_table(args.history, history)
    write_table(args.spectrum, spectrum)
    # The encoder last: it is the file the fine-tuning jobs wait for.
    with atomic_path(args.encoder) as tmp:
        torch.save(model.encoder_.state_dict(), tmp)
    collapsed = int(spectrum["collapsed"].sum())
    print(f"{args.encoder}: {len(history)} epochs; {collapsed} of {len(spectrum)} singular values collapsed",
          file=sys.stderr)


def _finetune(args) -> None:
    import pandas as pd
    import torch

    from ..atomic import write_table
    from .job import finetune

    torch.set_num_threads(args.threads)
    scores, predictions = finetune(json.loads(args.experiment), args.method, args.mode, args.architecture,
                                   args.pretrain, args.seed, args.device, args.pretrain_data, args.finetune_data,
                                   args.encoder)
    write_table(args.predictions, predictions if args.save_predictions else pd.DataFrame(columns=predictions.columns))
    write_table(args.scores, scores)
    print(f"{args.scores}: {len(scores)} fits, mean accuracy {scores['accuracy'].mean():.3f}", file=sys.stderr)


def _summarize(args) -> None:
    from .summary import write_summary

    paths = write_summary(json.loads(args.section), args.scores, args.spectra, args.out_dir)
    for path in paths:
        print(path, file=sys.stderr)


def _figures(args) -> None:
    from .figures import make_figures

    section = json.loads(args.section)
    for name, reason in section["figures"]["skipped"].items():
        print(f"figure {name} skipped: {reason}", file=sys.stderr)
    for path in make_figures(section, args.results_dir, args.out_dir):
        print(path, file=sys.stderr)


def _job_arguments(p) -> None:
    p.add_argument("--experiment", required=True, help="resolved experiment as JSON")
    p.add_argument("--method", required=True)
    p.add_argument("--architecture", required=True, help="e.g. d4w256")
    p.add_argument("--pretrain", required=True, help="pretraining-set label, e.g. q1 (none for the baseline)")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--pretrain-data", required=True, type=Path, help="store of the pretraining dataset")
    p.add_argument("--finetune-data", required=True, type=Path, help="store of the downstream dataset")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", default=1, type=int)


def add_commands(commands) -> None:
    p = commands.add_parser("ssl-pretrain", help="pretrain one encoder (experiment, method, architecture, size, seed)")
    _job_arguments(p)
    p.add_argument("--encoder", required=True, type=Path, help="output: encoder state dict (torch.save)")
    p.add_argument("--history", required=True, type=Path, help="output: loss per epoch (TSV)")
    p.add_argument("--spectrum", required=True, type=Path, help="output: singular values of validation embeddings")
    p.set_defaults(func=_pretrain)

    p = commands.add_parser("ssl-finetune", help="fine-tune over every proportion and repeat for one encoder")
    _job_arguments(p)
    p.add_argument("--mode", required=True, choices=["frozen", "unfrozen"])
    p.add_argument("--encoder", type=Path, help="pretrained encoder; omitted for the baseline")
    p.add_argument("--save-predictions", action="store_true", help="write every test prediction (else a header only)")
    p.add_argument("--scores", required=True, type=Path)
    p.add_argument("--predictions", required=True, type=Path)
    p.set_defaults(func=_finetune)

    p = commands.add_parser("ssl-summarize", help="collect scores and spectra; compute AUPC gains")
    p.add_argument("--section", required=True, help="resolved ssl section as JSON")
    p.add_argument("--scores", required=True, nargs="+", type=Path)
    p.add_argument("--spectra", required=True, nargs="+", type=Path)
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=_summarize)

    p = commands.add_parser("ssl-figures", help="draw the ssl figures the config supports")
    p.add_argument("--section", required=True, help="resolved ssl section as JSON")
    p.add_argument("--results-dir", required=True, type=Path, help="folder of summary.tsv, gains.tsv, spectra.tsv")
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=_figures)
