"""Labelled multivariate series of unequal lengths: UCR/UEA ``.ts`` files and long-format CSVs.

A `LabelledSeries` holds N sequences, sequence i a (T_i, C) float64 array (rows are time steps,
columns the C channels, the same channels for all), with one label per sequence. Two readers make
one:

- `read_ts`: the UCR/UEA archive's ``.ts`` text format. ``#`` lines are comments; ``@`` lines form
  the header (``@problemName``, ``@timeStamps false``, ``@missing``, ``@univariate``,
  ``@dimensions C``, ``@equalLength``, ``@seriesLength T``, ``@classLabel true <labels>`` or
  ``false``), ended by ``@data``. Then one line per case: channels separated by ``:``, the values of
  a channel by ``,``, the label last; ``?`` is a missing value. Channels are named ``dim_0`` …
  ``dim_{C-1}``.
- `read_long_csv`: a CSV in long format, one row per (sequence, time step): columns
  ``sequence_id``, ``time``, the channels, and optionally ``label`` (constant within a sequence).

Either opens a ``.gz`` file transparently. Missing values (``?`` in ``.ts``; an empty cell, ``nan``
or ``NA`` in a CSV) are an error unless ``fill`` says how to fill them, per channel within each
sequence. Every problem raises `DataError` with one line naming the file, the line and the value.

This module is longer than the style's ~300 lines: both readers and the checks they share (missing
values, labels, channel counts) belong to the one `LabelledSeries` they build.
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data import bundled
from rnnlab.data.csvrows import csv_rows
from rnnlab.data.errors import DataError, line_at
from rnnlab.data.series import interpolate

__all__ = ["FILL_MODES", "LabelledSeries", "fill_missing", "load_labelled_series", "read_long_csv", "read_ts"]

FILL_MODES = ("ffill", "interpolate", "zero")
_MISSING = frozenset({"", "?", "nan", "na", "n/a", "null", "none"})  # cells read as NaN (lowercased)
_TS_TAGS = ("@problemname", "@timestamps", "@missing", "@univariate", "@dimensions", "@dimension",
            "@equallength", "@serieslength", "@classlabel", "@data")
_CSV_KEYS = ("sequence_id", "time", "label")


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields with == is ambiguous
class LabelledSeries:
    """N multivariate sequences of unequal lengths, each with an id and (optionally) a label.

    Attributes:
        series: N float64 arrays, sequence i of shape (T_i, C) with T_i ≥ 1; no NaN once read.
        labels: N labels (strings), or None when the file has none (a file to predict on).
        channels: the C channel names, in the order of each array's columns.
        ids: N sequence ids: the CSV's ``sequence_id`` values, or "1", "2", … (case number) for ``.ts``.
        classes: the declared classes (``@classLabel``), or for a CSV the sorted labels; () if unlabelled.
        source: the file the sequences were read from, for messages.
    """

    series: list[np.ndarray]
    labels: list[str] | None
    channels: tuple[str, ...]
    ids: tuple[str, ...]
    classes: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.series) or (self.labels is not None and len(self.labels) != len(self.series)):
            raise ValueError(f"series, ids and labels must have one entry per sequence; received {len(self.series)}, "
                             f"{len(self.ids)} and {None if self.labels is None else len(self.labels)}")
        for i, values in enumerate(self.series):
            if values.ndim != 2 or values.shape[1] != len(self.channels) or len(values) == 0:
                raise ValueError(f"series[{i}] must have shape (T ≥ 1, {len(self.channels)}); "
                                 f"received {values.shape}")

    def __len__(self) -> int:
        return len(self.series)

    @property
    def lengths(self) -> np.ndarray:
        """(N,) int64: T_i of each sequence."""
        return np.array([len(values) for values in self.series], dtype=np.int64)


def fill_missing(values: np.ndarray, fill: str | None, where: str) -> np.ndarray:
    """Fill the NaNs of one sequence, channel by channel.

    Args:
        values: (T, C) float64, NaN where missing.
        fill: None refuses missing values; "ffill" carries the last value forward (the first known
            value back over a leading gap); "interpolate" draws straight lines between known values
            and holds the ends; "zero" writes 0.
        where: names the sequence in messages (file and line or id).

    Returns:
        (T, C) float64 without NaN (``values`` itself when nothing is missing).

    Raises:
        DataError: if values are missing and ``fill`` is None, or a channel has no value at all
            and ``fill`` is "ffill" or "interpolate".
    """
    missing = np.isnan(values)                                          # (T, C)
    if not missing.any():
        return values
    if fill is None:
        step, channel = (int(i) for i in np.argwhere(missing)[0])
        raise DataError(f"{where}: {int(missing.sum())} missing values, the first at step {step} of channel {channel} "
                        "(0-based); pass fill='ffill', 'interpolate' or 'zero'")
    if fill == "zero":
        return np.where(missing, 0.0, values)
    steps = np.arange(len(values))
    filled = values.copy()
    for c in np.flatnonzero(missing.any(axis=0)):
        known = ~missing[:, c]
        if not known.any():
            raise DataError(f"{where}: channel {c} has no values to {fill} from; use fill='zero'")
        if fill == "interpolate":
            filled[:, c] = np.where(known, values[:, c], interpolate(steps, steps[known], values[known, c]))
        else:
            last_known = np.maximum.accumulate(np.where(known, steps, 0))  # (T,) index of the last known value
            column = values[last_known, c]
            filled[:, c] = np.where(np.isnan(column), values[known, c][0], column)
    return filled


def _read_text(path: Path) -> str:
    """The file's text, gunzipped if it ends in .gz, its line ends (\\r\\n, \\r) made \\n."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}" if not path.exists() else f"{path}: not a file")
    data, gzipped = path.read_bytes(), path.suffix == ".gz"
    if gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: cannot be read as gzipped UTF-8 text (not a valid gzip file: {error})") from None
    try:
        text = data.decode("utf-8-sig")  # -sig: tolerate a byte-order mark
    except UnicodeDecodeError as error:
        line = line_at(data, error.start)
        raise DataError(f"{path}: cannot be read as {'gzipped ' if gzipped else ''}UTF-8 text: byte "
                        f"{data[error.start:error.start + 1]!r} at line {line}"
                        f"{' of the decompressed data' if gzipped else ''}") from None
    # not str.splitlines: it also ends lines at \x0c, \x1c, U+2028, ..., which no editor or CSV reader does,
    # and line numbers would then name other lines than the user's
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_lines(path: Path) -> list[str]:
    """The file's lines (see `_read_text`)."""
    return _read_text(path).split("\n")


