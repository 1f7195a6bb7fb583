"""`rnnlab backtest`: rolling-origin evaluation of a panel forecaster on a long CSV file.

Trains the forecaster the options describe at each of --windows forecast origins (or once, with
--no-refit) and writes backtest.csv (every window's forecasts beside the actual values) and
backtest.json (each window's metrics and their means) into --out, built in --out.partial and
renamed when complete.
"""

from __future__ import annotations

import json

from rnnlab.cli.args import add_dataclass_arguments, values_from_arguments
from rnnlab.report.atomic import write_json, write_text
from rnnlab.tasks.forecast.panel_estimator import PanelForecaster
from rnnlab.tasks.forecast.panel_task import PanelConfig
from rnnlab.tasks.rundir import RunLock, Stage


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("backtest", help="rolling-origin evaluation of a panel forecast",
                                   description="Forecast each series of --data from several origins, each scored on "
                                               "the values that followed it; writes backtest.csv and backtest.json "
                                               "to --out.")
    add_dataclass_arguments(parser, PanelConfig, skip=("holdout",))
    parser.add_argument("--windows", type=int, default=3, help="forecast origins (default: 3)")
    parser.add_argument("--step", type=int, default=None, help="values between origins (default: the horizon)")
    parser.add_argument("--refit", action="store_true", default=True,
                        help="train a forecaster for each window (the default)")
    parser.add_argument("--no-refit", dest="refit", action="store_false",
                        help="train one forecaster, for the first window, and let it read the later ones")
    parser.add_argument("--out", default="runs/backtest", help="directory to write (default: runs/backtest)")
    parser.add_argument("--quiet", action="store_true", help="print the mean metrics as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    values = values_from_arguments(PanelConfig, args)
    if values["data"] is None:
        raise ValueError("a backtest needs --data: a long CSV file (unique_id, ds, y columns by default)")
    settings = {k: v for k, v in values.items() if k not in PanelConfig.DATA}
    options = {k: values[k] for k in PanelConfig.DATA if k != "data"}
    stage = Stage(args.out)  # the destination is checked before anything is read
    with RunLock(args.out):
        result = PanelForecaster(**settings).backtest(values["data"], windows=args.windows, step=args.step,
                                                      refit=args.refit, **options)
        folder = stage.open()
        write_text(folder / "backtest.csv", result.csv_text())
        write_json(folder / "backtest.json", result.to_dict())
        stage.finish()
    if args.quiet:
        print(json.dumps(result.metrics, indent=2))
    else:
        names = list(next(iter(result.metrics.values())))
        print(f"{len(result.windows)} windows; mean over windows:")
        print(f"{'':16}" + "".join(f"{n:>12}" for n in names))
        for who, metrics in result.metrics.items():
            print(f"{who:16}" + "".join(f"{'n/a' if metrics[n] is None else f'{metrics[n]:.4g}':>12}" for n in names))
    return 0
