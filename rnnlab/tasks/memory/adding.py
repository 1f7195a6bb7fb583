"""The adding problem as a task: `rnnlab train adding --length T`, or `rnnlab.AddingProblem(length=T).fit()`.

A many-to-one model trained with the mean squared error, against the baseline that predicts the
mean, E[y] = 1, for every sequence (MSE 1/6 in expectation, measured on the test sequences). The
sequences are in `rnnlab.tasks.memory.problems`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnlab.tasks.api import Headline
from rnnlab.tasks.memory.problems import ADDING_FEATURES, adding_metrics, adding_problem
from rnnlab.tasks.memory.task import MemoryConfig, MemoryEstimator, MemoryTask


@dataclass(frozen=True)
class AddingConfig(MemoryConfig):
    """Everything an adding-problem run depends on; saved in the run's config.json."""


class AddingTask(MemoryTask):
    name = "adding"
    help = "the adding problem: sum the two marked values of a sequence of length T (long memory)"
    config_class = AddingConfig
    headline = Headline("mse", False, "mean")
    title, baseline, columns = "the adding problem", "mean", ("mse", "mae", "within_0.04")

    def generate(self, count, generator):
        return adding_problem(count, self.config.length, generator=generator)

    def shape(self) -> tuple[int, int, bool]:
        return ADDING_FEATURES, 1, False

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(outputs, targets)

    def metrics(self, outputs, targets) -> dict:
        return adding_metrics(outputs, targets)

    def baseline_metrics(self, targets) -> dict:
        return adding_metrics(torch.ones_like(targets), targets)

    def explain(self) -> str:
        return (f"Each sequence has {self.config.length} steps of (value, marker): values uniform in [0, 1), a marker "
                "on one step of the first half and one of the second; the target is the sum of the two marked values. "
                "The mean baseline predicts E[y] = 1 for every sequence (MSE 1/6 ≈ 0.167 in expectation); "
                "within_0.04 is the share of sequences answered within 0.04 of the target.")

    def describe_sequences(self, inputs, targets, outputs) -> list[str]:
        lines = []
        for index, (xs, target, output) in enumerate(zip(inputs, targets, outputs)):
            first, second = xs[:, 1].nonzero().flatten().tolist()
            lines.append(f"sequence {index}: {xs[first, 0]:.3f} (step {first}) + {xs[second, 0]:.3f} (step {second}) "
                         f"= {float(target):.3f}; predicted {float(output):.3f}")
        return lines


class AddingProblem(MemoryEstimator):
    """A recurrent model trained on the adding problem at sequence length `length` (long memory).

    Settings are the options of `rnnlab train adding`. The sequences are generated from `seed`,
    so `fit()` takes no data; `evaluate()` scores the test sequences against predicting the mean.
    """

    task = AddingTask

    def predict(self, inputs) -> np.ndarray:
        """The model's sums for sequences `inputs` of shape (N, T, 2) (value, marker per step): (N,)."""
        return self._answers(inputs, ADDING_FEATURES).flatten().numpy().astype(np.float64)
