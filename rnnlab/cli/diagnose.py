"""`rnnlab diagnose DIR`: the gates and the gradient flow through time of a trained run."""

from __future__ import annotations

import json

from rnnlab.cli.args import command_line


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("diagnose", help="record the gates and gradient flow of a trained run (report.html)")
    parser.add_argument("run_dir", metavar="DIR", help="a run directory written by `rnnlab train`")
    parser.add_argument("--out", default=None, help="directory to write (default: DIR/diagnose, replaced if present)")
    parser.add_argument("--rows", type=int, default=64, help="held-out sequences to run (default: 64)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from rnnlab.studies.diagnose import diagnose, summary_text

    summary = diagnose(args.run_dir, args.out, rows=args.rows, command=command_line())
    print(json.dumps(summary, indent=2) if args.json else summary_text(summary))
    return 0
