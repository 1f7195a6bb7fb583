"""Callbacks: hooks into `Trainer.fit`, and the built-ins that stop, checkpoint and log a run.

A callback overrides the hooks it needs; every hook does nothing by default. `Trainer.fit` calls,
for each callback in order:

    on_train_begin(trainer)                once, after a resume has restored the run's state
    on_epoch_begin(trainer, epoch)         per epoch, also for one resumed half-way through
    on_batch_end(trainer, batch)           per training batch, after its optimizer step
    on_epoch_end(trainer, record)          per epoch, after validation, with its history record
    on_train_end(trainer, result)          once, after the best weights were restored

A callback ends training after the current epoch by setting `trainer.stop_training = True` (the
Keras convention), and carries what it must across a checkpoint and resume in `state_dict()`.
`MetricsLogger` and `ProgressBar` live in `rnnlab.train.progress` beside what they drive.
"""

from __future__ import annotations

import math

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnlab.train import distributed

if TYPE_CHECKING:  # the trainer imports this module; the name is only needed for annotations
    from rnnlab.train.options import TrainResult
    from rnnlab.train.trainer import Trainer


@dataclass(frozen=True)
class BatchRecord:
    """What `on_batch_end` receives about the batch just trained.

    Attributes:
        epoch: the epoch it belongs to (1-based).
        index: its position within the epoch (1-based).
        num_batches: batches per epoch.
        loss: its training loss on this process, or None if it was skipped for a non-finite loss
            (`nonfinite="skip"`), in which case no optimizer step was taken.
        running_loss: the sample-weighted mean training loss of the epoch so far on this process
            (NaN while every batch of the epoch was skipped).
        global_step: optimizer steps of the whole run so far, this batch's included.
        lr: the learning rate of the run's latest optimizer step.
    """

    epoch: int
    index: int
    num_batches: int
    loss: float | None
    running_loss: float
    global_step: int
    lr: float


class Callback:
    """The base class of callbacks: every hook does nothing until a subclass overrides it.

    Hooks run on every process under torchrun; a callback that writes files checks
    `rnnlab.train.distributed.is_main()`.
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once before the first epoch; on a resume, `trainer.epoch` is the one it continues."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Called before epoch `epoch` (1-based) trains its first batch, or its first batch left."""

    def on_batch_end(self, trainer: Trainer, batch: BatchRecord) -> None:
        """Called after each training batch, skipped ones included (`batch.loss` is None then)."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called after each epoch with its history record (the dict in `TrainResult.history`).

        The record must not be modified: the same dict is the run's history. `trainer.epoch`
        already names the next epoch, as a checkpoint written now must.
        """

    def on_train_end(self, trainer: Trainer, result: TrainResult) -> None:
        """Called once when `fit` is about to return `result` (not when it raises)."""

    def state_dict(self) -> dict[str, Any]:
        """What a resume must restore, as JSON-serialisable values; saved in every checkpoint.

        It is saved as it is when the `Checkpoint` callback runs, so the changes a callback after it
        makes in `on_epoch_end` reach only the next checkpoint (the order is on `Trainer`).
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, before `on_train_begin` of a resumed run."""


def by_state_key(callbacks: Iterable[Callback]) -> dict[str, Callback]:
    """`callbacks` in order, keyed as their states are in a checkpoint: by class name, #2, #3 for repeats.

    A resume gives each callback the state saved under its key, so callbacks may be added or
    removed between runs; one of a class that is new to the run starts from its initial state.
    """
    keyed: dict[str, Callback] = {}
    for callback in callbacks:
        name = type(callback).__name__
        repeats = sum(1 for other in keyed.values() if type(other).__name__ == name)
        keyed[name if repeats == 0 else f"{name}#{repeats + 1}"] = callback
    return keyed


