"""`rnnlab demo`: RNN vs LSTM vs GRU on the bundled airline series, with a table and an HTML report."""

from __future__ import annotations

import shlex
import sys

from rnnlab.tasks.compare import compare, table_text
from rnnlab.tasks.forecast_run import ForecastConfig


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="train RNN, LSTM and GRU on bundled data and compare them")
    parser.add_argument("--out", default="runs/demo", help="directory for the runs and report.html (default: runs/demo)")
    parser.add_argument("--epochs", type=int, default=150, help="epochs per model, at most (default: 150)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.set_defaults(run=run)


def run(args) -> int:
    base = ForecastConfig(data="airline", epochs=args.epochs, seed=args.seed, hidden_size=32, out=args.out)
    print(f"Training RNN, LSTM and GRU on the bundled airline series ({args.epochs} epochs at most each)...")
    rows = compare(base, args.out, command="rnnlab " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    print(table_text(rows))
    print(f"report: {args.out}/report.html")
    return 0
