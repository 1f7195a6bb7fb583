"""Distributed data parallel under torchrun, and nothing when run as one process.

torchrun (or any launcher) sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
`init_from_env` reads them. Every rank builds the same global batch (the same data function with
the same seeded generator) and trains on its own contiguous slice (`shard`); with a loss that is a
mean over the batch, DDP's gradient averaging then gives the update of one process on the global
batch (exactly so when the slices are equal in size).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


def init_from_env() -> bool:
    """Joins the process group described by torchrun's environment variables.

    Backend gloo on CPU, nccl when CUDA is available (each rank then uses cuda:LOCAL_RANK).
    A no-op returning False when WORLD_SIZE is absent or the group is already initialised.

    Returns:
        True if this call initialised a process group.
    """
    if "WORLD_SIZE" not in os.environ or dist.is_initialized():
        return False
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    return True


def is_distributed() -> bool:
    """True when a process group with more than one member is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0, and always when not distributed: the process that writes files."""
    return rank() == 0


def wrap_model(model: nn.Module) -> nn.Module:
    """`model` in DistributedDataParallel when distributed (once); `model` itself otherwise."""
    if not is_distributed() or isinstance(model, DistributedDataParallel):
        return model
    device = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (whose state_dict has no 'module.' prefix)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard(batch: Any, rank: int, world: int) -> Any:
    """This rank's contiguous slice along dim 0 of every tensor in `batch` (nested tuples/lists/dicts).

    Args:
        batch: a tensor or a nested structure of tensors sharing their first dimension.
        rank: this process's rank, in [0, world).
        world: the number of processes; the first dimension must be divisible by it, because
            unequal slices would weight the ranks' mean losses unequally.

    Returns:
        The same structure with each tensor sliced.

    Raises:
        ValueError: for a rank outside [0, world) or a batch size not divisible by `world`.
    """
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, world={world}); received {rank!r}")
    if isinstance(batch, Tensor):
        if batch.shape[0] % world:
            raise ValueError(f"batch size must be divisible by the world size {world}; received {batch.shape[0]}")
        size = batch.shape[0] // world
        return batch[rank * size:(rank + 1) * size]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # named tuples keep their type
        return type(batch)(*(shard(item, rank, world) for item in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(shard(item, rank, world) for item in batch)
    if isinstance(batch, dict):
        return {key: shard(value, rank, world) for key, value in batch.items()}
    return batch


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sums numbers over ranks (identity when not distributed); float64 to keep totals exact enough."""
    if not is_distributed():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True if `flag` is True on any rank, so that all ranks take the same branch (no DDP hang)."""
    if not is_distributed():
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())
