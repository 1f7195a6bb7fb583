"""Sliding windows over a series: (inputs, targets) pairs for one-step or multi-step forecasting.

A window is ``window`` consecutive steps of every column, and its target is the next ``horizon``
values of the target column:

    X[k] = values[t - window : t]             (window, C)   the past
    Y[k] = values[t : t + horizon, target]    (horizon,)    the future to forecast

for first-target indices t = t_0, t_0 + stride, ... With data 1..10, window 3 and horizon 1 this
gives the 7 pairs [1, 2, 3] -> 4, [2, 3, 4] -> 5, ..., [7, 8, 9] -> 10.
"""

import math
from collections.abc import Iterator

import numpy as np
import torch

from rnnlab.data.errors import DataError


def make_windows(values: np.ndarray, target_index: int, *, window: int, horizon: int = 1,
                 stride: int = 1, targets_from: int = 0,
                 targets_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``values`` into (input window, target block) pairs whose targets lie in a span.

    Every target value lies in [targets_from, targets_to), while inputs may reach back before
    ``targets_from`` as far as index 0. This is how validation and test spans are windowed: pass
    ``targets_from=train_end, targets_to=val_end`` and the first validation windows read their
    context from the end of the training span, yet no target of one span falls in another. The
    first target index t_0 is max(targets_from, window), the earliest with a full window behind it.

    Args:
        values: (N, C) series in time order.
        target_index: the target's column in ``values``.
        window: input steps per window (T), >= 1.
        horizon: target steps per window, >= 1 (1 is one-step-ahead forecasting).
        stride: steps between consecutive windows' first targets, >= 1.
        targets_from: first index whose value may be a target (0: as early as the window allows).
        targets_to: exclusive end of the target values; None means N.

    Returns:
        ``(X, Y)``: X (M, window, C) and Y (M, horizon), both float64, in time order.

    Raises:
        ValueError: naming the argument and value, if window/horizon/stride < 1, ``target_index``
            or the span is out of range, or ``values`` is not 2-D.
        DataError: if the series is shorter than window + horizon, or the span holds no window.
    """
    values = np.asarray(values, dtype=np.float64)
    num_steps = _check_arguments(values, target_index, window, horizon, stride)
    targets_to = num_steps if targets_to is None else targets_to
    if not 0 <= targets_from <= targets_to <= num_steps:
        raise ValueError(f"targets_from and targets_to must satisfy 0 <= targets_from <= targets_to "
                         f"<= N={num_steps}; received targets_from={targets_from}, "
                         f"targets_to={targets_to}")
    starts = window_starts(window=window, horizon=horizon, stride=stride, targets_from=targets_from,
                           targets_to=targets_to)                      # (M,) first target indices
    first = max(targets_from, window)
    if len(starts) == 0:
        raise DataError(f"no window fits: targets in [{targets_from}, {targets_to}) with window="
                        f"{window} and horizon={horizon} need targets_to >= {first + horizon}")
    X = values[starts[:, None] + np.arange(-window, 0)]               # (M, window, C)
    Y = values[starts[:, None] + np.arange(horizon), target_index]    # (M, horizon)
    return X, Y


def window_starts(*, window: int, horizon: int, stride: int, targets_from: int, targets_to: int) -> np.ndarray:
    """The first target index of every window `make_windows` cuts with these arguments, (M,).

    The first is max(targets_from, window), the earliest with a full window behind it; the last
    leaves room for the horizon before targets_to.
    """
    return np.arange(max(targets_from, window), targets_to - horizon + 1, stride)


def _check_arguments(values, target_index, window, horizon, stride) -> int:
    """Validate make_windows' arguments; return N."""
    if values.ndim != 2:
        raise ValueError(f"values must have shape (N, C); received shape {values.shape}")
    for arg, value in (("window", window), ("horizon", horizon), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be a positive integer; received {value!r}")
    num_steps, num_columns = values.shape
    if not 0 <= target_index < num_columns:
        raise ValueError(f"target_index must be in [0, {num_columns}); received {target_index!r}")
    if num_steps < window + horizon:
        raise DataError(f"series of {num_steps} points is too short for window={window} + "
                        f"horizon={horizon}: needs at least {window + horizon}")
    return num_steps


def num_batches(num_windows: int, batch_size: int) -> int:
    """Number of batches `batches` yields for ``num_windows`` windows (the last may be partial)."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}")
    return math.ceil(num_windows / batch_size)


def batches(X: np.ndarray, Y: np.ndarray, batch_size: int, *, shuffle: bool,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate over (inputs, targets) mini-batches as float32 tensors, batch-first.

    Args:
        X: (M, T, C) input windows, as from `make_windows`.
        Y: (M, horizon) targets.
        batch_size: windows per batch, >= 1; the last batch holds the remainder.
        shuffle: if True, visit windows in the order of ``torch.randperm(M, generator=generator)``
            (the same generator state gives the same order); else in time order.
        generator: the random source for shuffling; None uses torch's global one.

    Returns:
        An iterator of ``(xs, ys)``: xs (B, T, C) and ys (B, horizon), float32, B <= batch_size.

    Raises:
        ValueError: if ``batch_size`` < 1 or X and Y hold different numbers of windows.
    """
    num_batches(len(X), batch_size)  # validates batch_size now, not at the first next()
    if len(X) != len(Y):
        raise ValueError(f"X and Y must hold the same number of windows; received {len(X)} and "
                         f"{len(Y)}")
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float32)         # (M, T, C)
    targets = torch.as_tensor(np.asarray(Y), dtype=torch.float32)        # (M, horizon)
    order = torch.randperm(len(inputs), generator=generator) if shuffle else torch.arange(len(inputs))
    return ((inputs[index], targets[index]) for index in order.split(batch_size))
