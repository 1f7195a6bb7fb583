"""Scoring a stream point by point: `ScoreStream`, and `stream_lines` behind `rnnlab detect`.

`ScoreStream(detector).update(v)` takes one new raw point v_t (C,) and returns its (score, flag):
the same numbers as `rnnlab.tasks.anomaly.detector.Detector.scores` on the whole series, computed
with carried state:

- forecast: one recurrent step per point with the state carried, and the stored forecast x̂_{t+1};
  O(1) work per point, whatever the stream's length.
- reconstruction: the last W points in a ring buffer; each new point completes one window, which
  is encoded and decoded: O(W) work per point, independent of the stream's length (not O(1)).
- naive: the previous point; O(1).
- smoothing: a running sum over the last k standardised residuals; O(1).

Both modes compute in float64 (runs load their model as a float64 copy), so they agree to
rounding (about 1e-12), far inside the 1e-6 the task promises.

`stream_lines` reads a CSV with `rnnlab.data.stream` (`follow_lines` one line at a time, following
a growing file as `tail -f` does; `RowReader` parsing each line as the whole-file reader would) and
prints each point's score as soon as its line is complete.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.data.errors import DataError
from rnnlab.data.stream import RowReader, follow_lines, format_header, format_line, select_channels, split_header
from rnnlab.tasks.anomaly.detector import Detector


class ScoreStream:
    """Scores a series one point at a time with carried state; equal to `Detector.scores` on it whole."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self._recent_z: collections.deque[float] = collections.deque(maxlen=detector.smooth)
        self._z_sum = 0.0
        self._state = None          # forecast: the recurrent state after the last point
        self._forecast = None       # forecast: x̂ for the next point, (C,)
        self._window: collections.deque[np.ndarray] = collections.deque(maxlen=detector.window)
        self._previous = None       # naive: the last point, (C,)

    def update(self, value: np.ndarray) -> tuple[float, bool]:
        """Takes the next raw point v_t (C,) and returns (a_t, a_t > τ)."""
        x = self.detector.standardise(value)
        residual = self._residual(x)
        z = float(np.mean(np.abs(residual) / self.detector.scale))
        if len(self._recent_z) == self._recent_z.maxlen:
            self._z_sum -= self._recent_z[0]  # the value the append below pushes out
        self._recent_z.append(z)
        self._z_sum += z
        score = self._z_sum / self.detector.smooth
        return score, score > self.detector.threshold

    def _residual(self, x: np.ndarray) -> np.ndarray:
        method, model = self.detector.method, self.detector.model
        if method == "naive":
            residual = np.zeros_like(x) if self._previous is None else x - self._previous
            self._previous = x
            return residual
        if method == "forecast":
            residual = np.zeros_like(x) if self._forecast is None else x - self._forecast
            with torch.no_grad():
                prediction, self._state = model(_tensor(x[None, None], model), self._state)  # (1, 1, C)
            self._forecast = prediction[0, 0].double().cpu().numpy()
            return residual
        self._window.append(x)
        if len(self._window) < self.detector.window:
            return np.zeros_like(x)
        with torch.no_grad():
            newest = model(_tensor(np.stack(self._window)[None], model))[0, -1]   # (C,)
        return x - newest.double().cpu().numpy()


def _tensor(values: np.ndarray, model: nn.Module) -> torch.Tensor:
    parameter = next(model.parameters())
    return torch.as_tensor(values, dtype=parameter.dtype, device=parameter.device)


def stream_lines(detector: Detector, path: Path, channels: list[str], *, columns: list[str] | None,
                 label_column: str, follow: bool = False, interval: float = 0.5, max_points: int | None = None,
                 fill: str | None = None) -> Iterator[str]:
    """The header `time,<channels>,score,flag`, then one such line per point of `path` as it is read.

    Args:
        detector: the calibrated detector; its `ScoreStream` scores the points.
        path: the CSV file.
        channels: the channels the detector was trained on, in order.
        columns, label_column: how the run chose its channels (see `select_channels`); the file's
            choice must give `channels`.
        follow, interval: follow the file as it grows (see `follow_lines`).
        max_points: stop after this many points (None: at the end of the file, or never with follow).
        fill: None, "ffill" or "zero" (see `RowReader`).

    Raises:
        DataError: if the channels differ from `channels`, a line is malformed, or (without
            follow) the file holds no point.
    """
    lines = follow_lines(path, follow=follow, interval=interval)
    header = []
    for _, text in lines:  # the first non-blank line (with follow, waits for it)
        header = split_header(text)
        if header:
            break
    if not header:
        raise DataError(f"{path}: file is empty (no header and no rows)")
    found = select_channels(path, header, columns, label_column)
    if found != channels:
        raise DataError(f"data {str(path)!r} has channels {found}; the run was trained on {channels}")
    reader, stream = RowReader(path, header, channels, fill), ScoreStream(detector)
    yield format_header(channels)
    for number, line in lines:
        row = reader.parse(number, line)
        if row is None:
            continue
        yield format_line(row[0], row[1], *stream.update(row[1]))
        if max_points is not None and reader.count >= max_points:
            return  # before reading on: with follow, the next line may never come
    if reader.count == 0:
        raise DataError(f"data {str(path)!r} is a series of length 0 (a header and no points)")


__all__ = ["ScoreStream", "stream_lines"]
