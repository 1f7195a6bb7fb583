"""The series classifier's baseline beyond the majority class: 1-nearest-neighbour on resampled sequences.

Every sequence is resampled to one length L by linear interpolation (`resample`), flattened to
L·C numbers, and takes the label of the closest training sequence in Euclidean distance
(`nearest_neighbour`): the classic UCR/UEA baseline, with nothing to tune.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def resample(values: np.ndarray, length: int) -> np.ndarray:
    """A sequence stretched or squeezed to `length` steps by linear interpolation, channel by channel.

    Step j of the result is the sequence read at position j·(T−1)/(length−1) of its own time axis
    (interpolating between the two neighbouring steps), so the first and last steps are kept. A
    sequence of one step is repeated.

    Args:
        values: (T, C) with T ≥ 1.
        length: the number of steps wanted (≥ 1).

    Returns:
        (length, C) float64.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError(f"values must have shape (T ≥ 1, C); received {values.shape}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer; received {length!r}")
    length = int(length)  # numpy integers (e.g. a max over lengths) are welcome
    if len(values) == 1:
        return np.repeat(values, length, axis=0)
    positions = np.linspace(0.0, len(values) - 1, length)                  # (length,)
    steps = np.arange(len(values))
    return np.stack([np.interp(positions, steps, values[:, c]) for c in range(values.shape[1])], axis=1)


def nearest_neighbour(train_series: Sequence[np.ndarray], train_labels: Sequence, query_series: Sequence[np.ndarray],
                      length: int) -> np.ndarray:
    """1-nearest-neighbour labels with Euclidean distance on sequences resampled to `length` steps.

        d(a, b) = ‖resample(a, L) − resample(b, L)‖₂   over all L·C numbers
        ŷ(q) = label of argmin_i d(q, train_i)          (ties: the first training sequence)

    Args:
        train_series: N arrays (T_i, C); train_labels: their N labels.
        query_series: M arrays (T_j, C) with the same C.
        length: L, the common length (e.g. the longest training sequence).

    Returns:
        (M,) array of predicted labels.
    """
    if len(train_series) == 0 or len(train_series) != len(train_labels):
        raise ValueError(f"train_series and train_labels must be non-empty and of the same length; received "
                         f"{len(train_series)} and {len(train_labels)}")
    train = np.stack([resample(values, length).ravel() for values in train_series])   # (N, L*C)
    query = np.stack([resample(values, length).ravel() for values in query_series])   # (M, L*C)
    if train.shape[1] != query.shape[1]:
        raise ValueError(f"query_series must have the training sequences' {train_series[0].shape[1]} channels; "
                         f"received {query_series[0].shape[1]}")
    # ‖q − t‖² = ‖q‖² − 2 q·t + ‖t‖²; the argmin does not need the square root
    distances = (query ** 2).sum(1)[:, None] - 2 * query @ train.T + (train ** 2).sum(1)[None, :]  # (M, N)
    return np.asarray(train_labels)[distances.argmin(axis=1)]
