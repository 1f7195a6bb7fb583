"""`rnnlab` entry point: builds the parser from the subcommand modules and reports errors in one line."""

from __future__ import annotations

import argparse
import sys

from rnnlab.cli import compare, datasets, demo, detect, diagnose, evaluate, export, generate, predict, train, translate

COMMANDS = (train, evaluate, predict, generate, translate, detect, compare, diagnose, export, datasets, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnlab", description="Recurrent networks from their equations: train, "
                                     "evaluate and use them on your CSV and text files or on bundled data.")
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


if __name__ == "__main__":
    sys.exit(main())
