"""Data in memory as the estimators take it: pandas objects, numpy arrays and lists.

pandas is optional: these functions recognise its objects by their type's module and never import
it themselves, except `future_index`, which only runs for a caller who gave pandas data.

`read_series` turns what a forecaster is given (a CSV path or a bundled name, a pandas Series or
DataFrame, a numeric array) into one `Series`: the same object `rnnlab.data.series.read_csv`
returns, with the same checks and the same `fill` rules, so every path through the forecaster
meets one kind of series.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from rnnlab.data.errors import DataError
from rnnlab.data.series import TIME_COLUMN_NAMES, Series, fill_column, load_series
from rnnlab.data.timestamps import next_times


def is_file_or_name(data: Any) -> bool:
    """True where `data` names what to read (a path, or a bundled data set's name), not data itself."""
    return isinstance(data, (str, os.PathLike))


def name_of(data: Any) -> str:
    """How data is named in results: a path or name as given, data in memory by its type."""
    if data is None:
        return "<data in memory>"
    return str(data) if is_file_or_name(data) else f"<{type(data).__name__} in memory>"


def quoted(data: Any) -> str:
    """How data is named in messages: a path or name quoted, data in memory by its type."""
    return repr(str(data)) if is_file_or_name(data) else name_of(data)


def is_pandas(value: Any, kind: str | None = None) -> bool:
    """True for a pandas object (of class `kind`, "DataFrame" or "Series", when given)."""
    module = type(value).__module__
    return module.split(".")[0] == "pandas" and (kind is None or type(value).__name__ == kind)


def read_series(data: Any, *, target: str | int | None = None, columns: str | list[str] | None = None,
                fill: str | None = None, argument: str = "data") -> Series:
    """The `Series` that `data` holds.

    Args:
        data: a CSV file or a bundled series' name; a pandas Series (its name is the target) or
            DataFrame (a DatetimeIndex, PeriodIndex or a time-named column gives the times); or a
            numeric array of shape (N,) or (N, C) whose columns are named "x0", "x1", ...
        target: the column to forecast (an int picks an array's column); optional where there is
            only one column, and for a bundled name.
        columns: the input columns (a list, or comma-separated names), the target among them;
            None takes every numeric column.
        fill: how to fill missing values (see `rnnlab.data.series.read_csv`); None refuses them.
        argument: the name `data` has for the caller, used in error messages.

    Raises:
        TypeError: for a value of no supported kind.
        DataError: for values that are not finite numbers, missing values without `fill`, or
            a target or column that is not there.
    """
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    if isinstance(data, (str, os.PathLike)):
        return load_series(str(data), None if target is None else str(target), columns=columns, fill=fill)
    if is_pandas(data, "Series"):
        name = str(data.name) if data.name is not None else (str(target) if target is not None else "y")
        return _from_columns({name: data.to_numpy()}, name, None, data.index, fill, argument)
    if is_pandas(data, "DataFrame"):
        return _from_frame(data, target, columns, fill, argument)
    if isinstance(data, (np.ndarray, list, tuple)):
        return _from_array(data, target, columns, fill, argument)
    raise TypeError(f"{argument} must be a CSV file, a bundled series' name, a pandas Series or DataFrame, or a "
                    f"numeric array of shape (N,) or (N, C); received {type(data).__name__}")


def _from_frame(frame, target, columns, fill, argument: str) -> Series:
    index, names = frame.index, [str(c) for c in frame.columns]
    time_name = None
    if not _is_time_index(index):
        time_name = next((n for n in names if n.lower() in TIME_COLUMN_NAMES), None)
    values = {str(c): frame[c].to_numpy() for c in frame.columns if str(c) != time_name}
    if target is None:
        if len(values) != 1:
            raise ValueError(f"target is required for a DataFrame with columns {list(values)}; received None")
        target = next(iter(values))
    times = index if time_name is None else frame[time_name].astype(str).tolist()
    return _from_columns(values, str(target), columns, times, fill, argument)


def _from_array(data, target, columns, fill, argument: str) -> Series:
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{argument} must hold numbers; received an array of {np.asarray(data).dtype}") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{argument} must have shape (N,) or (N, C); received shape {array.shape}")
    names = ["y"] if array.shape[1] == 1 and target in (None, "y", 0) else [f"x{c}" for c in range(array.shape[1])]
    if isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < len(names):
            raise ValueError(f"target must be a column index in [0, {len(names)}); received {target}")
        target = names[target]
    if target is None:
        if len(names) != 1:
            raise ValueError(f"target is required for an array of {len(names)} columns (an index, or a name of "
                             f"{names}); received None")
        target = names[0]
    return _from_columns({n: array[:, c] for c, n in enumerate(names)}, str(target), columns, None, fill, argument)


def _from_columns(values: dict[str, Any], target: str, columns, times, fill, argument: str) -> Series:
    """The Series of named columns: the target checked, each column numeric, missing values filled."""
    names = list(values) if columns is None else list(columns) + ([target] if target not in columns else [])
    for name in [target, *names]:
        if name not in values:
            raise DataError(f"{argument}: column {name!r} not found; columns are {list(values)}")
    matrix = np.empty((len(next(iter(values.values()))), len(names)))  # (N, C)
    for c, name in enumerate(names):
        try:
            column = np.asarray(values[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{argument}: column {name!r} is not numeric") from None
        if np.isinf(column).any():
            raise DataError(f"{argument}: column {name!r} has an infinite value at row {int(np.argmax(np.isinf(column)))}")
        matrix[:, c] = fill_column(argument, name, column, list(range(len(column))), fill, where="row")
    if len(matrix) == 0:
        raise DataError(f"{argument} has no rows")
    index = times if times is not None and not isinstance(times, list) else None
    strings = times if isinstance(times, list) or times is None else _index_strings(times)  # None: a plain index
    return Series(values=matrix, columns=tuple(names), target=target,
                  times=None if strings is None else tuple(str(t) for t in strings),
                  index=index)


def _is_time_index(index) -> bool:
    return type(index).__name__ in ("DatetimeIndex", "PeriodIndex")


def _index_strings(index) -> list[str] | None:
    """A time-like index as ISO strings; None for a plain (range) index, which holds no times."""
    if not _is_time_index(index):
        return None if type(index).__name__ == "RangeIndex" else [str(v) for v in index]
    if type(index).__name__ == "PeriodIndex":
        return [str(v) for v in index]
    if (index == index.normalize()).all():  # dates only: no midnight times in the labels
        return list(index.strftime("%Y-%m-%d"))
    return [v.isoformat() for v in index]


def future_index(series: Series, count: int):
    """The pandas index of the `count` steps after `series` ends: its own frequency continued.

    A DatetimeIndex continues by its frequency (set, or inferred from the index), a PeriodIndex by
    its periods; a time column of strings by `next_times`; anything else by counting on from the
    last row's position (a RangeIndex).
    """
    import pandas as pd  # only reached for callers who asked for a DataFrame

    index = series.index
    if type(index).__name__ == "PeriodIndex":
        return index[-1] + np.arange(1, count + 1)
    if type(index).__name__ == "DatetimeIndex":
        frequency = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        if frequency is not None:
            return pd.date_range(index[-1], periods=count + 1, freq=frequency)[1:]
    if series.times is not None:
        following = next_times(series.times, count)
        if following is not None:
            try:
                return pd.DatetimeIndex(pd.to_datetime(following))
            except (ValueError, TypeError):
                return pd.Index(following)
    return pd.RangeIndex(len(series), len(series) + count)
