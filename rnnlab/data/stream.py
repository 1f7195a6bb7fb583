"""Series for anomaly detection, read whole or line by line (following a growing file as `tail -f` does).

    load_series(data)        a whole series: a CSV file or a bundled anomaly series' name (read with
                             `rnnlab.data.series.read_csv`), or a DataFrame, Series or array in memory
    follow_lines(path)       a text file's lines as they are complete, optionally waiting for more
    RowReader                parses those lines by the same rules (missing cells are an error unless filled)
    format_header/_line      the `time,<channels>,score,flag` lines every score listing prints

A CSV's channels are its value columns: those named, or all but the time column (found as
`read_csv` finds it) and the 0/1 label column. Every problem raises `DataError` naming the file and
the line (a file that is not UTF-8 included), or the argument for data in memory.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rnnlab.data import bundled
from rnnlab.data.csvrows import csv_cells
from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas, read_series
from rnnlab.data.series import MISSING_CELLS, TIME_COLUMN_NAMES, read_csv

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r(?=[^\n])|\n")  # a \r last in what was read may be the start of a \r\n
_FORMS = ("a CSV file, a bundled anomaly series' name (e.g. 'ucr_135'), a pandas DataFrame or Series, or a numeric "
          "array of shape (N,) or (N, C)")


class AnomalySeries(NamedTuple):
    """A series to detect on: raw values, channel names, times, optional labels, the normal prefix."""

    values: np.ndarray            # (N, C) raw
    channels: tuple[str, ...]
    times: tuple[str, ...] | None
    labels: np.ndarray | None     # (N,) 0/1, or None when the data has no label column
    normal_until: int | None


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
    """Yields (line number, text) for each complete line of a UTF-8 text file, header included.

    Lines end at \\n, \\r\\n or a lone \\r (as `read_csv` counts them, a spreadsheet's CR-only file
    included). Without `follow` it ends at the end of the file (a last line without a line end
    counts). With `follow`, as `tail -f`, it waits at the end of the file, polling every `interval`
    seconds, and yields each line once its line end has been written; it never ends by itself.

    Raises:
        DataError: if the file is missing, or a line is not UTF-8 (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}" if not path.exists() else f"{path}: not a file")
    number, pending = 0, b""
    # bytes, decoded a whole line at a time: a line being written may end inside a character, and a
    # line that is not UTF-8 can be named
    with path.open("rb") as file:
        while True:
            chunk = file.readline()
            pending += chunk
            start = 0
            for end in _LINE_END.finditer(pending):
                number += 1
                yield number, _decoded(path, number, pending[start:end.start()])
                start = end.end()
            pending = pending[start:]
            if chunk.endswith(b"\n"):
                continue  # not at the end of the file yet
            if not follow:
                if pending:  # the last line, without a line end (or a \r that no \n follows)
                    yield number + 1, _decoded(path, number + 1, pending.removesuffix(b"\r"))
                return
            sleep(interval)  # at the end of the file, or in the middle of a line being written


def _decoded(path: Path, number: int, line: bytes) -> str:
    if number == 1 and line.startswith(_BOM):
        line = line[len(_BOM):]  # a byte-order mark, as utf-8-sig reads it
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8: byte {line[error.start:error.start + 1]!r} at line {number}") from None


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
        cells = [cell.strip() for cell in csv_cells(self.path, number, line)]
        if len(cells) != len(self.header):
            raise DataError(f"{self.path}: line {number} has {len(cells)} fields; the header has {len(self.header)}")
        values = np.array([self._cell(cells[i], self.header[i], number, c) for c, i in enumerate(self._indices)])
        self._last = values
        when = cells[self._time] if self._time is not None else str(self.count)
        self.count += 1
        return when, values

    def _cell(self, cell: str, name: str, number: int, channel: int) -> float:
        if cell.lower() in MISSING_CELLS:
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


def resolve_file(data: str) -> tuple[Path, int | None]:
    """The CSV behind `data` (a bundled anomaly series or a path) and its bundled normal prefix."""
    if data in bundled.list_anomaly_names():
        info = bundled.anomaly_info(data)
        return info.file, info.normal_until
    if not Path(data).is_file():
        raise DataError(f"data {data!r} is neither a bundled anomaly series {list(bundled.list_anomaly_names())} "
                        "nor an existing file")
    return Path(data), None


