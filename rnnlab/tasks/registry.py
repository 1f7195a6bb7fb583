"""The tasks a run directory can hold, and where each one's code lives.

Each task module defines `SPEC`, a `Task`: its config class (whose fields become the options of
`rnnlab train NAME`) and the functions the commands call. `evaluate`, `predict` and the other
commands read a run's `config.json`, whose `"task"` names the entry here. Modules are imported when
first asked for, so one task's imports never slow down another's command.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """What the command line needs of a task.

    Attributes:
        name: the task's name on the command line and in config.json.
        help: one line for `rnnlab train --help`.
        config: a frozen dataclass subclassing `rnnlab.tasks.run.RunConfig`.
        train: `train(config, *, resume, quiet, command) -> dict` with at least "metrics" (the
            model's and the baselines' test metrics), "text" (a printable summary) and "run_dir".
        evaluate: `evaluate(run_dir, data) -> dict`, JSON-ready, with "metrics" as in `train`.
        evaluate_text: `evaluate_text(result) -> str`, the printable form of `evaluate`'s result.
        predict: `predict(run_dir, *, data, text) -> list[str]`, the lines `rnnlab predict` prints.
        headline: the metric that sums a run up, for comparisons and benchmarks.
        probe: `probe(run_dir, *, rows=64) -> rnnlab.tasks.run.Probe`: the trained model and one real
            batch of its held-out data, for `rnnlab diagnose` and `rnnlab compare`.
    """

    name: str
    help: str
    config: type
    train: Callable
    evaluate: Callable
    evaluate_text: Callable
    predict: Callable
    headline: Headline
    probe: Callable


@dataclass(frozen=True)
class Headline:
    """A task's headline metric: its key in the metrics, which way is better, and the baseline it must beat.

    Attributes:
        metric: the key in `metrics["model"]` (and in the baseline's metrics), e.g. "accuracy".
        higher_is_better: True for accuracy-like metrics, False for errors and losses.
        baseline: the key in `metrics` of the baseline it is compared with, e.g. "majority".
    """

    metric: str
    higher_is_better: bool
    baseline: str

    def better(self, ours: float, theirs: float) -> bool:
        """True if `ours` is strictly better than `theirs`."""
        return ours > theirs if self.higher_is_better else ours < theirs


_MODULES = {
    "forecast": "rnnlab.tasks.forecast_run",
    "classify-text": "rnnlab.tasks.classify_run",
    "generate": "rnnlab.tasks.generate_run",
    "tag": "rnnlab.tasks.tag_run",
    "translate": "rnnlab.tasks.translate_run",
    "classify-series": "rnnlab.tasks.classify_series_run",
    "anomaly": "rnnlab.tasks.anomaly_run",
    "adding": "rnnlab.tasks.adding_run",
    "copy": "rnnlab.tasks.copy_run",
}


def task_names() -> tuple[str, ...]:
    """The registered tasks, in registry order."""
    return tuple(_MODULES)


def get_task(name: str) -> Task:
    """The `Task` registered as `name`.

    Raises:
        ValueError: if no task has that name.
    """
    if name not in task_names():
        raise ValueError(f"task must be one of {list(task_names())}; received {name!r}")
    return importlib.import_module(_MODULES[name]).SPEC
