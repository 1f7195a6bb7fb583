"""`rnnlab predict DIR --data FILE`: forecast the next horizon after the end of a file."""

from __future__ import annotations

from rnnlab.tasks.forecast_run import predict_run


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="forecast the steps after the end of a series")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train`")
    parser.add_argument("--data", required=True, help="CSV file (or bundled name) whose end to forecast from")
    parser.set_defaults(run=run)


def run(args) -> int:
    for step, value in enumerate(predict_run(args.run_dir, args.data), start=1):
        print(f"t+{step}\t{value:.6g}")
    return 0
