"""Reading series for anomaly detection, whole or line by line, and scoring a stream point by point.

`ScoreStream(detector).update(v)` takes one new raw point v_t (C,) and returns its (score, flag):
the same numbers as `rnnlab.tasks.anomaly.Detector.scores` on the whole series, computed with
carried state:

- forecast: one recurrent step per point with the state carried, and the stored forecast x̂_{t+1};
  O(1) work per point, whatever the stream's length.
- reconstruction: the last W points in a ring buffer; each new point completes one window, which
  is encoded and decoded: O(W) work per point, independent of the stream's length (not O(1)).
- naive: the previous point; O(1).
- smoothing: a running sum over the last k standardised residuals; O(1).

Both modes compute in float64 (runs load their model as a float64 copy), so they agree to
rounding (about 1e-12), far inside the 1e-6 the task promises.

Files: `load_series` reads a whole CSV (a bundled anomaly series' name or a path) with
`rnnlab.data.series.read_csv`; `follow_lines` reads one line at a time and can follow a growing
file as `tail -f` does; `RowReader` parses those lines with the same rules (missing cells are an
error unless filled), and `stream_lines` puts the pieces together for `rnnlab detect`.
"""

from __future__ import annotations

import collections
import csv
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from rnnlab.data import bundled
from rnnlab.data.errors import DataError
from rnnlab.data.series import TIME_COLUMN_NAMES, read_csv
from rnnlab.tasks.anomaly import Detector

_MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})  # as rnnlab.data.series reads cells


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


def time_column(header: list[str]) -> str | None:
    """The header's time column, found as `rnnlab.data.series.read_csv` finds it, or None."""
    return next((name for name in header if name.lower() in TIME_COLUMN_NAMES), None)


def select_channels(path: str | Path, header: list[str], columns: list[str] | None, label_column: str) -> list[str]:
    """The value columns (channels): `columns`, or every column but the time and label columns.

    Raises:
        DataError: if a named column is missing or none is left.
    """
    if columns is None:
        skip = {time_column(header), label_column}
        columns = [name for name in header if name not in skip]
    for name in columns:
        if name not in header:
            raise DataError(f"{path}: column {name!r} not found; columns are {header}")
    if not columns:
        raise DataError(f"{path}: no value column besides the time and label columns; columns are {header}")
    return list(columns)


