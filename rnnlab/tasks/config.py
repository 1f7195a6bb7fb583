"""The settings every task shares, and the checks every task's settings get.

A task's config subclasses `RunConfig` (a frozen dataclass): its fields are the options of `rnnlab
train TASK` and the settings of the task's estimator, checked when the config is built: a value of
the wrong type is a TypeError, one out of range or not among a field's choices a ValueError, each
naming the setting and the value received.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rnnlab.report.html import Table
from rnnlab.train import TrainerOptions


@dataclass(frozen=True)
class RunConfig:
    """The settings every task shares: the recurrent model, the optimisation, the device.

    A task's config subclasses this and adds its data and model fields; a subclass may redeclare
    a field to change its default (the field keeps its place). `POSITIVE` names the integer
    fields that must be ≥ 1 and `DATA` the fields that say what to read; a subclass extends them.
    `OLDER_RUNS` maps a setting added after runs were saved without it to the value those runs
    were trained with, which a loaded run takes when its config.json lacks it (a later default
    must not change what an old run's weights mean).
    A field's metadata gives its command-line `help`, and `choices` or `type` where needed.
    """

    POSITIVE = ("hidden_size", "num_layers", "batch_size", "epochs")
    DATA = ()  # not annotated: a class constant, not a setting (as POSITIVE)
    OLDER_RUNS = {}  # not annotated: a class constant, not a setting

    model: str = field(default="lstm", metadata={"choices": ["rnn", "lstm", "gru"], "help": "recurrent cell"})
    hidden_size: int = field(default=64, metadata={"help": "hidden units per layer"})
    num_layers: int = field(default=1, metadata={"help": "stacked recurrent layers"})
    bidirectional: bool = field(default=False, metadata={"help": "read each sequence in both directions"})
    dropout: float = field(default=0.0, metadata={"help": "dropout between recurrent layers"})
    batch_size: int = field(default=32, metadata={"help": "sequences per batch"})
    epochs: int = field(default=100, metadata={"help": "training epochs (early stopping may end sooner)"})
    learning_rate: float = field(default=3e-3, metadata={"help": "optimizer learning rate"})
    optimizer: str = field(default="adam", metadata={"choices": ["adam", "adamw", "sgd"], "help": "optimizer"})
    schedule: str | None = field(default=None, metadata={"type": str, "choices": ["constant", "cosine", "step", "linear"],
                                                         "help": "learning-rate schedule (default: constant)"})
    grad_clip: float = field(default=1.0, metadata={"help": "clip the gradient norm to this (0 disables)"})
    grad_clip_value: float = field(default=0.0, metadata={"help": "clip each gradient element to ±this (0 disables)"})
    on_nonfinite: str = field(default="stop", metadata={"choices": ["stop", "skip"],
                                                        "help": "on a NaN/Inf loss: stop, naming the step, or skip the batch"})
    patience: int = field(default=20, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    seed: int = field(default=0, metadata={"help": "random seed (runs on the CPU are deterministic)"})
    device: str = field(default="auto", metadata={"help": "cpu, cuda, cuda:N, or auto (cuda when available)"})
    amp: bool = field(default=False, metadata={"help": "bfloat16 mixed precision (CUDA only)"})

    def __post_init__(self) -> None:
        _check_types(self)
        for name in self.POSITIVE:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {self.dropout!r}")
        for name, choices in _choices(type(self)).items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}; received {getattr(self, name)!r}")

    def trainer_options(self, **overrides: Any) -> TrainerOptions:
        """The `TrainerOptions` these settings stand for; `overrides` set task-specific options."""
        options = dict(optimizer=self.optimizer, learning_rate=self.learning_rate, epochs=self.epochs,
                       schedule=self.schedule, grad_clip_norm=self.grad_clip, grad_clip_value=self.grad_clip_value,
                       nonfinite=self.on_nonfinite, early_stopping_patience=self.patience, seed=self.seed,
                       amp=self.amp)
        return TrainerOptions(**{**options, **overrides})

    def settings_table(self) -> Table:
        """Every setting of the run and its value, for the report's configuration section."""
        return Table(columns=["setting", "value"], rows=[[k, v] for k, v in dataclasses.asdict(self).items()])


def _check_types(config: RunConfig) -> None:
    """TypeError naming the first setting whose value is not of its default's type (an int is a
    float here; None is allowed where the field's annotation allows it)."""
    for item in dataclasses.fields(config):
        value, default = getattr(config, item.name), item.default
        kind = type(default) if default is not None else item.metadata.get("type")
        if value is None and "None" in str(item.type) or kind not in (bool, int, float, str):
            continue
        accepted = (int, float) if kind is float else kind
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
            raise TypeError(f"{item.name} must be {'a' if kind is not int else 'an'} {kind.__name__}; "
                            f"received {value!r}")


def _choices(config_class: type) -> dict[str, list]:
    """{field: its allowed values} of the fields whose metadata lists choices (None is always allowed
    where the default is None: it means "the task decides")."""
    result = {}
    for item in dataclasses.fields(config_class):
        if "choices" in item.metadata:
            result[item.name] = list(item.metadata["choices"]) + ([None] if item.default is None else [])
    return result
