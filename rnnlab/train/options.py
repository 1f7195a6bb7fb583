"""The trainer's options and results: what `rnnlab.train.Trainer` is told and what it returns.

`TrainerOptions` is the one config object of the training edge (saved with every checkpoint);
`TrainResult` is what a fit gives back; `_RunState` is where a run is (saved in
trainer_state.json, restored on resume).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import Tensor


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
        early_stopping_patience: stop after this many epochs without a lower validation loss (an
            `EarlyStopping` callback, added when `fit` has validation); 0 disables.
        nonfinite: on a NaN/Inf training loss, "stop" (raise NonFiniteLossError) or "skip" the batch
            with a warning.
        tbptt_steps: if > 0, truncated backpropagation through time over chunks of this many steps
            of the batch-first time axis (dim 1 of inputs and targets). The model must satisfy
            `SupportsTruncatedBPTT`, and the loss function is called per chunk as
            `loss_fn(outputs_chunk, targets_chunk)`, so the loss must be aligned with time
            (sequence-to-sequence). Gradients of all chunks are accumulated (each chunk's loss
            weighted by its share of T) and one optimizer step is taken per batch.
        checkpoint_every_steps: run_dir's `Checkpoint` callback also checkpoints every this many
            optimizer steps (always at each epoch's end); 0: epoch ends only.
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
        stopped_early: True if a callback (EarlyStopping, or any that set `trainer.stop_training`)
            ended the run.
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
    stopped_early: bool = False  # trainer.stop_training
