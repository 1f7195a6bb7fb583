"""`rnnlab predict DIR`: use a trained run on new input (a forecast, a label, tags, ...)."""

from __future__ import annotations

from rnnlab.tasks import load


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="use a trained run on new data or text",
                                   description="Forecast the steps after the end of --data (forecast runs), or label, "
                                               "tag, continue or translate --text or each entry of --data.")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train`")
    parser.add_argument("--data", default=None, help="a file (or bundled name) to predict from")
    parser.add_argument("--text", default=None, help="one text to predict from")
    parser.add_argument("--future", default=None, help="forecast-panel runs: a long CSV file of the future "
                                                       "covariates for the horizon after each series' end")
    parser.set_defaults(run=run)


def run(args) -> int:
    estimator = load(args.run_dir)
    if args.future is not None and estimator.task.name != "forecast-panel":
        raise ValueError(f"--future gives a panel forecast's future covariates; {args.run_dir!r} holds a "
                         f"{estimator.task.name} run; received --future {args.future!r}")
    extra = {} if args.future is None else {"future": args.future}
    for line in estimator.predict_lines(data=args.data, text=args.text, **extra):
        print(line)
    return 0
