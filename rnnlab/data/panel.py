"""Panels: many time series in one long table, the input format of NeuralForecast and statsforecast.

A long table has one row per (series, time step): a series id column (``unique_id``), a time column
(``ds``), a target column (``y``), optional numeric covariates and optional static columns (one
category per series: a store's type, a product's family). Rows of different series may
interleave; within a series, time must increase. `read_panel` reads such a table from a CSV file or
a pandas DataFrame into a `Panel`, and every problem is a one-line `DataError` naming the file (or
``data``), the series id, the line (or index label) and the value. The panel's frequency comes from
`rnnlab.data.frequency` (which also gives `calendar_features` and `future_times`), and its scaler,
`PanelScaler`, from `rnnlab.data.scaling`; both are re-exported here.

At about 480 lines this module is over the style's 300: reading a long table is most of it (cells to
numbers and timestamps, rows grouped into series, each problem named by file, series and line), and
those helpers serve `read_panel` alone. They can move to a module of their own when a second reader
of long tables needs them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_pandas
from rnnlab.data.frequency import (TIME_DTYPE, calendar_feature_names, calendar_features, format_time, future_times,
                                   infer_freq, parse_freq)
from rnnlab.data.scaling import PanelScaler
from rnnlab.data.series import FILL_MODES, MISSING_CELLS, fill_column, read_rows  # one reader, one fill rule
from rnnlab.data.timestamps import FORMATS

__all__ = ["Panel", "PanelSeries", "PanelScaler", "read_panel", "check_lengths", "calendar_features",
           "calendar_feature_names", "future_times"]

_INTEGER = re.compile(r"[+-]?\d{1,18}")  # an integer step that fits int64


class PanelSeries(NamedTuple):
    """One series of a `Panel`."""

    id: str
    values: np.ndarray                 # (T,) float64 target
    times: np.ndarray                  # (T,) datetime64[us] or int64 steps
    covariates: dict[str, np.ndarray]  # name -> (T,) float64


@dataclass(frozen=True, eq=False, repr=False)  # eq=False: ndarray fields have no single ==; repr: see below
class Panel:
    """Many univariate time series, each with its own length and timestamps, at one frequency.

    Attributes:
        ids: each series' id as a string, in the order the series first appear in the data.
        values: per series, (T_i,) float64 targets in time order; finite, T_i >= 1.
        times: per series, (T_i,) strictly increasing timestamps: datetime64[us] for every series,
            or int64 steps for every series.
        covariates: column name -> per series (T_i,) float64 values, aligned with ``values``.
        statics: column name -> per series one category (a string), constant over the series.
        freq: the pandas frequency alias of datetime times ("MS", "D", ...); None for integer steps.
    """

    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    times: tuple[np.ndarray, ...]
    covariates: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)
    freq: str | None = None
    statics: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        ids = tuple(str(i) for i in self.ids)
        if not ids:
            raise DataError("a panel needs at least one series; received none")
        repeated = [i for i, count in Counter(ids).items() if count > 1]
        if repeated:
            raise ValueError(f"ids must be unique; received repeats of {repeated[:5]}")
        values = tuple(np.asarray(v, dtype=np.float64) for v in self.values)
        times = tuple(_as_times(t) for t in self.times)
        covariates = {str(n): tuple(np.asarray(c, dtype=np.float64) for c in cs) for n, cs in self.covariates.items()}
        statics = {str(n): tuple(str(c) for c in cs) for n, cs in self.statics.items()}
        for name, columns in (("values", values), ("times", times), *covariates.items(), *statics.items()):
            if len(columns) != len(ids):
                raise ValueError(f"{name} must hold {len(ids)} series, one per id; received {len(columns)}")
        for k, id in enumerate(ids):
            _check_series(id, values[k], times[k], {n: c[k] for n, c in covariates.items()})
        _check_freq(self.freq, {t.dtype.kind for t in times})
        for name, value in (("ids", ids), ("values", values), ("times", times), ("covariates", covariates),
                            ("statics", statics)):
            object.__setattr__(self, name, value)  # frozen: the checked, converted fields replace the given
        object.__setattr__(self, "_positions", {id: k for k, id in enumerate(ids)})

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:  # a summary: the fields' arrays of a real panel run to megabytes
        lengths = self.lengths()
        return (f"Panel({len(self)} series, lengths {lengths.min()} to {lengths.max()}, freq={self.freq!r}, "
                f"covariates={list(self.covariates)}" + (f", statics={list(self.statics)})" if self.statics else ")"))

    def lengths(self) -> np.ndarray:
        """(N,) int64: each series' number of time steps."""
        return np.array([len(v) for v in self.values], dtype=np.int64)

    @property
    def step(self) -> int | None:
        """The step between integer times (1 where no series has two); None for datetime times."""
        if self.times[0].dtype.kind == "M":
            return None
        return next((int(t[1] - t[0]) for t in self.times if len(t) > 1), 1)

    def position(self, id) -> int:
        """The index of series `id` in ``ids`` (and in ``values``, ``times``, a fitted `PanelScaler`)."""
        try:
            return self._positions[str(id)]
        except KeyError:
            raise KeyError(f"series {str(id)!r} is not in the panel; its first ids are {list(self.ids[:5])}") from None

    def subset(self, positions) -> Panel:
        """The panel of the series at `positions` (indices into ``ids``), in that order."""
        positions = [int(k) for k in positions]
        return Panel(ids=tuple(self.ids[k] for k in positions), values=tuple(self.values[k] for k in positions),
                     times=tuple(self.times[k] for k in positions),
                     covariates={n: tuple(c[k] for k in positions) for n, c in self.covariates.items()},
                     freq=self.freq, statics={n: tuple(c[k] for k in positions) for n, c in self.statics.items()})

    def series(self, id) -> PanelSeries:
        """Series `id`: its values, times and covariates."""
        k = self.position(id)
        return PanelSeries(self.ids[k], self.values[k], self.times[k], {n: c[k] for n, c in self.covariates.items()})

    def to_frame(self, *, id_column: str = "unique_id", time_column: str = "ds", target: str = "y"):
        """The panel as a long pandas DataFrame: columns id, time, target, the covariates, then the statics.

        Raises:
            ImportError: without pandas.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Panel.to_frame needs pandas (pip install pandas); "
                              "the Panel's own arrays do not") from None
        columns = {id_column: np.repeat(np.array(self.ids, dtype=object), self.lengths()),
                   time_column: np.concatenate(self.times), target: np.concatenate(self.values)}
        columns.update((name, np.concatenate(column)) for name, column in self.covariates.items())
        columns.update((name, np.repeat(np.array(column, dtype=object), self.lengths()))
                       for name, column in self.statics.items())
        if len(columns) != 3 + len(self.covariates) + len(self.statics):
            raise ValueError(f"column names must be distinct; received {id_column!r}, {time_column!r}, {target!r}, "
                             f"covariates {list(self.covariates)} and statics {list(self.statics)}")
        return pd.DataFrame(columns)

    @classmethod
    def from_arrays(cls, arrays, ids=None) -> Panel:
        """A panel of the (T_i,) arrays in `arrays`, timed by integer steps 0, 1, ..., T_i - 1.

        Args:
            arrays: a sequence of 1-D numeric arrays (a 2-D array gives one series per row).
            ids: one id per array (made strings); None numbers them "0", "1", ...

        Raises:
            DataError: for no arrays, an empty array, or a value that is not a finite number.
        """
        values = []
        for k, array in enumerate(arrays):
            try:
                values.append(np.asarray(array, dtype=np.float64))
            except (TypeError, ValueError):
                raise DataError(f"arrays[{k}] must hold numbers; received {np.asarray(array).dtype}") from None
        ids = [str(k) for k in range(len(values))] if ids is None else [str(i) for i in ids]
        if len(ids) != len(values):
            raise ValueError(f"ids must have one id per array ({len(values)}); received {len(ids)}")
        return cls(ids=tuple(ids), values=tuple(values), times=tuple(np.arange(len(v)) for v in values))


def _as_times(times) -> np.ndarray:
    times = np.asarray(times)
    if times.dtype.kind == "M":
        return times.astype(TIME_DTYPE)
    if times.dtype.kind in "iu":
        return times.astype(np.int64)
    raise ValueError(f"times must be datetime64 or integer arrays; received dtype {times.dtype}")


def _check_series(id: str, values: np.ndarray, times: np.ndarray, covariates: dict[str, np.ndarray]) -> None:
    if values.size == 0:
        raise DataError(f"series {id!r} has no values; every series needs at least one")
    if values.ndim != 1:
        raise ValueError(f"values of series {id!r} must have shape (T,); received shape {values.shape}")
    for name, column in (("times", times), *covariates.items()):
        if column.shape != values.shape:
            raise ValueError(f"{name} of series {id!r} must have shape {values.shape}; received {column.shape}")
    for name, column in (("values", values), *covariates.items()):
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:
            raise DataError(f"series {id!r}: {name} has a non-finite value {column[bad[0]]} at position {bad[0]}")
    if (np.diff(times.view(np.int64)) <= 0).any():
        raise ValueError(f"times of series {id!r} must strictly increase")


def _check_freq(freq, kinds: set[str]) -> None:
    if len(kinds) > 1:
        raise ValueError("times must be datetime64 for every series or integers for every series; received both")
    if kinds == {"i"} and freq is not None:
        raise ValueError(f"freq must be None for integer times; received {freq!r}")
    if kinds == {"M"}:
        parse_freq(freq)


def check_lengths(panel: Panel, minimum: int, what: str) -> None:
    """Refuse series shorter than `minimum` values, naming up to five of them.

    Args:
        panel: the panel to check.
        minimum: the fewest values a series may have.
        what: what needs them, for the message ("window + horizon").

    Raises:
        DataError: e.g. "series 'M3_12' has 14 values; window + horizon needs at least 24".
    """
    short = [(id, int(n)) for id, n in zip(panel.ids, panel.lengths()) if n < minimum]
    if len(short) == 1:
        raise DataError(f"series {short[0][0]!r} has {short[0][1]} values; {what} needs at least {minimum}")
    if short:
        named = ", ".join(f"{id!r} has {n}" for id, n in short[:5])
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        raise DataError(f"{len(short)} series are too short; {what} needs at least {minimum} values: {named}{more}")


# --- reading a long table -----------------------------------------------------------------------

class _Columns(NamedTuple):
    id: str
    time: str
    target: str
    covariates: tuple[str, ...]
    statics: tuple[str, ...] = ()


class _Rows(NamedTuple):
    """Where each row of a long table came from, for messages."""

    source: str         # the file, or "data" for a DataFrame
    where: str          # what labels count: "line" of a file, or "index" label of a DataFrame
    labels: list        # (R,) each row's line number or index label
    ids: np.ndarray     # (R,) each row's series id, a string

    def name(self, k: int) -> str:
        return f"{self.source}: series {str(self.ids[k])!r}"

    def place(self, k: int) -> str:
        return f"{self.where} {self.labels[k]}"


class _Table(NamedTuple):
    rows: _Rows
    times: np.ndarray                 # (R,) datetime64[us] or int64
    numbers: dict[str, np.ndarray]    # target and covariates: (R,) float64, NaN where missing
    texts: dict[str, np.ndarray]      # static columns: (R,) str, "" where missing


def read_panel(data, *, id_column: str = "unique_id", time_column: str = "ds", target: str = "y",
               covariates=None, static=None, fill: str | None = None) -> Panel:
    """Read a long-format table of many series into a `Panel`.

    Rows of different series may interleave; each series keeps its rows' order, which must be
    strictly increasing in time: unsorted rows are refused, not sorted, because a file out of
    order is more often damaged than merely unsorted. Ids are strings ("1" for an integer id 1).
    Timestamps are integer steps (every cell an integer), or dates in one of
    `rnnlab.data.timestamps.FORMATS` (the first cell's format, every cell; YYYYMMDD cells are
    dates), or a DataFrame's datetime or period column; time zones become UTC. One pandas
    frequency is inferred for the panel (see `Panel.freq`); integer steps must step evenly too.

    Args:
        data: a CSV file with a header row, or a pandas DataFrame (a DataFrame indexed by
            `id_column`, as NeuralForecast < 1.0 kept it, works too).
        id_column: the series id column (NeuralForecast's name by default).
        time_column: the timestamp column.
        target: the value column.
        covariates: numeric columns to keep beside the target (a list, or comma-separated names).
        static: columns holding one category per series (a list, or comma-separated names), read
            as text (``Panel.statics``); each series must have the same, non-missing, cell in every row.
        fill: how to fill missing values ("", "nan", "NA", ...) within each series, as
            `rnnlab.data.series.read_csv`: None refuses them; "ffill", "interpolate" or "zero".

    Raises:
        TypeError: for data that is neither a path nor a DataFrame.
        DataError: naming the file (or "data"), the series, the line (or index label) and the
            value, for: a missing column; no rows; a missing id; a non-numeric or infinite value;
            missing values without `fill`; a timestamp that parses neither as an integer nor a date;
            a repeated or out-of-order timestamp within a series; irregular steps; series of
            different frequencies; a static column that is missing or changes within a series.
    """
    if fill is not None and fill not in FILL_MODES:
        raise DataError(f"fill must be one of {[None, *FILL_MODES]}; received {fill!r}")
    names = _Columns(id_column, time_column, target, _names(covariates), _names(static))
    if len(set(_all(names))) != len(_all(names)):
        raise ValueError(f"id_column, time_column, target and covariates must be distinct; received {_all(names)}")
    if isinstance(data, (str, os.PathLike)):
        table = _csv_table(Path(data), names)
    elif is_pandas(data, "DataFrame"):
        table = _frame_table(data, names)
    else:
        raise TypeError(f"data must be a CSV path or a pandas DataFrame in long format; received {type(data).__name__}")
    return _assemble(table, names, fill)


def _names(columns) -> tuple[str, ...]:
    if isinstance(columns, str):
        return tuple(c.strip() for c in columns.split(",") if c.strip())
    return tuple(str(c) for c in columns or ())


def _all(names: _Columns) -> list[str]:
    return [names.id, names.time, names.target, *names.covariates, *names.statics]


def _check_columns(source: str, found: list[str], names: _Columns) -> None:
    for name in _all(names):
        if name not in found:
            raise DataError(f"{source}: column {name!r} not found; columns are {found}")
        if found.count(name) > 1:
            raise DataError(f"{source}: column {name!r} appears {found.count(name)} times; columns are {found}")


def _csv_table(path: Path, names: _Columns) -> _Table:
    header, rows, lines = read_rows(path)        # refuses a missing, non-UTF-8 or empty file
    _check_columns(str(path), header, names)
    at = {name: header.index(name) for name in _all(names)}
    ids = [row[at[names.id]] for row in rows]
    if "" in ids:
        raise DataError(f"{path}: line {lines[ids.index('')]}: column {names.id!r} is empty; "
                        "every row needs a series id")
    where = _Rows(str(path), "line", lines, np.array(ids, dtype=str))
    times = _text_times(where, names.time, [row[at[names.time]] for row in rows])
    numbers = {n: _numbers(where, n, [row[at[n]] for row in rows]) for n in (names.target, *names.covariates)}
    texts = {n: np.array([row[at[n]].strip() for row in rows], dtype=str) for n in names.statics}
    return _Table(where, times, numbers, texts)


def _frame_table(frame, names: _Columns) -> _Table:
    if names.id not in [str(c) for c in frame.columns] and frame.index.name == names.id:
        frame = frame.reset_index()
    found = [str(c) for c in frame.columns]
    _check_columns("data", found, names)
    if len(frame) == 0:
        raise DataError(f"data: the DataFrame has no rows; a panel needs at least one series (columns are {found})")
    frame = frame.set_axis(found, axis=1)
    labels, id_column = frame.index.tolist(), frame[names.id]
    missing = np.flatnonzero(id_column.isna().to_numpy())
    if missing.size:
        raise DataError(f"data: index {labels[missing[0]]}: column {names.id!r} is missing; "
                        "every row needs a series id")
    if type(id_column.dtype).__name__ == "CategoricalDtype":
        observed = set(id_column.cat.codes.tolist())
        unused = [str(c) for code, c in enumerate(id_column.cat.categories) if code not in observed]
        if unused:
            raise DataError(f"data: series {unused[0]!r} (a category of column {names.id!r}) has no rows; "
                            "drop unused categories with .cat.remove_unused_categories()")
    where = _Rows("data", "index", labels, id_column.astype(str).to_numpy(dtype=str))
    times = _frame_times(where, names.time, frame[names.time])
    numbers = {}
    for name in (names.target, *names.covariates):
        column = frame[name]
        cells = column.to_numpy(np.float64, na_value=np.nan) if column.dtype.kind in "fiub" else column.tolist()
        numbers[name] = _numbers(where, name, cells)
    texts = {name: np.array(["" if _missing(cell) else str(cell).strip() for cell in frame[name].tolist()], dtype=str)
             for name in names.statics}
    return _Table(where, times, numbers, texts)


def _frame_times(where: _Rows, name: str, column) -> np.ndarray:
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        k = missing[0]
        raise DataError(f"{where.name(k)}: column {name!r} has a missing timestamp at {where.place(k)}")
    if type(column.dtype).__name__ == "PeriodDtype":
        column = column.dt.to_timestamp()         # a period's start
    if column.dtype.kind == "M":
        if getattr(column.dtype, "tz", None) is not None:
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        return column.to_numpy().astype(TIME_DTYPE)
    if column.dtype.kind in "iu":
        return column.to_numpy(dtype=np.int64)
    return _text_times(where, name, [str(v) for v in column.tolist()])


def _text_times(where: _Rows, name: str, cells: list[str]) -> np.ndarray:
    """Parse a time column's texts (each distinct text once: series of a panel share their dates)."""
    texts = np.array(cells, dtype=str)
    uniques, first, inverse = np.unique(texts, return_index=True, return_inverse=True)
    parsed, bad = _parse_texts([str(u) for u in uniques], cells[0])
    if bad:
        k = int(first[bad].min())                  # the first bad row in the file's order
        known = (f"the format of the first timestamp {cells[0]!r}" if k else
                 f"a known format ({', '.join(FORMATS)})")
        raise DataError(f"{where.name(k)}: column {name!r} has {cells[k]!r} at {where.place(k)}, which is "
                        f"neither an integer step nor a date in {known}")
    return parsed[inverse]


def _parse_texts(texts: list[str], lead: str) -> tuple[np.ndarray, list[int]]:
    """Integers if every text is one (YYYYMMDD dates aside); else dates in `lead`'s format. Returns the bad ones too."""
    compact = all(len(t) == 8 and t.isdigit() and _moment(t, "%Y%m%d") for t in texts)
    if all(_INTEGER.fullmatch(t) for t in texts) and not compact:
        return np.array([int(t) for t in texts], dtype=np.int64), []
    form = next((f for f in FORMATS if _moment(lead, f) is not None), None)
    moments, bad = [], []
    for k, text in enumerate(texts):
        moment = None if form is None else _moment(text, form)
        if moment is None:
            bad.append(k)
        moments.append(moment or datetime(1970, 1, 1))
    return np.array(moments, dtype=TIME_DTYPE), bad


def _moment(text: str, form: str) -> datetime | None:
    try:
        moment = datetime.strptime(text.strip(), form)
    except ValueError:
        return None
    return moment if moment.tzinfo is None else moment.astimezone(timezone.utc).replace(tzinfo=None)


def _numbers(where: _Rows, name: str, cells) -> np.ndarray:
    """(R,) float64 of a column's cells, NaN where missing; refuses text and infinities."""
    try:
        numbers = np.asarray(cells, dtype=np.float64)   # fast path: every cell a number (or None)
    except (TypeError, ValueError):
        numbers = np.array([_number(where, name, k, cell) for k, cell in enumerate(cells)], dtype=np.float64)
    infinite = np.flatnonzero(np.isinf(numbers))
    if infinite.size:
        k = infinite[0]
        raise DataError(f"{where.name(k)}: column {name!r} has non-finite value {_shown(cells[k])} at {where.place(k)}")
    return numbers


def _missing(cell) -> bool:
    """A DataFrame cell that holds no value: None, NaN, pandas' NA or NaT."""
    return (cell is None or type(cell).__name__ in ("NAType", "NaTType")
            or (isinstance(cell, (float, np.floating)) and np.isnan(cell)))


def _number(where: _Rows, name: str, k: int, cell) -> float:
    if _missing(cell):
        return np.nan
    if isinstance(cell, str):
        if cell.strip().lower() in MISSING_CELLS:
            return np.nan
        try:
            return float(cell)
        except ValueError:
            pass
    elif isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, bool):
        return float(cell)
    raise DataError(f"{where.name(k)}: column {name!r} has non-numeric value {_shown(cell)} at {where.place(k)}")


