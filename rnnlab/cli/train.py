"""`rnnlab train TASK`: train a task's estimator and write its run directory.

One sub-command per registered task; its options are the fields of the task's config class, the
estimator's settings and `fit` data arguments alike.
"""

from __future__ import annotations

import json

from rnnlab.cli.args import add_dataclass_arguments, command_line, values_from_arguments
from rnnlab.tasks.registry import get_estimator, task_names
from rnnlab.tasks.rundir import RunLock, Stage
from rnnlab.train import distributed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a recurrent model on a sequence task")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in task_names():
        task = get_estimator(name).task
        sub = tasks.add_parser(name, help=task.help,
                               description=f"{task.help[0].upper()}{task.help[1:]}. Writes config, weights, "
                                           "vocabularies where there are any, metrics, plots and report.html to --out.")
        add_dataclass_arguments(sub, task.config_class)
        sub.add_argument("--out", default=f"runs/{name}", help=f"run directory to write (default: runs/{name})")
        sub.add_argument("--resume", action="store_true", help="continue the interrupted run at --out")
        sub.add_argument("--quiet", action="store_true", help="no progress bar; print the metrics as JSON")
        sub.add_argument("--tensorboard", metavar="DIR", default=None,
                         help="also log the losses and learning rate to TensorBoard in DIR (needs tensorboard)")
        sub.set_defaults(run=run)


def run(args) -> int:
    estimator_class = get_estimator(args.task)
    config_class = estimator_class.task.config_class
    values = values_from_arguments(config_class, args)
    settings = {k: v for k, v in values.items() if k not in config_class.DATA}
    estimator = estimator_class(**settings, verbose=not args.quiet)
    stage = Stage(args.out, resume=args.resume)  # the destination is checked before anything is read
    callbacks = []
    if args.tensorboard is not None:
        from rnnlab.train.callbacks import TensorBoard

        callbacks.append(TensorBoard(args.tensorboard))
    data = [values["data"]] if "data" in config_class.DATA else []
    options = {k: values[k] for k in config_class.DATA if k != "data"}
    with RunLock(args.out):  # a second run on the same --out stops here and touches nothing
        estimator.fit(*data, **options, callbacks=callbacks, checkpoint_dir=stage.path, resume=args.resume)
        if distributed.is_main():  # under torchrun, one process writes and reports
            estimator.save(args.out, command=command_line())
    if distributed.is_main():
        print(json.dumps(estimator.test_metrics_, indent=2) if args.quiet else estimator.summary())
    return 0
