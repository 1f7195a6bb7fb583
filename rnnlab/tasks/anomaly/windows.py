"""What an anomaly model trains and validates on: the spans of a series' normal prefix, cut into windows.

    split(...)               the training span [0, train_end) and the calibration span
                             [train_end, normal_until), each checked long enough for its use
    training_sets(...)       (X, Y) training windows and the validation set
    held_out_windows(...)    windows of the calibration span shaped as the training windows (the probe's)
    validation_sets(...)     the validation set and held-out windows of a separate normal series
    masked_mse               the training loss: mean squared error over the finite targets

A forecaster trains on windows of `window` + 1 points (X the first `window`, Y the next step of
each) and validates on the normal prefix read in one pass from a zero state, as detection reads
it; an autoencoder trains and validates on windows of `recon_window` points, Y = X.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.frames import quoted


class Spans(NamedTuple):
    train_end: int      # [0, train_end): trains the model, fits the scales
    normal_until: int   # [train_end, normal_until): validates and calibrates τ; the rest is tested


def split(config, series, data: Any, validated: bool = False) -> Spans:
    """The spans of `series` (an `AnomalySeries` of `data`), checked: each must be long enough for its use.

    With `validated` (a separate validation series calibrates), the whole normal prefix trains.
    """
    n, until = len(series.values), series.normal_until
    if until is None:
        raise ValueError(f"normal_until is required for a file or data in memory (how many leading points are "
                         f"normal); received None for {quoted(data)}")
    if not 2 <= until < n:
        raise DataError(f"normal_until must be in [2, {n}) for {quoted(data)} ({n} points), leaving points to "
                        f"detect on; received {until}")
    train_end = until if validated else until - max(1, int(until * config.calibration_fraction))
    needed = needed_points(config)
    if train_end < needed:
        raise DataError(f"the training span of {quoted(data)} ({train_end} of the first {until} normal points) "
                        f"is shorter than one training window of {needed} points")
    if series.labels is not None and series.labels[:until].any():
        first = int(np.argmax(series.labels[:until]))
        raise DataError(f"{quoted(data)}: point {first} is labelled anomalous but normal_until={until} says the "
                        "first points are normal")
    return Spans(train_end, until)


def needed_points(config) -> int:
    """The points of one training window."""
    return config.window + 1 if config.method == "forecast" else config.recon_window


def _sliding(xs: np.ndarray, width: int) -> np.ndarray:
    """Every window of `width` consecutive rows of xs (N, C), as a writable (N - width + 1, width, C) array."""
    windows = np.lib.stride_tricks.sliding_window_view(xs, width, axis=0).transpose(0, 2, 1)
    return np.ascontiguousarray(windows)  # a writable copy: torch refuses read-only views


def masked_mse(outputs, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite targets (NaN marks steps that do not count)."""
    predictions = outputs[0] if isinstance(outputs, tuple) else outputs   # the forecaster returns (ŷ, state)
    keep = torch.isfinite(targets)
    return torch.mean((predictions[keep] - targets[keep]) ** 2)


def training_sets(config, xs: np.ndarray, spans: Spans) -> tuple[tuple, tuple]:
    """((X, Y) training windows, (X, Y) validation) from the standardised series xs (N, C).

    forecast: windows of `window` + 1 training points, X = the first `window`, Y = the next step
    of each; validation is the whole normal prefix read in one pass from a zero state (as
    detection reads it), the loss counting only forecasts of calibration points.
    reconstruction: every window of W training points, Y = X; validation: the windows whose
    newest point is a calibration point.
    """
    train, until = xs[: spans.train_end], spans.normal_until
    if config.method == "forecast":
        segments = _sliding(train, config.window + 1)
        targets = xs[1:until].copy()
        targets[: spans.train_end - 1] = np.nan              # forecasts of training points do not count
        return (segments[:, :-1], segments[:, 1:]), (xs[None, : until - 1], targets[None])
    windows = _sliding(xs[:until], config.recon_window)
    first_val = spans.train_end - config.recon_window + 1   # the window whose newest point is train_end
    return (windows[:first_val], windows[:first_val]), (windows[first_val:], windows[first_val:])


def held_out_windows(config, xs: np.ndarray, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) windows of the held-out normal points (the calibration span), shaped as the training windows.

    reconstruction: the validation windows of `training_sets`, those whose newest point is a
    calibration point. forecast: segments of `window` + 1 normal points, X its first `window` and
    Y the next step of each, whose forecasts are all of calibration points; when that span is
    shorter than a window, the segments whose newest point is one, with the forecasts of training
    points set to NaN (`masked_mse` skips them, as validation does). No window for a run whose
    whole normal prefix trained (it validated on other data).
    """
    if config.method == "reconstruction":
        return training_sets(config, xs, spans)[1]
    window, train_end, until = config.window, spans.train_end, spans.normal_until
    if until == train_end:  # a run that calibrated on validation data: no held-out span of its own
        return np.zeros((0, window, xs.shape[1])), np.zeros((0, window, xs.shape[1]))
    first = train_end - 1 if until - train_end >= window else train_end - window  # first segment's first point
    segments = np.lib.stride_tricks.sliding_window_view(xs[first:until], window + 1, axis=0).transpose(0, 2, 1)
    targets = segments[:, 1:].copy()  # (M, window, C)
    predicted = first + 1 + np.arange(len(segments))[:, None] + np.arange(window)  # (M, window): index of each target
    targets[predicted < train_end] = np.nan
    return np.ascontiguousarray(segments[:, :-1]), targets


def validation_sets(config, xs: np.ndarray, argument: str) -> tuple[tuple, tuple]:
    """((X, Y) validation, (X, Y) held-out windows) of a separate normal series xs (M, C), standardised.

    forecast: validation reads the whole series in one pass from a zero state; the held-out
    windows are its segments of `window` + 1 points (the whole series as one if it is shorter).
    reconstruction: both are its windows of W points, Y = X.
    """
    needed = 2 if config.method == "forecast" else config.recon_window
    if len(xs) < needed:
        raise DataError(f"{argument} has {len(xs)} points; validating the {config.method} detector needs at least "
                        f"{needed}")
    if config.method == "reconstruction":
        windows = _sliding(xs, config.recon_window)
        return (windows, windows), (windows, windows)
    whole = (np.ascontiguousarray(xs[None, :-1]), np.ascontiguousarray(xs[None, 1:]))
    if len(xs) < config.window + 1:
        return whole, whole
    segments = _sliding(xs, config.window + 1)
    return whole, (segments[:, :-1], segments[:, 1:])
