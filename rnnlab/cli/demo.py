"""`rnnlab demo`: the study of RNN vs LSTM vs GRU on bundled data, with the course claims judged (report.html)."""

from __future__ import annotations

import os
import shlex
import sys


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="RNN vs LSTM vs GRU on bundled data, with the course claims measured",
                                   description="Trains RNN, LSTM and GRU on the adding problem at lengths up to 1000, "
                                   "on the bundled airline series and on Rotten Tomatoes reviews, then judges the "
                                   "course claims about them on the numbers. About 6 minutes on 2 CPU cores "
                                   "(--quick: about 2).")
    parser.add_argument("--out", default="runs/demo", help="directory for the runs and report.html (default: runs/demo)")
    parser.add_argument("--quick", action="store_true", help="fewer lengths, seeds and epochs: about 2 minutes")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="adding-problem runs trained at once, one core each (default: up to 2)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from rnnlab.studies.demo import run_study  # the training stack, only when used

    if args.jobs < 1:
        raise ValueError(f"jobs must be a positive integer; received {args.jobs}")
    command = "rnnlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_study(args.out, quick=args.quick, jobs=args.jobs, command=command)
    print(result["text_summary"])
    print(f"report: {args.out}/report.html")
    return 0
