"""The `exprbench toy-*` commands the rules call."""

import pandas as pd


def _fit(args):
    from ..atomic import write_table

    if args.value == 13:
        raise ValueError("13 is unlucky")  # shows the failure row in the contract test
    # One row per result: key columns, metric columns and a status.
    write_table(args.out, pd.DataFrame([{"value": args.value, "square": args.value**2, "status": "ok"}]))


def _summarize(args):
    from ..atomic import write_table
    from ..results import collect

    write_table(args.out, collect(args.tables, ["value"]))


def add_commands(commands):
    p = commands.add_parser("toy-fit", help="toy: square one number")
    p.add_argument("--value", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_fit)
    p = commands.add_parser("toy-summarize", help="toy: collect the job tables into one")
    p.add_argument("--out", required=True)
    p.add_argument("tables", nargs="+")
    p.set_defaults(func=_summarize)
