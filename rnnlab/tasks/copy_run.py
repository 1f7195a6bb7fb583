"""The copy (memory) task as an rnnlab task: `rnnlab train copy --length T`.

The sequences, the model and the shared run are in `rnnlab.tasks.memory` and
`rnnlab.tasks.memory_run`; this module says what is particular to the copy task: a many-to-many
model trained with the cross-entropy of every step, scored on the copied symbols against the
memoryless strategy (blanks, then uniform guesses; Arjovsky et al. 2016).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

from rnnlab.tasks.memory import copy_metrics, copy_task, memoryless_copy_metrics
from rnnlab.tasks.memory_run import (MemoryConfig, Problem, evaluate_memory, evaluate_text, predict_memory,
                                     probe_memory, train_memory)
from rnnlab.tasks.registry import Headline, Task

TASK = "copy"


@dataclass(frozen=True)
class CopyConfig(MemoryConfig):
    """Everything a copy-task run depends on; saved in the run's config.json."""

    POSITIVE = MemoryConfig.POSITIVE + ("symbols", "copy_length")

    # ten symbols of three bits each must fit in the state: 32 units learn slowly, 128 within the default budget
    hidden_size: int = field(default=128, metadata={"help": "hidden units per layer"})
    epochs: int = field(default=30, metadata={"help": "training epochs, each on train-sequences fresh sequences"})
    out: str = field(default="runs/copy", metadata={"help": "run directory to write"})
    length: int = field(default=20, metadata={"help": "T, the delay: steps from the last symbol to the delimiter"})
    symbols: int = field(default=8, metadata={"help": "S, the alphabet's size"})
    copy_length: int = field(default=10, metadata={"help": "K, symbols to remember and copy"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.symbols < 2:
            raise ValueError(f"symbols must be at least 2 (one symbol is nothing to remember); received {self.symbols}")


def _explain(config: CopyConfig) -> str:
    return (f"Each sequence shows {config.copy_length} symbols from an alphabet of {config.symbols}, then "
            f"{config.length - 1} blanks, a delimiter and {config.copy_length} more blanks; the model must answer "
            "blank until the delimiter has passed, then write the symbols back. The memoryless strategy answers "
            "blank, then guesses uniformly: cross-entropy K·log(S)/(T + 2K) per step, accuracy 1/S per copied symbol. "
            "Accuracy is over the copied symbols; sequence_accuracy counts sequences copied without a mistake.")


def _describe(config: CopyConfig, inputs: torch.Tensor, targets: torch.Tensor, outputs: torch.Tensor) -> list[str]:
    lines = []
    for index, (target, output) in enumerate(zip(targets, outputs)):
        wanted = target[-config.copy_length:]
        copied = output[-config.copy_length:].argmax(dim=-1)
        lines.append(f"sequence {index}: shown {' '.join(map(str, wanted.tolist()))}; copied "
                     f"{' '.join(map(str, copied.tolist()))} ({int((copied == wanted).sum())}/{config.copy_length} "
                     "right)")
    return lines


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())  # every step counts


PROBLEM = Problem(
    task=TASK, config=CopyConfig, title="the copy task", explain=_explain, baseline="memoryless",
    generate=lambda config, count, generator: copy_task(count, config.length, symbols=config.symbols,
                                                        copy_length=config.copy_length, generator=generator),
    shape=lambda config: (config.symbols + 2, config.symbols + 1, True),
    loss=_loss,
    metrics=lambda config, outputs, targets: copy_metrics(outputs, targets, config.copy_length),
    baseline_metrics=lambda config, targets: memoryless_copy_metrics(config.length, config.symbols,
                                                                     config.copy_length),
    describe=_describe, columns=("accuracy", "sequence_accuracy", "cross_entropy"))

train_copy = functools.partial(train_memory, PROBLEM)
probe = functools.partial(probe_memory, PROBLEM)

SPEC = Task(name=TASK, help="the copy task: repeat K symbols after a delay of T steps (long memory)",
            config=CopyConfig, train=train_copy, evaluate=functools.partial(evaluate_memory, PROBLEM),
            evaluate_text=functools.partial(evaluate_text, PROBLEM), predict=functools.partial(predict_memory, PROBLEM),
            headline=Headline("accuracy", True, "memoryless"), probe=probe)
