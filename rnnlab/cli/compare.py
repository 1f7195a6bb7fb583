"""`rnnlab compare TASK`: train RNN, LSTM and GRU on one task with the same budget and seeds, and compare them."""

from __future__ import annotations

import dataclasses

from rnnlab.cli.args import add_dataclass_arguments, command_line, values_from_arguments
from rnnlab.tasks.registry import get_estimator, task_names

ARCHITECTURES = ["rnn", "lstm", "gru"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="train RNN, LSTM and GRU on a task and compare them (report.html)")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in task_names():
        task = get_estimator(name).task
        sub = tasks.add_parser(name, help=task.help, description=(
            f"Train each architecture on the {name} task with the same data, budget and seeds, then compare "
            "accuracy, parameters, training and inference time, memory, gradient flow and gates. Task options "
            "are those of `rnnlab train " + name + "`."))
        add_dataclass_arguments(sub, task.config_class, skip=("model", "seed"))
        sub.add_argument("--models", nargs="+", choices=ARCHITECTURES, default=ARCHITECTURES,
                         help="architectures to train (default: rnn lstm gru)")
        sub.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                         help="one run per seed; the table shows mean ± std (default: 0 1 2)")
        sub.add_argument("--vary", metavar="SETTING=V1,V2", default=None,
                         help="also cross one setting with the models, e.g. hidden_size=32,64")
        sub.add_argument("--out", default=f"runs/compare-{name}", help=f"directory to write (default: runs/compare-{name})")
        sub.set_defaults(run=run)


def parse_vary(text: str | None, config_type: type) -> tuple[str, list] | None:
    """("hidden_size", [32, 64]) from "hidden_size=32,64", each value of the setting's own type."""
    if text is None:
        return None
    name, _, values = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(config_type) if f.name not in config_type.DATA}
    if name not in fields or not values:
        raise ValueError(f"vary must be SETTING=V1,V2 with a setting of this task ({', '.join(fields)}); received {text!r}")
    default = fields[name].default
    kind = fields[name].metadata.get("type", type(default))
    try:
        if kind is bool:
            parsed = [{"true": True, "false": False}[v.strip().lower()] for v in values.split(",")]
        else:
            parsed = [kind(v.strip()) for v in values.split(",")]
    except (ValueError, KeyError):
        raise ValueError(f"vary values must be of {name}'s type {kind.__name__}; received {values!r}") from None
    return name, parsed


def run(args) -> int:
    from rnnlab.studies.compare import compare, table_text  # the training stack, only when used

    estimator_class = get_estimator(args.task)
    config_class = estimator_class.task.config_class
    values = values_from_arguments(config_class, args)
    estimator = estimator_class(**{k: v for k, v in values.items() if k not in config_class.DATA})
    options = {k: values[k] for k in config_class.DATA if k != "data"}
    result = compare(estimator, values.get("data"), args.out, data_options=options, models=args.models,
                     seeds=args.seeds, vary=parse_vary(args.vary, config_class), command=command_line())
    print(table_text(result))
    print(f"report: {args.out}/report.html")
    return 0
