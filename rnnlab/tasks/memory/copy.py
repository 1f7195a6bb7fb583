"""The copy task as a task: `rnnlab train copy --length T`, or `rnnlab.CopyProblem(length=T).fit()`.

A many-to-many model trained with the cross-entropy of every step, scored on the copied symbols
against the memoryless strategy (blanks, then uniform guesses; Arjovsky et al. 2016). The
sequences are in `rnnlab.tasks.memory.problems`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rnnlab.tasks.api import Headline
from rnnlab.tasks.memory.problems import copy_metrics, copy_task, memoryless_copy_metrics
from rnnlab.tasks.memory.task import MemoryConfig, MemoryEstimator, MemoryTask


@dataclass(frozen=True)
class CopyConfig(MemoryConfig):
    """Everything a copy-task run depends on; saved in the run's config.json."""

    POSITIVE = MemoryConfig.POSITIVE + ("symbols", "copy_length")

    # ten symbols of three bits each must fit in the state: 32 units learn slowly, 128 within the default budget
    hidden_size: int = field(default=128, metadata={"help": "hidden units per layer"})
    epochs: int = field(default=30, metadata={"help": "training epochs, each on train-sequences fresh sequences"})
    length: int = field(default=20, metadata={"help": "T, the delay: steps from the last symbol to the delimiter"})
    symbols: int = field(default=8, metadata={"help": "S, the alphabet's size"})
    copy_length: int = field(default=10, metadata={"help": "K, symbols to remember and copy"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.symbols < 2:
            raise ValueError(f"symbols must be at least 2 (one symbol is nothing to remember); received {self.symbols}")


class CopyTask(MemoryTask):
    name = "copy"
    help = "the copy task: repeat K symbols after a delay of T steps (long memory)"
    config_class = CopyConfig
    headline = Headline("accuracy", True, "memoryless")
    title, baseline, columns = "the copy task", "memoryless", ("accuracy", "sequence_accuracy", "cross_entropy")

    def generate(self, count, generator):
        config = self.config
        return copy_task(count, config.length, symbols=config.symbols, copy_length=config.copy_length,
                         generator=generator)

    def shape(self) -> tuple[int, int, bool]:
        return self.config.symbols + 2, self.config.symbols + 1, True

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())  # every step counts

    def metrics(self, outputs, targets) -> dict:
        return copy_metrics(outputs, targets, self.config.copy_length)

    def baseline_metrics(self, targets) -> dict:
        return memoryless_copy_metrics(self.config.length, self.config.symbols, self.config.copy_length)

    def explain(self) -> str:
        config = self.config
        return (f"Each sequence shows {config.copy_length} symbols from an alphabet of {config.symbols}, then "
                f"{config.length - 1} blanks, a delimiter and {config.copy_length} more blanks; the model must answer "
                "blank until the delimiter has passed, then write the symbols back. The memoryless strategy answers "
                "blank, then guesses uniformly: cross-entropy K·log(S)/(T + 2K) per step, accuracy 1/S per copied "
                "symbol. Accuracy is over the copied symbols; sequence_accuracy counts sequences copied without a "
                "mistake.")

    def describe_sequences(self, inputs, targets, outputs) -> list[str]:
        lines, k = [], self.config.copy_length
        for index, (target, output) in enumerate(zip(targets, outputs)):
            wanted, copied = target[-k:], output[-k:].argmax(dim=-1)
            lines.append(f"sequence {index}: shown {' '.join(map(str, wanted.tolist()))}; copied "
                         f"{' '.join(map(str, copied.tolist()))} ({int((copied == wanted).sum())}/{k} right)")
        return lines


class CopyProblem(MemoryEstimator):
    """A recurrent model trained on the copy task: K symbols repeated after a delay of T steps.

    Settings are the options of `rnnlab train copy`. The sequences are generated from `seed`, so
    `fit()` takes no data; `evaluate()` scores the copied symbols against the memoryless strategy.
    """

    task = CopyTask

    def predict(self, inputs) -> np.ndarray:
        """The model's answer at every step (0 blank, 1 … S symbols) for one-hot `inputs` (N, T', S + 2): (N, T')."""
        return self._answers(inputs, self.symbols + 2).argmax(dim=-1).numpy()
