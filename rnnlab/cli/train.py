"""`rnnlab train TASK`: train a model on a task and write a run directory."""

from __future__ import annotations

import json

from rnnlab.cli.args import add_dataclass_arguments, dataclass_from_arguments
from rnnlab.tasks.forecast_run import ForecastConfig, train_forecast
from rnnlab.train import distributed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a recurrent model on a sequence task")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    forecast = tasks.add_parser("forecast", help="forecast a column of a CSV file (or a bundled series)",
                                description="Train a forecaster; writes config, weights, metrics, predictions, "
                                            "plots and report.html to --out.")
    add_dataclass_arguments(forecast, ForecastConfig)
    forecast.add_argument("--resume", action="store_true", help="continue the interrupted run at --out")
    forecast.add_argument("--quiet", action="store_true", help="no progress bar")
    forecast.set_defaults(run=run_forecast)


def run_forecast(args) -> int:
    config = dataclass_from_arguments(ForecastConfig, args)
    summary = train_forecast(config, resume=args.resume, quiet=args.quiet)
    if distributed.is_main():  # under torchrun, one process reports
        print(json.dumps(summary["metrics"], indent=2) if args.quiet else summary["text"])
    return 0
