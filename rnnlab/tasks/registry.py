"""The tasks rnnlab trains: one line each, its command-line name and where its estimator lives.

A task is one package under `rnnlab/tasks/` holding its model, its hooks (`rnnlab.tasks.api.Task`)
and its estimator (`rnnlab.tasks.estimator.Estimator`); adding one is that package and a line
here. Packages are imported when first asked for, so one task's imports never slow down another's
command. `rnnlab train`, `evaluate`, `predict`, `compare` and the rest find tasks here, and a run
directory's config.json names the entry (`"task"`) that reads it back.
"""

from __future__ import annotations

import importlib

_ESTIMATORS = {
    "forecast": "rnnlab.tasks.forecast:Forecaster",
    "forecast-panel": "rnnlab.tasks.forecast:PanelForecaster",
    "classify-text": "rnnlab.tasks.classify_text:TextClassifier",
    "generate": "rnnlab.tasks.generate:TextGenerator",
    "tag": "rnnlab.tasks.tag:Tagger",
    "translate": "rnnlab.tasks.translate:Translator",
    "classify-series": "rnnlab.tasks.classify_series:SeriesClassifier",
    "anomaly": "rnnlab.tasks.anomaly:AnomalyDetector",
    "adding": "rnnlab.tasks.memory:AddingProblem",
    "copy": "rnnlab.tasks.memory:CopyProblem",
}


def task_names() -> tuple[str, ...]:
    """The registered tasks, in registry order."""
    return tuple(_ESTIMATORS)


def estimator_names() -> dict[str, str]:
    """{estimator class name: task name}, e.g. {"Forecaster": "forecast", ...}."""
    return {where.rpartition(":")[2]: name for name, where in _ESTIMATORS.items()}


def get_estimator(name: str):
    """The estimator class of the task registered as `name` (a `rnnlab.tasks.estimator.Estimator` subclass).

    Raises:
        ValueError: if no task has that name.
    """
    if name not in _ESTIMATORS:
        raise ValueError(f"task must be one of {list(_ESTIMATORS)}; received {name!r}")
    module, _, attribute = _ESTIMATORS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def get_task(name: str):
    """The `Task` class (the hooks) of the task registered as `name`."""
    return get_estimator(name).task