def _shown(cell) -> str:
    return repr(cell) if isinstance(cell, str) else str(cell)


def _assemble(table: _Table, names: _Columns, fill: str | None) -> Panel:
    ids, groups = _group(table.rows.ids)
    values, times, covariates = [], [], {name: [] for name in names.covariates}
    statics = {name: [] for name in names.statics}
    for rows in groups:
        _check_order(table.rows, rows, table.times[rows])
        values.append(_filled(table, names.target, rows, fill))
        for name in names.covariates:
            covariates[name].append(_filled(table, name, rows, fill))
        for name in names.statics:
            statics[name].append(_constant(table, name, rows))
        times.append(table.times[rows])
    freq = infer_freq(table.rows.source, ids, times)
    return Panel(ids=tuple(ids), values=tuple(values), times=tuple(times),
                 covariates={name: tuple(c) for name, c in covariates.items()}, freq=freq,
                 statics={name: tuple(c) for name, c in statics.items()})


def _constant(table: _Table, name: str, rows: np.ndarray) -> str:
    """The one category a static column holds for a series (every row the same, none missing)."""
    where, column = table.rows, table.texts[name][rows]
    empty = np.flatnonzero(column == "")
    if empty.size:
        raise DataError(f"{where.name(rows[0])}: static column {name!r} is missing at {where.place(rows[empty[0]])}; "
                        "a static column needs the series' category in every row")
    other = np.flatnonzero(column != column[0])
    if other.size:
        k = rows[other[0]]
        raise DataError(f"{where.name(rows[0])}: static column {name!r} changes within the series: {str(column[0])!r} "
                        f"at {where.place(rows[0])}, {str(table.texts[name][k])!r} at {where.place(k)}; it must hold one "
                        "value per series")
    return str(column[0])


