"""`rnnlab evaluate DIR`: the test metrics of a run, and of the baselines on the same windows."""

from __future__ import annotations

import json

from rnnlab.tasks.forecast_run import evaluate_run


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="metrics of a trained run on its test span")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train`")
    parser.add_argument("--data", default=None, help="evaluate on this CSV file instead of the run's own data")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    result = evaluate_run(args.run_dir, args.data)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['data']}: target {result['target']}, horizon {result['horizon']}, season {result['season']}, "
          f"{result['test_windows']} test windows")
    names = list(next(iter(result["metrics"].values())))
    print(f"{'':16}" + "".join(f"{name:>10}" for name in names))
    for model, values in result["metrics"].items():
        print(f"{model:16}" + "".join(f"{values[name]:>10.4g}" for name in names))
    return 0