class EarlyStopping(Callback):
    """Stops training after `patience` epochs in a row without a lower validation loss.

    An epoch improves when its validation loss is below the best so far by more than
    `min_delta`; the best is updated only by improving epochs. With `min_delta=0` this is the rule
    of `TrainerOptions.early_stopping_patience` (strictly lower), which adds this callback.

    Args:
        patience: epochs without improvement to allow; a positive integer.
        min_delta: the margin an improvement must beat; >= 0.

    Raises:
        ValueError: at an epoch end without a validation loss (`fit` got no val_batches_fn).
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience <= 0:
            raise ValueError(f"patience must be a positive integer; received {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0; received {min_delta!r}")
        self.patience, self.min_delta = patience, min_delta
        self.best: float | None = None  # the lowest validation loss that counted as an improvement
        self.wait = 0  # epochs since then

    def on_train_begin(self, trainer: Trainer) -> None:
        if trainer.epoch == 1:  # no epoch has ended: a fresh run (a resumed one keeps its loaded state)
            self.best, self.wait = None, 0

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        val_loss = record["val_loss"]
        if val_loss is None:
            raise ValueError("EarlyStopping needs a validation loss: pass val_batches_fn to Trainer.fit; "
                             f"received val_loss=None at epoch {record['epoch']}")
        if self.best is None or val_loss < self.best - self.min_delta:
            self.best, self.wait = val_loss, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`'s output, checked: a checkpoint's JSON may have been edited or damaged.

        Raises:
            ValueError: `best` is not null or a finite number, or `wait` not an integer >= 0.
        """
        best, wait = state.get("best", "missing"), state.get("wait", "missing")
        if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best)):
            raise ValueError(f"EarlyStopping's best must be null or a finite validation loss; received {best!r:.60}")
        if isinstance(wait, bool) or not isinstance(wait, int) or wait < 0:
            raise ValueError(f"EarlyStopping's wait must be an integer >= 0 (epochs without improvement); "
                             f"received {wait!r:.60}")
        self.best, self.wait = best, wait


class Checkpoint(Callback):
    """Writes the trainer's checkpoint at each epoch end and every `every_steps` optimizer steps.

    The checkpoint (`Trainer.write_checkpoint`) holds the model, optimizer, scheduler, RNG states,
    run state, best weights and every callback's `state_dict`; `Trainer.fit(resume=True)`
    continues from the directory of the trainer's first Checkpoint callback.

    Args:
        directory: the checkpoint directory (see `rnnlab.train.checkpoint`).
        every_steps: also checkpoint every this many optimizer steps; 0: epoch ends only.
    """

    def __init__(self, directory: str | os.PathLike, every_steps: int = 0) -> None:
        if isinstance(every_steps, bool) or not isinstance(every_steps, int) or every_steps < 0:
            raise ValueError(f"every_steps must be a non-negative integer; received {every_steps!r}")
        self.directory, self.every_steps = Path(directory), every_steps

    def on_batch_end(self, trainer: Trainer, batch: BatchRecord) -> None:
        # a skipped batch took no step, so its global_step was checkpointed already if it was due
        if self.every_steps and batch.loss is not None and batch.global_step % self.every_steps == 0:
            trainer.write_checkpoint(self.directory)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        trainer.write_checkpoint(self.directory)


class TensorBoard(Callback):
    """Logs the run for TensorBoard, on the main process only.

    Two event directories, one per step axis, as Keras keeps one per writer:
    `log_dir/epoch` holds train_loss, val_loss and lr per epoch (step = epoch), and
    `log_dir/batch` holds batch_loss per optimizer step (step = global step; skipped batches are
    not logged). A resumed run hides what a killed run logged after its checkpoint (SummaryWriter's
    `purge_step`), and a fresh run hides a previous run's events in the same directories, as
    metrics.jsonl is truncated. Run `tensorboard --logdir log_dir` to view both.

    Args:
        log_dir: where the event files go.

    Raises:
        ValueError: if the tensorboard package is not installed.
    """

    def __init__(self, log_dir: str | os.PathLike) -> None:
        try:  # imported here: rnnlab itself does not depend on tensorboard
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ValueError("TensorBoard needs the tensorboard package: pip install tensorboard") from error
        self.log_dir, self._writer_class = Path(log_dir), SummaryWriter
        self._epochs = self._batches = None  # the writers, open from train begin to train end

    def on_train_begin(self, trainer: Trainer) -> None:
        if not distributed.is_main():
            return
        # steps from these on are those the resumed run trains again (all of them on a fresh start)
        self._epochs = self._writer_class(str(self.log_dir / "epoch"), purge_step=trainer.epoch)
        self._batches = self._writer_class(str(self.log_dir / "batch"), purge_step=trainer.global_step + 1)

    def on_batch_end(self, trainer: Trainer, batch: BatchRecord) -> None:
        if self._batches is not None and batch.loss is not None:
            self._batches.add_scalar("batch_loss", batch.loss, batch.global_step)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self._epochs is None:
            return
        for name in ("train_loss", "val_loss", "lr"):
            value = record[name]
            if value is not None:  # no validation, or no batch of the epoch was trained
                self._epochs.add_scalar(name, value, record["epoch"])
        self._epochs.flush()  # a killed run still leaves every finished epoch readable
        self._batches.flush()

    def on_train_end(self, trainer: Trainer, result: TrainResult) -> None:
        for writer in (self._epochs, self._batches):
            if writer is not None:
                writer.close()
        self._epochs = self._batches = None
