"""Time series for forecasting: read a CSV, split it in time order, standardise it.

A `Series` is a (N, C) float64 array in time order plus its column names; N is the number of time
steps and C the number of input columns (the target among them). Reading uses the standard-library
``csv`` module, and every problem in a file raises `DataError` with one line naming the file, the
column, the line and the value.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnnlab.data import bundled
from rnnlab.data.csvrows import csv_rows
from rnnlab.data.errors import DataError, line_at
from rnnlab.data.scaling import Scaler  # re-exported: a Scaler is fitted on a Series' train span

__all__ = ["Series", "SplitBounds", "Scaler", "read_csv", "load_series", "time_split"]

# Column names taken as the time column by time_column="auto" (compared case-insensitively).
TIME_COLUMN_NAMES = ("date", "time", "datetime", "timestamp", "month", "year", "ds", "period")
FILL_MODES = ("ffill", "interpolate", "zero")
# Cell texts read as missing values; anything else must parse as a finite float.
MISSING_CELLS = frozenset({"", "nan", "na", "n/a", "null", "none"})


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields with == is ambiguous
class Series:
    """A multivariate time series in time order.

    Attributes:
        values: (N, C) float64, row t is time step t; no NaN once returned by `read_csv`.
        columns: the C input column names, in the order of ``values``' columns; the target is one.
        target: the name of the column to forecast.
        times: the time column's raw strings (N of them), or None when there is no time column.
        index: the pandas index the series came with (`rnnlab.data.frames`), or None; forecasts
            from it are indexed by the index's own next timestamps.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    target: str
    times: tuple[str, ...] | None = None
    index: object = None

    def __post_init__(self):
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise ValueError(f"values must have shape (N, {len(self.columns)}) for columns "
                             f"{list(self.columns)}; received shape {self.values.shape}")
        if self.target not in self.columns:
            raise ValueError(f"target must be one of {list(self.columns)}; received {self.target!r}")
        if self.times is not None and len(self.times) != len(self.values):
            raise ValueError(f"times must have {len(self.values)} entries; received {len(self.times)}")

    @property
    def target_index(self) -> int:
        """The position of ``target`` in ``columns`` (and in ``values``' second axis)."""
        return self.columns.index(self.target)

    def __len__(self) -> int:
        return len(self.values)


def read_csv(path, target: str, *, columns=None, time_column="auto", fill=None) -> Series:
    """Read a time series from a CSV file with a header row.

    Args:
        path: the CSV file. Rows are time steps in time order; the header names the columns.
        target: the column to forecast.
        columns: input column names (the target is added if absent), or None for every column
            except the time column. All of them must be numeric.
        time_column: "auto" takes the first column named one of `TIME_COLUMN_NAMES`
            (case-insensitive) if any; None means the file has no time column; a name picks it.
        fill: how to fill missing cells (empty, "nan", "NA", ...): None refuses them; "ffill" carries
            the last value forward (and the first value back over a leading gap); "interpolate"
            draws straight lines between known values and holds the ends; "zero" writes 0.

    Returns:
        A `Series` whose ``times`` are the time column's raw strings (None without one).

    Raises:
        DataError: if the file is missing or empty, a column is missing, a cell is neither a number
            nor missing, a value is infinite, a column is all missing, cells are missing and
            ``fill`` is None, or ``fill`` is unknown. Line numbers count the header as line 1.
    """
    if fill is not None and fill not in FILL_MODES:
        raise DataError(f"fill must be one of {[None, *FILL_MODES]}; received {fill!r}")
    path = Path(path)
    header, rows, lines = read_rows(path)
    time_name = _resolve_time_column(path, header, time_column)
    names = _select_columns(path, header, target, columns, time_name)
    values = np.empty((len(rows), len(names)))                        # (N, C)
    for c, name in enumerate(names):
        column = _parse_column(path, name, [row[header.index(name)] for row in rows], lines)
        values[:, c] = fill_column(path, name, column, lines, fill)
    times = None if time_name is None else tuple(row[header.index(time_name)] for row in rows)
    return Series(values=values, columns=tuple(names), target=target, times=times)


