"""Training: a task-agnostic trainer and its callbacks, safetensors+JSON checkpoints, optimizers, DDP helpers.

The public API is exactly what this module re-exports.
"""

from rnnlab.train.callbacks import BatchRecord, Callback, Checkpoint, EarlyStopping, TensorBoard
from rnnlab.train.checkpoint import latest_checkpoint, load_checkpoint, restore_rng, save_checkpoint
from rnnlab.train.distributed import init_from_env, is_main, shard, wrap_model
from rnnlab.train.optim import build_optimizer, build_scheduler
from rnnlab.train.progress import MetricsLog, MetricsLogger, ProgressBar
from rnnlab.train.options import NonFiniteLossError, SupportsTruncatedBPTT, TrainerOptions, TrainResult
from rnnlab.train.trainer import Trainer

__all__ = [
    "BatchRecord",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "MetricsLog",
    "MetricsLogger",
    "NonFiniteLossError",
    "ProgressBar",
    "SupportsTruncatedBPTT",
    "TensorBoard",
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