def _number(cell: str, where: str) -> float:
    """A cell as a float; NaN if it is one of the missing markers."""
    cell = cell.strip()
    if cell.lower() in _MISSING:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{where}: non-numeric value {cell!r}") from None
    if math.isinf(value):
        raise DataError(f"{where}: infinite value {cell!r}")
    return value


def _ts_header(path: Path, lines: list[str]) -> tuple[dict[str, tuple[str, int]], int]:
    """The header's tags (lowercased) with their values and line numbers, and the index of the first line
    after @data."""
    header: dict[str, tuple[str, int]] = {}
    for index, line in enumerate(lines):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tag, value = (line.split(None, 1) + [""])[:2]
        if not line.startswith("@") or tag.lower() not in _TS_TAGS:
            raise DataError(f"{path}: line {index + 1}: expected a header line (one of {list(_TS_TAGS)}) before "
                            f"@data; found {line[:60]!r}")
        header["@dimensions" if tag.lower() == "@dimension" else tag.lower()] = (value.strip(), index + 1)
        if tag.lower() == "@data":
            return header, index + 1
    raise DataError(f"{path}: no @data line; a .ts file needs a header ended by @data")


def _ts_settings(path: Path, header: dict[str, tuple[str, int]]) -> tuple[int | None, int | None,
                                                                          tuple[str, ...] | None]:
    """(channels C or None, required length or None, declared classes or None) from the header."""
    def value(tag: str, default: str | None, check: str = "") -> str | None:
        text, line = header.get(tag, (default, 0))
        if (check == "flag" and text.lower() not in ("true", "false")) or (
                check == "count" and text is not None and (not _is_count(text) or int(text) < 1)):
            wanted = "true or false" if check == "flag" else "a positive integer"
            raise DataError(f"{path}: line {line}: {tag} must be {wanted}; found {text!r}")
        return text.lower() if check == "flag" else text
    if value("@timestamps", "false", "flag") == "true":
        raise DataError(f"{path}: line {header['@timestamps'][1]}: @timeStamps true is not supported; give the "
                        "values without time stamps")
    value("@missing", "false", "flag")
    dims, length = value("@dimensions", None, "count"), value("@serieslength", None, "count")
    channels = int(dims) if dims is not None else (1 if value("@univariate", "false", "flag") == "true" else None)
    equal = value("@equallength", "false", "flag") == "true"
    words = value("@classlabel", "false").split()
    if not words or words[0].lower() not in ("true", "false") or words == ["true"]:
        raise DataError(f"{path}: line {header['@classlabel'][1]}: @classLabel must be 'true <labels>' or "
                        f"'false'; found {header['@classlabel'][0]!r}")
    classes = tuple(words[1:]) if words[0].lower() == "true" else None
    return channels, int(length) if equal and length is not None else None, classes