def split_header(line: str, path: str | Path = "data", number: int = 1) -> list[str]:
    """A CSV header line's names, stripped ([] for a blank line); `path` and `number` name it in errors."""
    return [name.strip() for name in csv_cells(path, number, line)] if line.strip() else []


def read_header(path: Path) -> list[str]:
    """The first non-blank line of a CSV file, split into names."""
    for number, line in follow_lines(path):
        if line.strip():
            return split_header(line, path, number)
    raise DataError(f"{path}: file is empty (no header and no rows)")


def load_series(data: Any, *, columns: list[str] | None, label_column: str, fill: str | None,
                normal_until: int | None = None, argument: str = "data") -> AnomalySeries:
    """Reads `data` (see the module docstring): a file with missing cells (without `fill`), no rows, or a
    label that is not 0 or 1 is a DataError; data of another kind a TypeError naming `argument`."""
    if not is_file_or_name(data):
        return _from_memory(data, columns=columns, label_column=label_column, fill=fill, normal_until=normal_until,
                            argument=argument)
    path, bundled_until = resolve_file(str(data))
    header = read_header(path)
    channels = select_channels(path, header, columns, label_column)
    series = read_csv(path, channels[0], columns=channels, fill=fill)
    labels = None
    if label_column in header and label_column not in channels:
        labels = read_csv(path, label_column, columns=[label_column]).values[:, 0]
        labels = _labels(labels, f"{path}: label column {label_column!r}")
    return AnomalySeries(series.values, series.columns, series.times, labels, normal_until or bundled_until)


def _labels(values: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if not np.isin(values, (0, 1)).all():
        bad = values[~np.isin(values, (0, 1))][0]
        raise DataError(f"{where} must hold 0 or 1; received {bad:g}")
    return values.astype(np.int64)


def _from_memory(data: Any, *, columns, label_column: str, fill, normal_until, argument: str) -> AnomalySeries:
    """A DataFrame (its label column, if there, read apart), a pandas Series or a numeric array."""
    labels, target = None, None
    if is_pandas(data, "DataFrame"):
        names = [str(c) for c in data.columns]
        if label_column in names and label_column not in (columns or []):
            labels = _labels(data[data.columns[names.index(label_column)]].to_numpy(),
                             f"{argument}: label column {label_column!r}")
            data = data.drop(columns=data.columns[names.index(label_column)])
            names.remove(label_column)
        timed = type(data.index).__name__ in ("DatetimeIndex", "PeriodIndex")
        channels = columns or [n for n in names if timed or n != time_column(names)]
        if not channels:
            raise DataError(f"{argument}: no value column besides the time and label columns; columns are {names}")
        target = channels[0]
    elif isinstance(data, (np.ndarray, list, tuple)):
        target = 0  # an array's first column: every column is read, as a channel
    elif not is_pandas(data, "Series"):
        raise TypeError(f"{argument} must be {_FORMS}; received {type(data).__name__}")
    if is_pandas(data) and type(data.index).__name__ == "RangeIndex":
        # read_series cannot read a RangeIndex (it finds no times there and then iterates them); the
        # same positions as a plain index read as times "0", "1", ..., what a listing prints anyway
        data = data.set_axis(data.index.tolist(), axis=0)
    series = read_series(data, target=target, columns=columns, fill=fill, argument=argument)
    return AnomalySeries(series.values, series.columns, series.times, labels, normal_until)


def format_header(channels: list[str]) -> str:
    """`time,<channels>,score,flag`: the header of every score listing."""
    return ",".join(["time", *channels, "score", "flag"])


def format_line(when: str, values: np.ndarray, score: float, flag: bool) -> str:
    """One point's line: values to 10 significant digits, the score to 12 (streaming equals batch in print)."""
    return ",".join([when, *(f"{v:.10g}" for v in values), f"{score:.12g}", str(int(flag))])


__all__ = ["AnomalySeries", "RowReader", "follow_lines", "format_header", "format_line", "load_series",
           "read_header", "resolve_file", "select_channels", "split_header", "time_column"]
