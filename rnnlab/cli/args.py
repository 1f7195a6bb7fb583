"""Command-line options generated from a frozen config dataclass, so the options and the config never drift.

Each field becomes `--field-name`. A field's metadata may give `help`, `type` (for fields whose
default is None) and `choices` (listed in `--help` as `{a,b,c}`); booleans become `--flag/--no-flag`.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from typing import Any


def add_dataclass_arguments(parser: argparse.ArgumentParser, config_type: type, *, skip: tuple[str, ...] = ()) -> None:
    """Adds one option per field of `config_type` (except those in `skip`)."""
    for field in dataclasses.fields(config_type):
        if field.name in skip:
            continue
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        options: dict[str, Any] = {"help": field.metadata.get("help", ""), "default": default}
        if isinstance(default, bool):
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = field.metadata.get("type", type(default))
            if "choices" in field.metadata:
                options["choices"] = field.metadata["choices"]  # argparse shows them: --model {rnn,lstm,gru}
            else:
                options["metavar"] = field.metadata.get("metavar", field.name.upper())
        if default is not None and not isinstance(default, bool):
            options["help"] += f" (default: {default})"
        parser.add_argument(flag, dest=field.name, **options)


def values_from_arguments(config_type: type, args: argparse.Namespace) -> dict[str, Any]:
    """{field: parsed value} for every field of `config_type` that `args` holds."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_type) if hasattr(args, f.name)}


def command_line() -> str:
    """This process's command line, as `rnnlab ...` (for the report's "Reproduce" section)."""
    return "rnnlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
