"""`rnnlab train TASK`: train a model on a task and write a run directory.

One sub-command per registered task; its options are generated from the task's config class.
"""

from __future__ import annotations

import json
import shlex
import sys

from rnnlab.cli.args import add_dataclass_arguments, dataclass_from_arguments
from rnnlab.tasks.registry import get_task, task_names
from rnnlab.train import distributed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a recurrent model on a sequence task")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in task_names():
        task = get_task(name)
        sub = tasks.add_parser(name, help=task.help,
                               description=f"{task.help[0].upper()}{task.help[1:]}. Writes config, weights, "
                                           "vocabularies where there are any, metrics, plots and report.html to --out.")
        add_dataclass_arguments(sub, task.config)
        sub.add_argument("--resume", action="store_true", help="continue the interrupted run at --out")
        sub.add_argument("--quiet", action="store_true", help="no progress bar; print the metrics as JSON")
        sub.set_defaults(run=run)


def run(args) -> int:
    task = get_task(args.task)
    config = dataclass_from_arguments(task.config, args)
    command = "rnnlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = task.train(config, resume=args.resume, quiet=args.quiet, command=command)
    if distributed.is_main():  # under torchrun, one process reports
        print(json.dumps(summary["metrics"], indent=2) if args.quiet else summary["text"])
    return 0