def read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Return the header, the data rows and each data row's line number (header = line 1).

    Cells are stripped of surrounding whitespace; rows whose cells are all blank are skipped.

    Raises:
        DataError: if the file is missing, not UTF-8 or empty, has no data rows, or a row's number
            of fields differs from the header's.
    """
    if not path.is_file():
        raise DataError(f"data file not found: {path}" if not path.exists() else f"{path}: not a file")
    rows, lines = [], []
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")                         # -sig: tolerate a BOM
    except UnicodeDecodeError as error:
        line = line_at(data, error.start)
        raise DataError(f"{path}: not UTF-8: byte {data[error.start:error.start + 1]!r} at line {line}") from None
    for line, row in csv_rows(path, text):                       # blank lines carry no time step
        rows.append([cell.strip() for cell in row])
        lines.append(line)
    if not rows:
        raise DataError(f"{path}: file is empty (no header and no rows)")
    header, rows, lines = rows[0], rows[1:], lines[1:]
    if not rows:
        raise DataError(f"{path}: no data rows after the header {header}")
    for row, line in zip(rows, lines):
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields; the header has {len(header)}")
    return header, rows, lines


def _resolve_time_column(path: Path, header: list[str], time_column) -> str | None:
    if time_column is None:
        return None
    if time_column == "auto":
        return next((name for name in header if name.lower() in TIME_COLUMN_NAMES), None)
    if time_column not in header:
        raise DataError(f"{path}: time column {time_column!r} not found; columns are {header}")
    return time_column


def _select_columns(path: Path, header, target, columns, time_name) -> list[str]:
    if columns is None:
        names = [name for name in header if name != time_name]
    else:
        names = list(columns) + ([target] if target not in columns else [])
    for name in [target, *names]:
        if name not in header:
            raise DataError(f"{path}: column {name!r} not found; columns are {header}")
    if target == time_name:
        raise DataError(f"{path}: target {target!r} is the time column; pass time_column=None "
                        "if it is numeric data")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: columns repeat a name: {names}")
    return names


def _parse_column(path: Path, name: str, cells: list[str], lines: list[int]) -> np.ndarray:
    """Parse one column's cells to float64, NaN where missing."""
    column = np.empty(len(cells))                                     # (N,)
    for i, (cell, line) in enumerate(zip(cells, lines)):
        if cell.lower() in MISSING_CELLS:
            column[i] = np.nan
            continue
        try:
            column[i] = float(cell)
        except ValueError:
            raise DataError(f"{path}: column {name!r} has non-numeric text {cell!r} at line {line} "
                            "(line 1 is the header)") from None
        if not math.isfinite(column[i]):
            raise DataError(f"{path}: column {name!r} has non-finite value {cell!r} at line {line} "
                            "(line 1 is the header)")
    return column


def fill_column(source, name: str, column: np.ndarray, lines: list[int], fill, *, where: str = "line") -> np.ndarray:
    """Return ``column`` with its NaNs filled by ``fill``, or raise if that is impossible.

    Args:
        source: the file (or argument) the column came from, for messages.
        name: the column's name.
        column: (N,) float64, NaN where missing.
        lines: the line (or row) number of each value, for messages.
        fill: None (refuse missing values) or one of `FILL_MODES`.
        where: what `lines` count: "line" of a file, or "row" of data in memory.
    """
    path = source
    if fill is not None and fill not in FILL_MODES:
        raise DataError(f"fill must be one of {[None, *FILL_MODES]}; received {fill!r}")
    missing = np.isnan(column)                                        # (N,)
    if not missing.any():
        return column
    if missing.all():
        raise DataError(f"{path}: column {name!r} has no values (all {len(column)} cells missing)")
    first_line = lines[int(np.argmax(missing))]
    if fill is None:
        raise DataError(f"{path}: column {name!r} has {int(missing.sum())} missing cells (first at "
                        f"{where} {first_line}); use fill='ffill', 'interpolate' or 'zero' to fill them")
    steps = np.arange(len(column))
    if fill == "zero":
        return np.where(missing, 0.0, column)
    if fill == "interpolate":
        # np.interp holds the first/last known value beyond the ends: no extrapolated trend.
        return np.where(missing, interpolate(steps, steps[~missing], column[~missing]), column)
    last_known = np.maximum.accumulate(np.where(missing, 0, steps))   # index of last known value
    filled = column[last_known]
    return np.where(np.isnan(filled), column[~missing][0], filled)   # leading gap: back-fill


