"""`rnnlab` entry point: builds the parser from the subcommand modules and reports errors in one line.

Bad input, whether the parser finds it (an unknown option, an invalid choice) or the library does
(a missing file, a malformed line, a setting out of range), is one line on stderr naming the
argument and the value, and exit status 2; nothing is written. A reader that goes away (`rnnlab
datasets | head`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import os
import sys

from rnnlab import __version__
from rnnlab.cli import backtest, compare, datasets, demo, detect, diagnose, evaluate, export, generate, predict, train, translate

COMMANDS = (train, evaluate, predict, backtest, generate, translate, detect, compare, diagnose, export, datasets, demo)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse's own print the whole usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rnnlab", description="Recurrent networks from their equations: train, evaluate and use "
                    "them on your CSV and text files or on bundled data.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit status. Bad input is one line on stderr and status 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:  # bad input (DataError is a ValueError); a bug still raises
        print(f"rnnlab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (head, a closed pipe) has gone: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 0


if __name__ == "__main__":
    sys.exit(main())
