"""`rnnlab evaluate DIR`: the test metrics of a run, and of its task's baselines on the same data."""

from __future__ import annotations

import json

from rnnlab.tasks import load


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="metrics of a trained run on its test split, beside the baselines")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train`")
    parser.add_argument("--data", default=None, help="evaluate on this file (or bundled name) instead of the run's own data")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    estimator = load(args.run_dir)
    result = estimator.evaluate(args.data)
    print(json.dumps(result, indent=2) if args.json else estimator.evaluate_text(result))
    return 0