def interpolate(steps: np.ndarray, known_steps: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`np.interp(steps, known_steps, known)`, finite wherever the known values are.

    Between values near ±1.8e308 np.interp's slope (b − a) / (j − i) overflows to ±inf and so
    do the values it fills; those columns are interpolated scaled down by a power of two (exact),
    and every other column gets np.interp's own numbers, bit for bit. The known values are the
    caller's to keep (scaled down, a value under 1e-300 beside one near 1e308 underflows to 0).
    """
    filled = np.interp(steps, known_steps, known)
    if np.isfinite(filled).all():
        return filled
    exponent = int(np.frexp(np.abs(known).max())[1])  # max |known| < 2^exponent
    scaled = np.ldexp(np.interp(steps, known_steps, np.ldexp(known, -exponent)), exponent)
    return np.where(np.isfinite(filled), filled, scaled)


def load_series(name_or_path, target: str | None = None, *, columns=None, time_column="auto",
                fill: str | None = None) -> Series:
    """Load a bundled data set by name, or a CSV file by path.

    For a bundled name (see `rnnlab.data.list_datasets`), None for ``target`` or ``fill`` means the
    data set's documented default: ``load_series("co2")`` forecasts ``co2`` and fills its 59 weekly
    gaps with ``fill="interpolate"``. (So a caller may forward ``fill=None`` from its own config
    without breaking co2; to see the gaps, call `read_csv` on ``bundled_file("co2")``.)

    Args:
        name_or_path: a bundled data set's name ("airline", "co2", "seattle_weather") or a path.
        target: the column to forecast; required for a path.
        columns: input columns, as in `read_csv`.
        time_column: as in `read_csv`.
        fill: as in `read_csv`; for a bundled name, None means the data set's default fill.

    Returns:
        The `Series`.

    Raises:
        ValueError: if ``target`` is None for a path.
        DataError: as `read_csv`; or if ``name_or_path`` is neither a bundled name nor a file.
    """
    name = str(name_or_path)
    if name in bundled.list_names():
        default_target, default_fill = bundled.bundled_defaults(name)
        return read_csv(bundled.bundled_file(name), target or default_target, columns=columns,
                        time_column=time_column, fill=fill or default_fill)
    if not Path(name).is_file():
        raise DataError(f"{name!r} is neither a bundled data set {list(bundled.list_names())} "
                        "nor an existing file")
    if target is None:
        raise ValueError(f"target is required when loading a file; received None for {name!r}")
    return read_csv(name, target, columns=columns, time_column=time_column, fill=fill)


class SplitBounds(NamedTuple):
    """Boundaries of train/validation/test spans in time order: [0, train_end), [train_end,
    val_end), [val_end, n)."""

    train_end: int
    val_end: int
    n: int


def time_split(n: int, *, val_fraction: float = 0.15, test_fraction: float = 0.15,
               test_size: int | None = None) -> SplitBounds:
    """Split N time steps into train, validation and test spans, in that time order.

    Sizes are rounded down: the validation span has floor(n * val_fraction) steps, the test span
    ``test_size`` steps if given, else floor(n * test_fraction); training keeps the rest (first).

    Args:
        n: number of time steps.
        val_fraction: share of the steps for validation, in [0, 1).
        test_fraction: share of the steps for testing, in [0, 1); ignored if ``test_size`` is set.
        test_size: number of test steps, in [0, n), overriding ``test_fraction``.

    Returns:
        `SplitBounds` (train_end, val_end, n).

    Raises:
        ValueError: naming the argument and value if one is out of range, or if no training step
            is left.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer; received {n!r}")
    for arg, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{arg} must be in [0, 1); received {fraction!r}")
    if test_size is not None and not (isinstance(test_size, (int, np.integer)) and 0 <= test_size < n):
        raise ValueError(f"test_size must be an integer in [0, n={n}); received {test_size!r}")
    num_test = test_size if test_size is not None else math.floor(n * test_fraction)
    num_val = math.floor(n * val_fraction)
    train_end = n - num_val - num_test
    if train_end < 1:
        raise ValueError(f"val_fraction={val_fraction} and test spans of {num_test} steps leave no "
                         f"training step out of n={n}")
    return SplitBounds(train_end=train_end, val_end=n - num_test, n=n)
