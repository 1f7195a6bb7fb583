"""Optimizers and learning-rate schedules by name, for the training edge.

Schedules are per optimizer step and are `LambdaLR`s over a plain function of the step, so their
state_dict holds numbers only and a checkpoint stores it as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "linear")


def build_optimizer(parameters: Iterable[nn.Parameter], name: str, learning_rate: float,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Builds an optimizer by name.

    Args:
        parameters: the parameters to optimise.
        name: "adam", "adamw" or "sgd" (SGD with momentum 0.9).
        learning_rate: the (peak) learning rate, > 0.
        weight_decay: L2 penalty (decoupled for "adamw"), >= 0.

    Returns:
        The optimizer.

    Raises:
        ValueError: for an unknown name or an out-of-range number.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer name must be one of {', '.join(map(repr, OPTIMIZERS))}; received {name!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0; received {learning_rate!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0; received {weight_decay!r}")
    parameters = list(parameters)  # tried twice below
    optimizer_type, options = {
        "adam": (torch.optim.Adam, {}),
        "adamw": (torch.optim.AdamW, {}),
        "sgd": (torch.optim.SGD, {"momentum": 0.9}),
    }[name]
    try:
        # one fused kernel for all parameters: 3x faster steps than the per-tensor loop for small models on the CPU
        return optimizer_type(parameters, lr=learning_rate, weight_decay=weight_decay, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # a torch, device or dtype without the fused kernel
        return optimizer_type(parameters, lr=learning_rate, weight_decay=weight_decay, **options)


def build_scheduler(optimizer: torch.optim.Optimizer, name: str | None, total_steps: int,
                    warmup_steps: int = 0) -> LambdaLR:
    """Builds a per-step learning-rate schedule: the optimizer's lr times a factor of the step.

    With `w = warmup_steps`, the factor is `(s + 1) / w` for steps `s < w` (linear warm-up), then,
    with `p = (s - w) / (total_steps - w)` the fraction of the remaining training done:

        constant (or None):  1
        cosine:              (1 + cos(π p)) / 2          from 1 down to 0
        step:                0.5 ** floor(3 p)           halved after each third of training
        linear:              1 - p                       from 1 down to 0

    Call `scheduler.step()` after every `optimizer.step()`.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        name: None, "constant", "cosine", "step" or "linear".
        total_steps: optimizer steps in the whole run, > 0.
        warmup_steps: steps of linear warm-up at the start, in [0, total_steps).

    Returns:
        A `LambdaLR`.

    Raises:
        ValueError: for an unknown name or inconsistent step counts.
    """
    name = "constant" if name is None else name
    if name not in SCHEDULES:
        raise ValueError(f"schedule name must be None or one of {', '.join(map(repr, SCHEDULES))}; "
                         f"received {name!r}")
    if not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(f"total_steps must be a positive integer; received {total_steps!r}")
    if not isinstance(warmup_steps, int) or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_steps must be an integer in [0, total_steps={total_steps}); "
                         f"received {warmup_steps!r}")
    return LambdaLR(optimizer, _schedule_factor(name, total_steps, warmup_steps))


def _schedule_factor(name: str, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        if name == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if name == "step":
            return 0.5 ** min(2, math.floor(3 * progress))  # 1, 1/2, 1/4: the last third keeps 1/4
        if name == "linear":
            return 1.0 - progress
        return 1.0

    return factor
