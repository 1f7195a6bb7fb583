"""`rnnlab detect DIR --data FILE`: score a CSV stream point by point with a trained anomaly run.

Prints a `time,<channels>,score,flag` header, then one line per point as soon as it is read
(each line flushed), so the output can be piped on. With `--follow` the file is watched for
appended lines, as `tail -f` does, until Ctrl-C or `--max-points`.
"""

from __future__ import annotations

from rnnlab.tasks.registry import get_estimator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "detect", help="score a CSV stream point by point with a trained anomaly run",
        description="Score each point of --data with an anomaly run's detector, one point at a time with its state "
                    "carried (the same scores as batch mode). Prints time,<channels>,score,flag lines as points "
                    "arrive; --follow keeps reading lines appended to the file, as tail -f does.")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train anomaly`")
    parser.add_argument("--data", required=True, help="the CSV file to score (or a bundled anomaly series' name)")
    parser.add_argument("--follow", action="store_true", help="keep reading lines appended to the file")
    parser.add_argument("--interval", type=float, default=0.5, metavar="SECONDS",
                        help="with --follow, how often to look for new lines (default: 0.5)")
    parser.add_argument("--max-points", type=int, default=None, metavar="N", help="stop after N points")
    parser.add_argument("--fill", default=None, choices=["ffill", "zero"],
                        help="fill a missing value with the channel's previous value or 0 (default: an error)")
    parser.set_defaults(run=run)


def run(args) -> int:
    detector = get_estimator("anomaly").load(args.run_dir)
    try:
        for line in detector.detect_lines(args.data, follow=args.follow, interval=args.interval,
                                          max_points=args.max_points, fill=args.fill):
            print(line, flush=True)
    except KeyboardInterrupt:  # the way a --follow session ends
        return 130
    return 0
