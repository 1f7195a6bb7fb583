"""The adding problem as an rnnlab task: `rnnlab train adding --length T`.

The sequences, the model and the shared run are in `rnnlab.tasks.memory` and
`rnnlab.tasks.memory_run`; this module says what is particular to the adding problem: a
many-to-one model trained with the mean squared error, and the baseline that predicts the mean,
E[y] = 1, for every sequence (MSE 1/6 in expectation, measured on the test sequences).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

from rnnlab.tasks.memory import ADDING_FEATURES, adding_metrics, adding_problem
from rnnlab.tasks.memory_run import (MemoryConfig, Problem, evaluate_memory, evaluate_text, predict_memory,
                                     probe_memory, train_memory)
from rnnlab.tasks.registry import Headline, Task

TASK = "adding"


@dataclass(frozen=True)
class AddingConfig(MemoryConfig):
    """Everything an adding-problem run depends on; saved in the run's config.json."""

    out: str = field(default="runs/adding", metadata={"help": "run directory to write"})


def _explain(config: AddingConfig) -> str:
    return (f"Each sequence has {config.length} steps of (value, marker): values uniform in [0, 1), a marker on "
            f"one step of the first half and one of the second; the target is the sum of the two marked values. "
            "The mean baseline predicts E[y] = 1 for every sequence (MSE 1/6 ≈ 0.167 in expectation); "
            "within_0.04 is the share of sequences answered within 0.04 of the target.")


def _describe(config: AddingConfig, inputs: torch.Tensor, targets: torch.Tensor, outputs: torch.Tensor) -> list[str]:
    lines = []
    for index, (xs, target, output) in enumerate(zip(inputs, targets, outputs)):
        first, second = xs[:, 1].nonzero().flatten().tolist()
        lines.append(f"sequence {index}: {xs[first, 0]:.3f} (step {first}) + {xs[second, 0]:.3f} (step {second}) "
                     f"= {float(target):.3f}; predicted {float(output):.3f}")
    return lines


PROBLEM = Problem(
    task=TASK, config=AddingConfig, title="the adding problem", explain=_explain, baseline="mean",
    generate=lambda config, count, generator: adding_problem(count, config.length, generator=generator),
    shape=lambda config: (ADDING_FEATURES, 1, False),
    loss=torch.nn.functional.mse_loss,
    metrics=lambda config, outputs, targets: adding_metrics(outputs, targets),
    baseline_metrics=lambda config, targets: adding_metrics(torch.ones_like(targets), targets),
    describe=_describe, columns=("mse", "mae", "within_0.04"))

train_adding = functools.partial(train_memory, PROBLEM)
probe = functools.partial(probe_memory, PROBLEM)

SPEC = Task(name=TASK, help="the adding problem: sum the two marked values of a sequence of length T (long memory)",
            config=AddingConfig, train=train_adding, evaluate=functools.partial(evaluate_memory, PROBLEM),
            evaluate_text=functools.partial(evaluate_text, PROBLEM), predict=functools.partial(predict_memory, PROBLEM),
            headline=Headline("mse", False, "mean"), probe=probe)