def _group(ids: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """Series ids in first-appearance order, and each one's row positions in the table's order."""
    uniques, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)                                   # unique ids by first appearance
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[inverse]                                       # (R,) each row's series number
    rows = np.argsort(codes, kind="stable")                     # stable: a series keeps its rows' order
    return [str(u) for u in uniques[order]], np.split(rows, np.cumsum(np.bincount(codes))[:-1])


def _check_order(where: _Rows, rows: np.ndarray, times: np.ndarray) -> None:
    steps = np.diff(times.view(np.int64))
    bad = np.flatnonzero(steps <= 0)
    if not bad.size:
        return
    k = bad[0]
    a, b, t_a, t_b = rows[k], rows[k + 1], format_time(times[k]), format_time(times[k + 1])
    if steps[k] == 0:
        raise DataError(f"{where.name(a)}: timestamp {t_a} appears twice, at {where.place(a)} and {where.place(b)}")
    raise DataError(f"{where.name(a)}: timestamps are not in time order: {t_b} at {where.place(b)} comes after "
                    f"{t_a} at {where.place(a)}; sort each series by time (rows of different series may interleave)")


def _filled(table: _Table, name: str, rows: np.ndarray, fill: str | None) -> np.ndarray:
    column = table.numbers[name][rows]
    if not np.isnan(column).any():
        return column
    where = table.rows  # fill within the series: ffill never carries one series' value into the next
    return fill_column(where.name(rows[0]), name, column, [where.labels[r] for r in rows], fill, where=where.where)

