"""A task-agnostic trainer: any nn.Module, a loss function and functions that produce batches.

Reproducibility is by construction: the batches of epoch `e` come from
`train_batches_fn(e, torch.Generator().manual_seed(seed + e))`, a pure function of (seed, epoch), so
a run resumed from a checkpoint taken mid-epoch regenerates that epoch, skips the batches already
trained, and (with RNG, optimizer and scheduler states restored) ends with the same weights as an
uninterrupted run. Epochs and steps are counted from 1 everywhere (history, metrics, errors).

This module is longer than the style's ~300 lines: it is one class, the training loop, whose
resume, distributed and non-finite-loss bookkeeping share one run state; the options, results and
callbacks are in options.py and callbacks.py.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.train import distributed
from rnnlab.train.callbacks import BatchRecord, Callback, Checkpoint, EarlyStopping, by_state_key
from rnnlab.train.checkpoint import (RunDirectoryError, check_history, latest_checkpoint, load_checkpoint, restore_rng,
                                     save_checkpoint)
from rnnlab.train.optim import build_optimizer, build_scheduler
from rnnlab.train.options import NonFiniteLossError, TrainerOptions, TrainResult, _RunState
from rnnlab.train.progress import MetricsLogger, ProgressBar

Batch = tuple[Any, Any]  # (inputs, targets)


class Trainer:
    """Trains `model` by minimising `loss_fn(model(inputs), targets)` over batches.

    Under torchrun (after `distributed.init_from_env()`), the model is wrapped in
    DistributedDataParallel, every rank draws the same global batches and trains on its own slice
    of each (`distributed.shard`), and only rank 0 writes checkpoints and metrics.

    The arguments add built-in callbacks, and `fit` calls all callbacks in this order:

    1. `EarlyStopping(options.early_stopping_patience)`, when that is > 0 and `fit` has validation;
    2. with `run_dir`: `MetricsLogger(run_dir / "metrics.jsonl")`;
    3. `ProgressBar()` unless `quiet`;
    4. `callbacks`, in the order given;
    5. with `run_dir`: `Checkpoint(run_dir / "checkpoint", options.checkpoint_every_steps)`, last
       (as Lightning runs its checkpoints): each epoch's checkpoint holds what every callback did
       that epoch (its state, a stop, a learning rate it set), so a resume replays none of it
       differently; and the metrics line is written before it, so a resume drops a line it would
       repeat, never misses one;
    6. the `on_epoch_end` function, at epoch ends only.

    Keeping and restoring the best-validation weights is part of the trainer, not a callback.

    Args:
        model: the module to train, already on its device (batches are moved there).
        loss_fn: `loss_fn(outputs, targets) -> scalar tensor`, a mean over the batch.
        options: the training options.
        run_dir: where metrics.jsonl and checkpoint/ go; None adds neither callback (a resume then
            needs a `Checkpoint` in `callbacks`).
        callbacks: more `Callback`s, called after the built-ins and before run_dir's checkpoint.
        on_epoch_end: called on every rank with each epoch's history record, after all callbacks.
        quiet: no progress bar.

    Attributes:
        stop_training: set True (by a callback) to end training after the current epoch.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[[Any, Any], Tensor], options: TrainerOptions, *,
                 run_dir: str | os.PathLike | None = None, callbacks: Sequence[Callback] = (),
                 on_epoch_end: Callable[[dict[str, Any]], None] | None = None, quiet: bool = False) -> None:
        if not isinstance(options, TrainerOptions):
            raise TypeError(f"options must be a TrainerOptions; received {type(options).__name__}")
        for index, callback in enumerate(callbacks):
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks[{index}] must be a Callback; received {type(callback).__name__}")
        self.module = distributed.unwrap_model(model)
        self.model = distributed.wrap_model(self.module)
        self.loss_fn, self.options, self.on_epoch_end = loss_fn, options, on_epoch_end
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.callbacks, self.quiet = list(callbacks), quiet
        self.device = next(self.module.parameters()).device
        self.optimizer = build_optimizer(self.module.parameters(), options.optimizer, options.learning_rate,
                                         options.weight_decay)
        self.scheduler = None
        self._run = _RunState()
        self._active: dict[str, Callback] = {}  # the callbacks of the current fit, by checkpoint key
        self._best_state: dict[str, Tensor] | None = None
        if options.amp and self.device.type != "cuda":
            warnings.warn(f"amp=True is ignored on device {self.device}: autocast is used on CUDA only",
                          stacklevel=2)

    @property
    def epoch(self) -> int:
        """The epoch in progress (1-based); between epochs, the next one to train."""
        return self._run.epoch

    @property
    def global_step(self) -> int:
        """Optimizer steps of the whole run so far."""
        return self._run.global_step

    @property
    def stop_training(self) -> bool:
        return self._run.stopped_early

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self._run.stopped_early = bool(value)

    def fit(self, train_batches_fn: Callable[[int, torch.Generator], Iterable[Batch]],
            val_batches_fn: Callable[[], Iterable[Batch]] | None = None, *, resume: bool = False) -> TrainResult:
        """Trains for `options.epochs` epochs, or until a callback sets `stop_training`.

        Args:
            train_batches_fn: `(epoch, generator) -> iterable of (inputs, targets)`; all its
                randomness (shuffling, sampling) must come from `generator`. Called once more with
                epoch 1 at the start to count the batches of an epoch (for the schedule).
            val_batches_fn: `() -> iterable of (inputs, targets)`, or None for no validation.
                With validation, the best weights (lowest validation loss) are restored at the end.
            resume: continue from the checkpoint of the first `Checkpoint` callback (run_dir's),
                restoring every callback's state (from scratch, with a warning, if there is none).

        Returns:
            The run's `TrainResult`.
        """
        with self._determinism():
            steps_per_epoch = self._count_batches(train_batches_fn)
            self.scheduler = build_scheduler(self.optimizer, self.options.schedule,
                                             self.options.epochs * steps_per_epoch, self.options.warmup_steps)
            self._active = by_state_key(self._all_callbacks(val_batches_fn is not None))
            self._run = run = self._start(resume)
            for callback in self._active.values():
                callback.on_train_begin(self)
            # a stop asked for mid-epoch (or saved in a mid-epoch checkpoint) takes effect at the epoch's end
            while run.epoch <= self.options.epochs and not (run.stopped_early and run.batches_done == 0):
                self._train_epoch(train_batches_fn, run, steps_per_epoch)
                self._end_epoch(val_batches_fn, run)
        if self._best_state is not None and val_batches_fn is not None:
            self.module.load_state_dict(self._best_state)
        result = TrainResult(history=list(run.history), best_epoch=run.best_epoch, best_val_loss=run.best_val_loss,
                             stopped_early=run.stopped_early, steps=run.global_step)
        for callback in self._active.values():
            callback.on_train_end(self, result)
        return result

    def evaluate(self, batches: Iterable[Batch]) -> float:
        """The sample-weighted mean of `loss_fn` over `batches`, in eval mode without gradients."""
        was_training = self.module.training
        self.module.eval()
        total, count = 0.0, 0
        with torch.no_grad(), self._autocast():
            for inputs, targets in batches:
                inputs, targets = self._to_device(inputs), self._to_device(targets)
                outputs = self.module(inputs)
                if self.options.tbptt_steps:  # SupportsTruncatedBPTT models return (outputs, state)
                    outputs = outputs[0]
                size = batch_rows(targets)
                total += float(self.loss_fn(outputs, targets)) * size
                count += size
        self.module.train(was_training)
        if count == 0:
            raise ValueError("val_batches_fn must yield at least one batch; received none")
        return total / count

    def write_checkpoint(self, directory: str | os.PathLike) -> Path | None:
        """Saves all a resume needs under `directory` (see `rnnlab.train.checkpoint`), on the main process.

        That is the model, optimizer, scheduler and RNG states, the run state (epoch, batches done,
        step, history, best epoch, stop_training), the best weights, and each callback's
        `state_dict`. `Checkpoint` callbacks call this.

        Returns:
            The new checkpoint's subdirectory, or None on the other processes (which write nothing).
        """
        if not distributed.is_main():
            return None
        state = {**dataclasses.asdict(self._run), "options": dataclasses.asdict(self.options),
                 "callbacks": {key: callback.state_dict() for key, callback in self._active.items()}}
        return save_checkpoint(directory, model=self.module, optimizer=self.optimizer, scheduler=self.scheduler,
                               state=state, best_model_state=self._best_state)

    def _all_callbacks(self, validating: bool) -> list[Callback]:
        """The built-in callbacks the arguments and options ask for and the given ones, in the order
        the class docstring gives."""
        ordered: list[Callback] = []
        if validating and self.options.early_stopping_patience:
            ordered.append(EarlyStopping(self.options.early_stopping_patience))
        if self.run_dir is not None:
            ordered.append(MetricsLogger(self.run_dir / "metrics.jsonl"))
        if not self.quiet:
            ordered.append(ProgressBar(self.options.epochs))
        ordered += self.callbacks
        if self.run_dir is not None:
            ordered.append(Checkpoint(self.run_dir / "checkpoint", self.options.checkpoint_every_steps))
        return ordered

    def _count_batches(self, train_batches_fn) -> int:
        batches = train_batches_fn(1, torch.Generator().manual_seed(self.options.seed + 1))
        count = len(batches) if hasattr(batches, "__len__") else sum(1 for _ in batches)
        if count == 0:
            raise ValueError("train_batches_fn must yield at least one batch per epoch; received none")
        return count

    def _start(self, resume: bool) -> _RunState:
        if resume:
            directory = next((c.directory for c in self._active.values() if isinstance(c, Checkpoint)), None)
            if directory is None:
                raise ValueError("resume=True needs a run_dir; received run_dir=None and no Checkpoint in "
                                 "callbacks to resume from")
            if latest_checkpoint(directory) is not None:
                return self._restore(directory)
            warnings.warn(f"resume=True but {directory} holds no checkpoint; training from scratch", stacklevel=3)
        torch.manual_seed(self.options.seed)
        np.random.seed(self.options.seed)
        random.seed(self.options.seed)
        self._best_state = None
        return _RunState()

    def _restore(self, directory: Path) -> _RunState:
        state = load_checkpoint(directory, model=self.module, optimizer=self.optimizer, scheduler=self.scheduler,
                                check=self._load_callbacks)
        restore_rng(state.pop("rng"))
        self._best_state = state.pop("best_model_state", None)
        state.pop("options", None)
        state.pop("callbacks", None)
        return _RunState(**state)

    def _load_callbacks(self, path: Path, state: dict) -> None:
        """The run state's keys and history checked and the callbacks' states loaded: `load_checkpoint` calls it
        before it loads the model, so a state the trainer or a callback refuses changes no weight."""
        unknown = state.keys() - {f.name for f in dataclasses.fields(_RunState)} - {"options", "callbacks"}
        if unknown:  # e.g. bad_epochs, kept by the trainer before EarlyStopping was a callback
            raise RunDirectoryError(f"{path}: has run state this Trainer does not know; received {sorted(unknown)}")
        check_history(path, state)
        saved = state.get("callbacks", {})
        for key, callback in self._active.items():
            if key in saved:  # a callback new to this run starts from its initial state
                try:
                    callback.load_state_dict(saved[key])
                except (ValueError, TypeError, KeyError) as error:  # a user's callback may check less than ours
                    raise RunDirectoryError(f"{path}: \"state\".callbacks.{key} is not a state this callback "
                                            f"takes: {error!s:.200}") from None

    def _train_epoch(self, train_batches_fn, run: _RunState, steps_per_epoch: int) -> None:
        for callback in self._active.values():
            callback.on_epoch_begin(self, run.epoch)
        generator = torch.Generator().manual_seed(self.options.seed + run.epoch)
        started = time.monotonic() - run.epoch_seconds
        for index, (inputs, targets) in enumerate(train_batches_fn(run.epoch, generator)):
            if index < run.batches_done:
                continue  # trained before the interruption this run resumes from
            loss = self._train_step(inputs, targets, run)
            run.batches_done += 1
            run.epoch_seconds = time.monotonic() - started
            batch = BatchRecord(epoch=run.epoch, index=run.batches_done, num_batches=steps_per_epoch, loss=loss,
                                running_loss=run.loss_sum / run.sample_count if run.sample_count else math.nan,
                                global_step=run.global_step, lr=self._lr(run))
            for callback in self._active.values():
                callback.on_batch_end(self, batch)

    def _train_step(self, inputs, targets, run: _RunState) -> float | None:
        """One optimizer step on one batch; its loss, or None if skipped for a non-finite loss."""
        inputs, targets = self._to_device(inputs), self._to_device(targets)
        if distributed.is_distributed():
            inputs = distributed.shard(inputs, distributed.rank(), distributed.world_size())
            targets = distributed.shard(targets, distributed.rank(), distributed.world_size())
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._forward_backward(inputs, targets, run)
        if loss is None:
            return None
        if self.options.grad_clip_value > 0:
            nn.utils.clip_grad_value_(self.module.parameters(), self.options.grad_clip_value)
        if self.options.grad_clip_norm > 0:
            nn.utils.clip_grad_norm_(self.module.parameters(), self.options.grad_clip_norm)
        run.lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        run.global_step += 1
        size = batch_rows(targets)
        run.loss_sum += loss * size
        run.sample_count += size
        return loss

    def _forward_backward(self, inputs, targets, run: _RunState) -> float | None:
        """Backpropagates the batch's loss (chunk by chunk under TBPTT); its value, or None if skipped."""
        chunk = self.options.tbptt_steps
        if not chunk:
            with self._autocast():
                loss = self.loss_fn(self.model(inputs), targets)
            if not self._finite(loss, run):
                return None
            loss.backward()
            return loss.item()
        num_steps, total, state = inputs.shape[1], 0.0, None  # inputs (B, T, ...)
        for start in range(0, num_steps, chunk):
            stop = min(start + chunk, num_steps)
            with self._autocast():
                outputs, state = self.model(inputs[:, start:stop], state)
                # weighted by the chunk's share of T: the sum over chunks is then the mean over the sequence
                loss = self.loss_fn(outputs, targets[:, start:stop]) * ((stop - start) / num_steps)
            if not self._finite(loss, run):
                return None
            loss.backward()
            total += loss.item()
            state = _map_tensors(Tensor.detach, state)  # the truncation: no gradient flows into earlier chunks
        return total

    def _finite(self, loss: Tensor, run: _RunState) -> bool:
        # decided jointly so that every rank skips (or stops) together: DDP would hang otherwise
        if not distributed.any_rank(not bool(torch.isfinite(loss.detach()).all()), self.device):
            return True
        value = float(loss.detach().float().mean())
        where = f"epoch {run.epoch}, step {run.batches_done + 1} (optimizer step {run.global_step + 1})"
        if self.options.nonfinite == "stop":
            raise NonFiniteLossError(f"non-finite training loss {value} at {where}; set nonfinite='skip' to skip "
                                     "such batches, or lower the learning rate", epoch=run.epoch,
                                     step=run.batches_done + 1, value=value)
        warnings.warn(f"skipping the batch at {where}: non-finite training loss {value}", RuntimeWarning,
                      stacklevel=4)
        self.optimizer.zero_grad(set_to_none=True)
        return False

    def _end_epoch(self, val_batches_fn, run: _RunState) -> None:
        loss_sum, count = distributed.all_reduce_sum([run.loss_sum, float(run.sample_count)], self.device)
        val_loss = self.evaluate(val_batches_fn()) if val_batches_fn is not None else None
        record = {"epoch": run.epoch, "train_loss": loss_sum / count if count else None, "val_loss": val_loss,
                  "lr": self._lr(run), "seconds": run.epoch_seconds, "steps": run.global_step}
        run.history.append(record)
        if val_loss is not None:
            self._track_best(val_loss, run)
        # advanced before the callbacks: a checkpoint written now resumes with the next epoch
        run.epoch, run.batches_done, run.loss_sum, run.sample_count, run.epoch_seconds = run.epoch + 1, 0, 0.0, 0, 0.0
        for callback in self._active.values():
            callback.on_epoch_end(self, record)
        if self.on_epoch_end is not None:
            self.on_epoch_end(record)

    def _track_best(self, val_loss: float, run: _RunState) -> None:
        if run.best_val_loss is None or val_loss < run.best_val_loss:
            run.best_val_loss, run.best_epoch = val_loss, run.epoch
            self._best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def _lr(self, run: _RunState) -> float:
        return run.lr if run.lr is not None else self.optimizer.param_groups[0]["lr"]  # before the first step

    def _to_device(self, value: Any) -> Any:
        return _map_tensors(lambda tensor: tensor.to(self.device), value)

    def _autocast(self):
        if self.options.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)  # bfloat16 needs no gradient scaler
        return nullcontext()

    @contextmanager
    def _determinism(self):
        previous = torch.are_deterministic_algorithms_enabled()
        if self.options.deterministic and self.device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)  # a global switch: leave it as found


def _map_tensors(fn: Callable[[Tensor], Tensor], value: Any) -> Any:
    """`value` with `fn` applied to every tensor in it (nested tuples, named tuples, lists, dicts)."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # named tuples keep their type
        return type(value)(*(_map_tensors(fn, item) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(fn, item) for item in value)
    if isinstance(value, dict):
        return {key: _map_tensors(fn, item) for key, item in value.items()}
    return value


def batch_rows(targets: Any) -> int:
    """The first dimension of the first tensor in `targets` (losses are weighted by it)."""
    if isinstance(targets, Tensor):
        return int(targets.shape[0]) if targets.dim() else 1
    items = targets.values() if isinstance(targets, dict) else targets if isinstance(targets, (tuple, list)) else ()
    for item in items:
        return batch_rows(item)
    return 1