def follow_lines(path: str | Path, *, follow: bool = False, interval: float = 0.5,
                 sleep=time.sleep) -> Iterator[tuple[int, str]]:
    """Yields (line number, text) for each complete line of a text file, header included.

    Without `follow` it ends at the end of the file (a last line without a newline counts). With
    `follow`, as `tail -f`, it waits at the end of the file, polling every `interval` seconds,
    and yields each line once its newline has been written; it never ends by itself.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    number, pending = 0, ""
    with path.open(encoding="utf-8-sig", newline="") as file:
        while True:
            pending += file.readline()
            if pending.endswith("\n"):
                number += 1
                yield number, pending.rstrip("\r\n")
                pending = ""
            elif not follow:
                if pending:
                    yield number + 1, pending
                return
            else:
                sleep(interval)  # at the end of the file, or in the middle of a line being written


class RowReader:
    """Parses the data lines of a CSV stream into (time, values) for the chosen channels.

    Args:
        path: the file's name, for messages.
        header: the header's names.
        channels: the value columns to read, in the model's order.
        fill: None (a missing cell is an error), "ffill" (repeat the channel's previous value) or
            "zero". ("interpolate" needs the future, so it cannot stream.)
    """

    def __init__(self, path: str | Path, header: list[str], channels: list[str], fill: str | None) -> None:
        if fill not in (None, "ffill", "zero"):
            raise DataError(f"fill must be None, 'ffill' or 'zero' when streaming ('interpolate' needs later "
                            f"points); received {fill!r}")
        self.path, self.header, self.fill = path, header, fill
        self._indices = [header.index(name) for name in channels]
        self._time = header.index(time_column(header)) if time_column(header) else None
        self._last: np.ndarray | None = None
        self.count = 0

    def parse(self, number: int, line: str) -> tuple[str, np.ndarray] | None:
        """(time, values (C,)) of one line, or None for a blank line; line 1 is the header."""
        if not line.strip():
            return None
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        if len(cells) != len(self.header):
            raise DataError(f"{self.path}: line {number} has {len(cells)} fields; the header has {len(self.header)}")
        values = np.array([self._cell(cells[i], self.header[i], number, c) for c, i in enumerate(self._indices)])
        self._last = values
        when = cells[self._time] if self._time is not None else str(self.count)
        self.count += 1
        return when, values

    def _cell(self, cell: str, name: str, number: int, channel: int) -> float:
        if cell.lower() in _MISSING:
            if self.fill is None:
                raise DataError(f"{self.path}: column {name!r} is missing (NaN) at line {number}; use --fill ffill "
                                "or zero to fill it")
            if self.fill == "zero":
                return 0.0
            if self._last is None:
                raise DataError(f"{self.path}: column {name!r} is missing at line {number}, the first data line: "
                                "there is no earlier value to carry forward")
            return float(self._last[channel])
        try:
            value = float(cell)
        except ValueError:
            raise DataError(f"{self.path}: column {name!r} has non-numeric text {cell!r} at line {number}") from None
        if not np.isfinite(value):
            raise DataError(f"{self.path}: column {name!r} has non-finite value {cell!r} at line {number}")
        return value


class AnomalySeries(NamedTuple):
    """A series to detect on: raw values, channel names, times, optional labels, the normal prefix."""

    values: np.ndarray            # (N, C) raw
    channels: tuple[str, ...]
    times: tuple[str, ...] | None
    labels: np.ndarray | None     # (N,) 0/1, or None when the file has no label column
    normal_until: int | None


def resolve_file(data: str) -> tuple[Path, int | None]:
    """The CSV behind `data` (a bundled anomaly series or a path) and its bundled normal prefix."""
    if data in bundled.list_anomaly_names():
        info = bundled.anomaly_info(data)
        return info.file, info.normal_until
    if not Path(data).is_file():
        raise DataError(f"data {data!r} is neither a bundled anomaly series {list(bundled.list_anomaly_names())} "
                        "nor an existing file")
    return Path(data), None


def read_header(path: Path) -> list[str]:
    """The first non-blank line of a CSV file, split into names."""
    for _, line in follow_lines(path):
        if line.strip():
            return _split(line)
    raise DataError(f"{path}: file is empty (no header and no rows)")


def load_series(data: str, *, columns: list[str] | None, label_column: str, fill: str | None,
                normal_until: int | None = None) -> AnomalySeries:
    """Reads `data`; a missing, empty, NaN-holding (without `fill`) or non-0/1-labelled file is a DataError."""
    path, bundled_until = resolve_file(data)
    header = read_header(path)
    channels = select_channels(path, header, columns, label_column)
    series = read_csv(path, channels[0], columns=channels, fill=fill)
    labels = None
    if label_column in header and label_column not in channels:
        labels = read_csv(path, label_column, columns=[label_column]).values[:, 0]
        if not np.isin(labels, (0, 1)).all():
            bad = labels[~np.isin(labels, (0, 1))][0]
            raise DataError(f"{path}: label column {label_column!r} must hold 0 or 1; received {bad:g}")
        labels = labels.astype(np.int64)
    return AnomalySeries(series.values, series.columns, series.times, labels, normal_until or bundled_until)


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
        header = _split(text)
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


def _split(line: str) -> list[str]:
    return [name.strip() for name in next(csv.reader([line]))] if line.strip() else []


def format_header(channels: list[str]) -> str:
    """`time,<channels>,score,flag`: the header of every score listing."""
    return ",".join(["time", *channels, "score", "flag"])


def format_line(when: str, values: np.ndarray, score: float, flag: bool) -> str:
    """One point's line: values to 10 significant digits, the score to 12 (streaming equals batch in print)."""
    return ",".join([when, *(f"{v:.10g}" for v in values), f"{score:.12g}", str(int(flag))])


__all__ = ["ScoreStream", "AnomalySeries", "resolve_file", "read_header", "load_series", "time_column",
           "select_channels", "follow_lines", "RowReader", "stream_lines", "format_header", "format_line"]
