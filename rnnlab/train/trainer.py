"""A task-agnostic trainer: any nn.Module, a loss function and functions that produce batches.

Reproducibility is by construction: the batches of epoch `e` come from
`train_batches_fn(e, torch.Generator().manual_seed(seed + e))`, a pure function of (seed, epoch), so
a run resumed from a checkpoint taken mid-epoch regenerates that epoch, skips the batches already
trained, and (with RNG, optimizer and scheduler states restored) ends with the same weights as an
uninterrupted run. Epochs and steps are counted from 1 everywhere (history, metrics, errors).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.train import distributed
from rnnlab.train.checkpoint import latest_checkpoint, load_checkpoint, restore_rng, save_checkpoint
from rnnlab.train.optim import build_optimizer, build_scheduler
from rnnlab.train.progress import MetricsLog, ProgressBar

Batch = tuple[Any, Any]  # (inputs, targets)


class NonFiniteLossError(RuntimeError):
    """A training loss was NaN or infinite and `nonfinite="stop"`; names where and what."""

    def __init__(self, message: str, *, epoch: int, step: int, value: float) -> None:
        super().__init__(message)
        self.epoch, self.step, self.value = epoch, step, value


class SupportsTruncatedBPTT(Protocol):
    """A model that can be run chunk by chunk over time, carrying its recurrent state.

    `model(xs, state)` takes a batch-first chunk `xs` of shape (B, T_chunk, ...) and the state left
    by the previous chunk (None for the first) and returns `(outputs, state)`, where `outputs` is
    aligned with the chunk's time steps (B, T_chunk, ...) and `state` is any nesting of tensors
    (a tensor, named tuple, tuple, list or dict). `rnnlab.LSTM(..., batch_first=True)` and a
    sequence-to-sequence model built on it satisfy this.
    """

    def __call__(self, xs: Tensor, state: Any = None) -> tuple[Tensor, Any]: ...


@dataclass(frozen=True)
class TrainerOptions:
    """How to train; the one config object of the training edge, saved with every checkpoint.

    Attributes:
        optimizer: "adam", "adamw" or "sgd" (momentum 0.9).
        learning_rate: peak learning rate.
        weight_decay: L2 penalty (decoupled for adamw).
        schedule: None/"constant", "cosine", "step" or "linear", per optimizer step (see `build_scheduler`).
        warmup_steps: optimizer steps of linear warm-up.
        epochs: maximum number of epochs.
        grad_clip_norm: clip the global gradient norm to this; 0 disables.
        grad_clip_value: clip each gradient element to ±this (applied before the norm clip); 0 disables.
        early_stopping_patience: stop after this many epochs without a lower validation loss; 0 disables.
        nonfinite: on a NaN/Inf training loss, "stop" (raise NonFiniteLossError) or "skip" the batch
            with a warning.
        tbptt_steps: if > 0, truncated backpropagation through time over chunks of this many steps
            of the batch-first time axis (dim 1 of inputs and targets). The model must satisfy
            `SupportsTruncatedBPTT`, and the loss function is called per chunk as
            `loss_fn(outputs_chunk, targets_chunk)`, so the loss must be aligned with time
            (sequence-to-sequence). Gradients of all chunks are accumulated (each chunk's loss
            weighted by its share of T) and one optimizer step is taken per batch.
        checkpoint_every_steps: also checkpoint every this many optimizer steps (always at each
            epoch's end); 0: epoch ends only.
        seed: seeds torch/numpy/python at the start and the per-epoch batch generator.
        amp: bfloat16 autocast on CUDA; ignored (with a warning) on CPU.
        deterministic: torch.use_deterministic_algorithms(True) during fit, on CPU only (CUDA would
            need CUBLAS_WORKSPACE_CONFIG set before start-up).
    """

    optimizer: str = "adam"
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    schedule: str | None = None
    warmup_steps: int = 0
    epochs: int = 50
    grad_clip_norm: float = 1.0
    grad_clip_value: float = 0.0
    early_stopping_patience: int = 10
    nonfinite: str = "stop"
    tbptt_steps: int = 0
    checkpoint_every_steps: int = 0
    seed: int = 0
    amp: bool = False
    deterministic: bool = True

    def __post_init__(self) -> None:
        if self.nonfinite not in ("stop", "skip"):
            raise ValueError(f"nonfinite must be 'stop' or 'skip'; received {self.nonfinite!r}")
        for name in ("epochs",):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer; received {getattr(self, name)!r}")
        for name in ("early_stopping_patience", "tbptt_steps", "checkpoint_every_steps", "warmup_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative integer; received {getattr(self, name)!r}")
        for name in ("grad_clip_norm", "grad_clip_value"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0 (0 disables); received {getattr(self, name)!r}")


@dataclass(frozen=True)
class TrainResult:
    """What `Trainer.fit` returns.

    Attributes:
        history: one dict per epoch: epoch, train_loss, val_loss (None without validation), lr
            (that of the epoch's last optimizer step), seconds, steps (optimizer steps so far).
        best_epoch: the epoch of the lowest validation loss, or None without validation.
        best_val_loss: that loss, or None.
        stopped_early: True if early stopping ended the run.
        steps: optimizer steps taken in the whole run.
    """

    history: list[dict[str, Any]]
    best_epoch: int | None
    best_val_loss: float | None
    stopped_early: bool
    steps: int


@dataclass
class _RunState:
    """Where a run is; everything here goes into trainer_state.json."""

    epoch: int = 1  # the epoch in progress
    batches_done: int = 0  # batches of this epoch already consumed (trained or skipped)
    global_step: int = 0  # optimizer steps of the whole run
    loss_sum: float = 0.0  # this epoch's sample-weighted loss so far, so a resumed epoch reports it exactly
    sample_count: int = 0
    epoch_seconds: float = 0.0
    lr: float | None = None  # the learning rate of the latest optimizer step
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val_loss: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False


class Trainer:
    """Trains `model` by minimising `loss_fn(model(inputs), targets)` over batches.

    Under torchrun (after `distributed.init_from_env()`), the model is wrapped in
    DistributedDataParallel, every rank draws the same global batches and trains on its own slice
    of each (`distributed.shard`), and only rank 0 writes checkpoints and metrics.

    Args:
        model: the module to train, already on its device (batches are moved there).
        loss_fn: `loss_fn(outputs, targets) -> scalar tensor`, a mean over the batch.
        options: the training options.
        run_dir: where metrics.jsonl and checkpoint/ go; None writes nothing (and cannot resume).
        on_epoch_end: called on every rank with each epoch's history record.
        quiet: no progress output at all.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[[Any, Any], Tensor], options: TrainerOptions, *,
                 run_dir: Path | None, on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
                 quiet: bool = False) -> None:
        if not isinstance(options, TrainerOptions):
            raise TypeError(f"options must be a TrainerOptions; received {type(options).__name__}")
        self.module = distributed.unwrap_model(model)
        self.model = distributed.wrap_model(self.module)
        self.loss_fn, self.options, self.on_epoch_end = loss_fn, options, on_epoch_end
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.device = next(self.module.parameters()).device
        self.optimizer = build_optimizer(self.module.parameters(), options.optimizer, options.learning_rate,
                                         options.weight_decay)
        self.scheduler = None
        self.progress = ProgressBar(options.epochs, quiet=quiet or not distributed.is_main())
        self._best_state: dict[str, Tensor] | None = None
        if options.amp and self.device.type != "cuda":
            warnings.warn(f"amp=True is ignored on device {self.device}: autocast is used on CUDA only",
                          stacklevel=2)

    def fit(self, train_batches_fn: Callable[[int, torch.Generator], Iterable[Batch]],
            val_batches_fn: Callable[[], Iterable[Batch]] | None = None, *, resume: bool = False) -> TrainResult:
        """Trains for `options.epochs` epochs (or until early stopping).

        Args:
            train_batches_fn: `(epoch, generator) -> iterable of (inputs, targets)`; all its
                randomness (shuffling, sampling) must come from `generator`. Called once more with
                epoch 1 at the start to count the batches of an epoch (for the schedule).
            val_batches_fn: `() -> iterable of (inputs, targets)`, or None for no validation.
                With validation, the best weights (lowest validation loss) are restored at the end.
            resume: continue from run_dir's checkpoint (from scratch, with a warning, if none).

        Returns:
            The run's `TrainResult`.
        """
        with self._determinism():
            steps_per_epoch = self._count_batches(train_batches_fn)
            self.scheduler = build_scheduler(self.optimizer, self.options.schedule,
                                             self.options.epochs * steps_per_epoch, self.options.warmup_steps)
            run = self._start(resume)
            while run.epoch <= self.options.epochs and not run.stopped_early:
                self._train_epoch(train_batches_fn, run, steps_per_epoch)
                self._end_epoch(val_batches_fn, run)
        if self._best_state is not None and val_batches_fn is not None:
            self.module.load_state_dict(self._best_state)
        return TrainResult(history=list(run.history), best_epoch=run.best_epoch, best_val_loss=run.best_val_loss,
                           stopped_early=run.stopped_early, steps=run.global_step)

    def evaluate(self, batches: Iterable[Batch]) -> float:
        """The sample-weighted mean of `loss_fn` over `batches`, in eval mode without gradients."""
        was_training = self.module.training
        self.module.eval()
        total, count = 0.0, 0
        with torch.no_grad(), self._autocast():
            for inputs, targets in batches:
                inputs, targets = _to_device(inputs, self.device), _to_device(targets, self.device)
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

    def _count_batches(self, train_batches_fn) -> int:
        batches = train_batches_fn(1, torch.Generator().manual_seed(self.options.seed + 1))
        count = len(batches) if hasattr(batches, "__len__") else sum(1 for _ in batches)
        if count == 0:
            raise ValueError("train_batches_fn must yield at least one batch per epoch; received none")
        return count

    def _start(self, resume: bool) -> _RunState:
        metrics = self._metrics()
        if resume:
            if self.run_dir is None:
                raise ValueError("resume=True needs a run_dir; received run_dir=None")
            if latest_checkpoint(self.run_dir / "checkpoint") is not None:
                state = load_checkpoint(self.run_dir / "checkpoint", model=self.module, optimizer=self.optimizer,
                                        scheduler=self.scheduler)
                restore_rng(state.pop("rng"))
                self._best_state = state.pop("best_model_state", None)
                state.pop("options", None)
                run = _RunState(**state)
                if metrics is not None:
                    metrics.truncate(run.epoch - 1)  # lines of epochs after the checkpoint's
                return run
            warnings.warn(f"resume=True but {self.run_dir / 'checkpoint'} holds no checkpoint; "
                          "training from scratch", stacklevel=3)
        torch.manual_seed(self.options.seed)
        np.random.seed(self.options.seed)
        random.seed(self.options.seed)
        if metrics is not None:
            metrics.truncate(0)  # a fresh run into an old run_dir starts a fresh log
        return _RunState()

    def _train_epoch(self, train_batches_fn, run: _RunState, steps_per_epoch: int) -> None:
        generator = torch.Generator().manual_seed(self.options.seed + run.epoch)
        started = time.monotonic() - run.epoch_seconds
        every = self.options.checkpoint_every_steps
        for index, (inputs, targets) in enumerate(train_batches_fn(run.epoch, generator)):
            if index < run.batches_done:
                continue  # trained before the interruption this run resumes from
            stepped = self._train_step(inputs, targets, run)
            run.batches_done += 1
            run.epoch_seconds = time.monotonic() - started
            running = run.loss_sum / run.sample_count if run.sample_count else math.nan
            self.progress.step(run.epoch, run.batches_done, steps_per_epoch, running)
            if stepped and every and run.global_step % every == 0:
                self._save(run)

    def _train_step(self, inputs, targets, run: _RunState) -> bool:
        """One optimizer step on one batch; False if the batch was skipped for a non-finite loss."""
        inputs, targets = _to_device(inputs, self.device), _to_device(targets, self.device)
        if distributed.is_distributed():
            inputs = distributed.shard(inputs, distributed.rank(), distributed.world_size())
            targets = distributed.shard(targets, distributed.rank(), distributed.world_size())
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._forward_backward(inputs, targets, run)
        if loss is None:
            return False
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
        return True

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
            state = _detach(state)  # the truncation: no gradient flows into earlier chunks
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
        lr = run.lr if run.lr is not None else self.optimizer.param_groups[0]["lr"]
        record = {"epoch": run.epoch, "train_loss": loss_sum / count if count else None, "val_loss": val_loss,
                  "lr": lr, "seconds": run.epoch_seconds, "steps": run.global_step}
        run.history.append(record)
        if val_loss is not None:
            self._track_best(val_loss, run)
        run.epoch, run.batches_done, run.loss_sum, run.sample_count, run.epoch_seconds = run.epoch + 1, 0, 0.0, 0, 0.0
        metrics = self._metrics()
        if metrics is not None:
            metrics.append(record)  # before the checkpoint: a resume then drops this line, never misses it
        self._save(run)
        self.progress.epoch_end(record)
        if self.on_epoch_end is not None:
            self.on_epoch_end(record)

    def _track_best(self, val_loss: float, run: _RunState) -> None:
        if run.best_val_loss is None or val_loss < run.best_val_loss:
            run.best_val_loss, run.best_epoch, run.bad_epochs = val_loss, run.epoch, 0
            self._best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            return
        run.bad_epochs += 1
        patience = self.options.early_stopping_patience
        run.stopped_early = bool(patience) and run.bad_epochs >= patience

    def _save(self, run: _RunState) -> None:
        if self.run_dir is None or not distributed.is_main():
            return
        state = {**dataclasses.asdict(run), "options": dataclasses.asdict(self.options)}
        save_checkpoint(self.run_dir / "checkpoint", model=self.module, optimizer=self.optimizer,
                        scheduler=self.scheduler, state=state, best_model_state=self._best_state)

    def _metrics(self) -> MetricsLog | None:
        if self.run_dir is None or not distributed.is_main():
            return None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return MetricsLog(self.run_dir / "metrics.jsonl")

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


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_to_device(item, device) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(item, device) for item in value)
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    return value


def _detach(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(_detach(item) for item in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_detach(item) for item in state)
    if isinstance(state, dict):
        return {key: _detach(item) for key, item in state.items()}
    return state


def batch_rows(targets: Any) -> int:
    """The first dimension of the first tensor in `targets` (losses are weighted by it)."""
    if isinstance(targets, Tensor):
        return int(targets.shape[0]) if targets.dim() else 1
    items = targets.values() if isinstance(targets, dict) else targets if isinstance(targets, (tuple, list)) else ()
    for item in items:
        return batch_rows(item)
    return 1