def _is_count(text: str) -> bool:
    """True for a whole number written in ASCII digits (str.isdigit also takes '²', which int refuses)."""
    return text.isascii() and text.isdigit()


def read_ts(path: str | Path, *, fill: str | None = None) -> LabelledSeries:
    """Read a UCR/UEA ``.ts`` file (or ``.ts.gz``); see the module docstring for the format.

    Args:
        path: the file.
        fill: how to fill missing values ("?"), per channel within a case; see `fill_missing`.

    Returns:
        A `LabelledSeries` with channels ``dim_0`` …, ids "1", "2", … (the case's number), and
        labels (None for ``@classLabel false``).

    Raises:
        DataError: naming the file and line: a bad or incomplete header, @timeStamps true, a case
            with another number of channels than @dimensions (or than the first case), channels of
            unequal length within a case, a length other than @seriesLength, an empty channel, a label
            not in @classLabel, a non-numeric value, missing values without ``fill``, or no cases.
    """
    if fill is not None and fill not in FILL_MODES:
        raise DataError(f"fill must be one of {[None, *FILL_MODES]}; received {fill!r}")
    path = Path(path)
    lines = _read_lines(path)
    header, first = _ts_header(path, lines)
    num_channels, length, classes = _ts_settings(path, header)
    series, labels = [], []
    for index in range(first, len(lines)):
        line = lines[index].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}: line {index + 1}"
        parts = line.split(":")
        if classes is not None:
            label = parts.pop().strip()
            if label not in classes:
                raise DataError(f"{where}: label {label!r} is not in @classLabel {list(classes)}")
            labels.append(label)
        if not parts:
            raise DataError(f"{where}: a label and no values; a case is channels separated by ':', then its label: "
                            f"{line[:60]!r}")
        num_channels = num_channels or len(parts)
        if len(parts) != num_channels:
            raise DataError(f"{where}: {len(parts)} channels; expected {num_channels} (@dimensions or the first case)")
        columns = [[_number(cell, f"{where}, channel {c}") for cell in part.split(",")] if part.strip() else []
                   for c, part in enumerate(parts)]
        sizes = [len(column) for column in columns]
        if min(sizes) == 0:
            raise DataError(f"{where}: channel {sizes.index(0)} is empty (a sequence of length 0)")
        if len(set(sizes)) > 1 or (length is not None and sizes[0] != length):
            raise DataError(f"{where}: channel lengths {sizes} differ"
                            + (f" from @seriesLength {length}" if length is not None else ""))
        series.append(fill_missing(np.array(columns, dtype=np.float64).T, fill, where))   # (T, C)
    if not series:
        raise DataError(f"{path}: no cases after @data")
    return LabelledSeries(series, labels if classes is not None else None,
                          tuple(f"dim_{c}" for c in range(num_channels)),
                          tuple(str(i) for i in range(1, len(series) + 1)), classes or (), str(path))


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank data rows with their line numbers (the header is line 1)."""
    rows = [(line, [cell.strip() for cell in row]) for line, row in csv_rows(path, _read_text(path))]
    if not rows:
        raise DataError(f"{path}: file is empty (no header and no rows)")
    (_, header), rows = rows[0], rows[1:]
    missing = [name for name in _CSV_KEYS[:2] if name not in header]
    channels = [name for name in header if name not in _CSV_KEYS]
    if missing or not channels or len(set(header)) != len(header):
        raise DataError(f"{path}: a long-format CSV needs columns sequence_id, time, at least one channel and "
                        f"optionally label, each once; the header is {header}")
    if not rows:
        raise DataError(f"{path}: no data rows after the header {header}")
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields; the header has {len(header)}")
    return header, rows


def _time_key(cells: list[str]):
    """Sort key for a sequence's time cells: numeric when they all are, else the text itself."""
    try:
        return [float(cell) for cell in cells]
    except ValueError:
        return cells


