"""Training: a task-agnostic trainer, safetensors+JSON checkpoints, optimizers, progress, DDP helpers.

The public API is exactly what this module re-exports.
"""

from rnnlab.train.checkpoint import latest_checkpoint, load_checkpoint, restore_rng, save_checkpoint
from rnnlab.train.distributed import init_from_env, is_main, shard, wrap_model
from rnnlab.train.optim import build_optimizer, build_scheduler
from rnnlab.train.progress import MetricsLog, ProgressBar
from rnnlab.train.trainer import (
    NonFiniteLossError,
    SupportsTruncatedBPTT,
    Trainer,
    TrainerOptions,
    TrainResult,
)

__all__ = [
    "MetricsLog",
    "NonFiniteLossError",
    "ProgressBar",
    "SupportsTruncatedBPTT",
    "TrainResult",
    "Trainer",
    "TrainerOptions",
    "build_optimizer",
    "build_scheduler",
    "init_from_env",
    "is_main",
    "latest_checkpoint",
    "load_checkpoint",
    "restore_rng",
    "save_checkpoint",
    "shard",
    "wrap_model",
]
