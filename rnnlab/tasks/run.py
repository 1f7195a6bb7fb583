"""What every task's run shares: the common settings, the staged run directory, training, saving.

A run directory is built under `<out>.partial` and renamed to `<out>` only when complete, so bad
input or a crash never leaves a half-written run where a finished one is expected; `resume=True`
continues from the `.partial` directory's last checkpoint. Every run directory holds
`config.json`, whose `"task"` names the task that wrote it (`evaluate`, `predict` and the other
commands dispatch on it), and `model.safetensors`. Nothing in a run directory is pickled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from rnnlab.report.atomic import write_bytes_atomically
from rnnlab.report.html import Table
from rnnlab.train import Trainer, TrainerOptions, TrainResult, distributed
from rnnlab.train.trainer import batch_rows


@dataclass(frozen=True)
class RunConfig:
    """The settings every task shares: the recurrent model, the optimisation, the run directory.

    A task's config subclasses this and adds its data and model fields; a subclass may redeclare
    a field to change its default (the field keeps its place). `POSITIVE` names the integer
    fields that must be ≥ 1; a subclass extends it.
    """

    POSITIVE = ("hidden_size", "num_layers", "batch_size", "epochs")

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
    out: str = field(default="runs/run", metadata={"help": "run directory to write"})

    def __post_init__(self) -> None:
        for name in self.POSITIVE:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {self.dropout!r}")

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


def resolve_device(name: str) -> torch.device:
    """The device a run trains on: "auto" is this process's CUDA device when there is one, else the CPU."""
    if name != "auto":
        try:
            return torch.device(name)
        except RuntimeError:
            raise ValueError(f"device must be cpu, cuda, cuda:N or auto; received {name!r}") from None
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # under torchrun, one GPU per process


def loaded_device(name: str) -> torch.device:
    """Where a saved run's model runs: the device it names, or the CPU where that names CUDA and none is here."""
    return resolve_device(name if name in ("auto", "cpu") or torch.cuda.is_available() else "cpu")


def write_json(path: Path, value: Any) -> None:
    """Writes `value` as indented JSON, atomically."""
    write_bytes_atomically(path, (json.dumps(value, indent=2) + "\n").encode("utf-8"))


def write_text(path: Path, text: str) -> None:
    """Writes `text` as UTF-8, atomically."""
    write_bytes_atomically(path, text.encode("utf-8"))


class Stage:
    """The `<out>.partial` directory a run is built in, renamed to `<out>` by `finish()`.

    Construction checks the destination before anything is read or trained: `<out>` must not
    exist, and `resume` needs an interrupted run to continue. `open()` creates the directory
    (removing what an earlier failed attempt left, unless resuming); only the main process of a
    distributed run touches the file system.
    """

    def __init__(self, out: str | Path, *, resume: bool = False) -> None:
        self.out = Path(out)
        self.path = self.out.with_name(self.out.name + ".partial")
        self.resume = resume
        if self.out.exists():
            raise ValueError(f"out {str(self.out)!r} already exists; choose another --out or remove it")
        if resume and not self.path.is_dir():
            raise ValueError(f"nothing to resume: {str(self.path)!r} does not exist "
                             "(resume continues an interrupted run)")

    def open(self) -> Path:
        if distributed.is_main():
            if not self.resume and self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    def finish(self) -> Path:
        """Drops the training checkpoints (the run keeps its final weights) and publishes the run."""
        shutil.rmtree(self.path / "checkpoint", ignore_errors=True)
        os.replace(self.path, self.out)
        return self.out


def save_run(run_dir: Path, model: torch.nn.Module, task: str, saved: dict) -> None:
    """model.safetensors and config.json (`{"task": task, **saved}`): all a later command needs."""
    weights = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomically(run_dir / "model.safetensors", save(weights))
    write_json(run_dir / "config.json", {"task": task, **saved})


def read_run(run_dir: str | Path, task: str | None = None) -> dict:
    """The saved config.json of a finished run; runs written before tasks were named are forecasts.

    Raises:
        FileNotFoundError: if `run_dir` is not a finished run.
        ValueError: if `task` is given and the run holds another task.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file() or not (run_dir / "model.safetensors").is_file():
        raise FileNotFoundError(f"run directory {str(run_dir)!r} has no config.json and model.safetensors")
    saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    saved.setdefault("task", "forecast")
    if task is not None and saved["task"] != task:
        raise ValueError(f"run directory {str(run_dir)!r} holds a {saved['task']} run, not a {task} run")
    return saved


def load_weights(model: torch.nn.Module, run_dir: str | Path) -> torch.nn.Module:
    """Loads a run's model.safetensors into `model` (strictly) and puts it in eval mode."""
    model.load_state_dict(load_file(str(Path(run_dir) / "model.safetensors")))
    return model.eval()


def _take(value: Any, keep: int) -> Any:
    """The first `keep` rows of every tensor in a (nested) batch."""
    if isinstance(value, torch.Tensor):
        return value[:keep]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_take(item, keep) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_take(item, keep) for item in value)
    return value


def fit(model: torch.nn.Module, loss_fn: Callable, options: TrainerOptions, stage: Stage, *,
        train_batches: Callable[[int, torch.Generator], Iterable], val_batches: Callable[[], Iterable] | None,
        batch_size: int, quiet: bool = False) -> tuple[TrainResult, float]:
    """Trains `model` with the shared `Trainer` into `stage`; returns the result and the seconds taken.

    Under torchrun every process trains on equal shares: the batch size must be a multiple of the
    number of processes, and a batch is trimmed to such a multiple (dropping fewer rows than there
    are processes).
    """
    world = distributed.world_size()
    if batch_size % world:
        raise ValueError(f"batch_size must be a multiple of the {world} processes; received {batch_size}")

    def shares(epoch: int, generator: torch.Generator):
        for inputs, targets in train_batches(epoch, generator):
            rows = batch_rows(targets)
            keep = rows - rows % world
            if keep:
                yield _take(inputs, keep), _take(targets, keep)

    trainer = Trainer(model, loss_fn, options, run_dir=stage.path, quiet=quiet)
    started = time.perf_counter()
    result = trainer.fit(shares if world > 1 else train_batches, val_batches, resume=stage.resume)
    return result, time.perf_counter() - started


@dataclass(frozen=True)
class Probe:
    """A trained model and one real batch of its task: what diagnostics and comparisons run on.

    Attributes:
        model: the task's model, in eval mode; its recurrent layers are rnnlab layers.
        loss: runs the model's forward pass on the batch and returns the task's training loss, a
            scalar (differentiable when grad is enabled). Calling it twice gives the same value.
        batch_size: sequences in the batch.
        steps: time steps of the batch's longest sequence (for a sequence-to-sequence model, the
            source's).
        description: one line saying what the batch is, e.g. "64 test windows of 24 steps".
    """

    model: torch.nn.Module
    loss: Callable[[], torch.Tensor]
    batch_size: int
    steps: int
    description: str


def num_parameters(model: torch.nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