def read_long_csv(path: str | Path, *, fill: str | None = None) -> LabelledSeries:
    """Read sequences from a long-format CSV (or ``.csv.gz``): one row per sequence and time step.

    Columns: ``sequence_id``, ``time``, one or more numeric channel columns, and optionally
    ``label``. Rows are grouped by ``sequence_id`` (sequences in order of first appearance) and
    ordered by ``time`` within a sequence (numerically when every time cell of it is a number, else
    as text), so the rows of a file may come in any order.

    Args:
        path: the file.
        fill: how to fill missing cells (empty, "nan", "NA", "?"), per channel within a sequence.

    Returns:
        A `LabelledSeries`: channels in the header's order, ids the ``sequence_id`` values, labels
        None without a ``label`` column, classes the sorted labels.

    Raises:
        DataError: naming the file and line: missing columns, a row with another number of fields,
            a non-numeric value, an empty label, a label changing within a sequence, a time repeated
            within a sequence, missing values without ``fill``.
    """
    if fill is not None and fill not in FILL_MODES:
        raise DataError(f"fill must be one of {[None, *FILL_MODES]}; received {fill!r}")
    path = Path(path)
    header, rows = _csv_rows(path)
    channels = [name for name in header if name not in _CSV_KEYS]
    columns = [header.index(name) for name in channels]
    has_label = "label" in header
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    for line, row in rows:
        groups.setdefault(row[header.index("sequence_id")], []).append((line, row))
    series, labels = [], []
    for sequence_id, members in groups.items():
        times = [row[header.index("time")] for _, row in members]
        if len(set(times)) != len(times):
            repeated = next(time for time in times if times.count(time) > 1)
            raise DataError(f"{path}: sequence {sequence_id!r} has time {repeated!r} twice")
        keys = _time_key(times)
        members = [member for _, member in sorted(zip(keys, members), key=lambda pair: pair[0])]
        if has_label:
            labels.append(_sequence_label(path, sequence_id, members, header.index("label")))
        values = np.array([[_number(row[c], f"{path}: line {line}, column {header[c]!r}") for c in columns]
                           for line, row in members])                    # (T, C)
        series.append(fill_missing(values, fill, f"{path}: sequence {sequence_id!r}"))
    return LabelledSeries(series, labels if has_label else None, tuple(channels), tuple(groups),
                          tuple(sorted(set(labels))), str(path))


def _sequence_label(path: Path, sequence_id: str, members: list[tuple[int, list[str]]], column: int) -> str:
    """The one label of a sequence's rows; a change or an empty label is a DataError."""
    first_line, first_row = members[0]
    label = first_row[column]
    for line, row in members:
        if not row[column]:
            raise DataError(f"{path}: line {line}: empty label in sequence {sequence_id!r}")
        if row[column] != label:
            raise DataError(f"{path}: line {line}: label {row[column]!r} differs from {label!r} (line {first_line}) "
                            f"within sequence {sequence_id!r}")
    return label


def load_labelled_series(data: str | Path, split: str = "train", *, fill: str | None = None) -> LabelledSeries:
    """Read a bundled classification set's TRAIN or TEST file, or a ``.ts``/``.csv`` file (optionally .gz).

    Args:
        data: a bundled name (``rnnlab.data.bundled.list_series_classification_names()``) or a path.
        split: "train" or "test": which file of a bundled set (ignored for a path).
        fill: passed to the reader (see `fill_missing`).

    Raises:
        ValueError: if ``split`` is neither "train" nor "test".
        DataError: if ``data`` is neither a bundled name nor an existing file, has another suffix
            than .ts/.csv (optionally .gz), or the reader's errors.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; received {split!r}")
    name = str(data)
    if name in bundled.list_series_classification_names():
        return read_ts(bundled.series_classification_files(name)[split == "test"], fill=fill)
    path = Path(name)
    if not path.is_file():
        raise DataError(f"{name!r} is neither a bundled series classification set "
                        f"{list(bundled.list_series_classification_names())} nor an existing file")
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    kind = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) == 2 else suffixes[-1] if suffixes else ""
    if kind not in (".ts", ".csv"):
        raise DataError(f"{path}: expected a .ts or .csv file (optionally .gz); received suffix {kind or 'none'!r}")
    return (read_ts if kind == ".ts" else read_long_csv)(path, fill=fill)
