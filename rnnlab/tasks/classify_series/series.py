"""Sequences as a series classifier reads them: from .ts / long-format CSV files, bundled sets, or memory.

    read_sequences(data, labels)   a `LabelledSeries` and its labels' kind, from
        - a bundled set's name ("japanese_vowels", "basic_motions": its TRAIN or TEST file) or a
          .ts / long-format .csv file (`rnnlab.data.ts`);
        - a numpy array (N, T, C), or (N, T) for one channel: N sequences of one length;
        - a list of arrays, sequence i of shape (T_i, C) or (T_i,): unequal lengths;
        - a pandas DataFrame in long format, as the CSV: a "sequence_id" column, optionally
          "time" (the order within a sequence) and "label", and the channels;
      with `labels` (one per sequence) for arrays and lists, or as a (sequences, labels) tuple.
    labelled(...)                  the same, refusing sequences without labels
    check_channels(expected, data) the channels must be the run's, in order
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas, quoted
from rnnlab.data.labels import label_strings
from rnnlab.data.ts import FILL_MODES, LabelledSeries, fill_missing, load_labelled_series


def read_sequences(data: Any, labels: Any = None, *, split: str = "train", fill: str | None = None,
                   argument: str = "data", pairs: bool = True) -> tuple[LabelledSeries, str]:
    """(the sequences, their labels' kind: "int" for integer labels in memory, else "str").

    Args:
        split: which file of a bundled set to read, "train" or "test".
        fill: how to fill missing values (see `rnnlab.data.ts.fill_missing`); None refuses them.
        argument: the name of the argument `data` came in, for messages.
        pairs: read a 2-tuple as (sequences, labels); False where sequences alone are expected
            (predicting), so a tuple of two sequences is two sequences.

    Raises:
        TypeError: for data of another type (naming `argument` and the type received).
        ValueError: for labels of another length, sequences of unequal channels or no steps.
        DataError: for a file that cannot be read (naming it and the line), or missing values
            without `fill`.
    """
    if fill is not None and fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {[None, *FILL_MODES]}; received {fill!r}")
    if pairs and labels is None and isinstance(data, tuple) and len(data) == 2 and not isinstance(data[1], str):
        data, labels = data  # (sequences, labels), as Keras takes validation_data
    if is_file_or_name(data):
        if labels is not None:
            raise ValueError(f"labels come from the file; received labels with {argument} {quoted(data)}")
        return load_labelled_series(str(data), split, fill=fill), "str"
    where = f"{argument} (sequences in memory)"
    if is_pandas(data, "DataFrame"):
        series, ids, channels, frame_labels = _from_long_frame(data, argument)
        labels = frame_labels if labels is None else labels
    else:
        series = _arrays(data, argument)
        ids, channels = [str(i) for i in range(1, len(series) + 1)], [f"dim_{c}" for c in range(series[0].shape[1])]
    in_memory = not is_pandas(data, "DataFrame")   # an array's or list's sequences are named by position from 1
    series = [fill_missing(values, fill, f"{where}: sequence {sequence_id!r}"
                                         + (f" ({argument}[{index}])" if in_memory else ""))
              for index, (values, sequence_id) in enumerate(zip(series, ids))]
    if labels is None:
        return LabelledSeries(series, None, tuple(channels), tuple(ids), (), where), "str"
    strings, kind = label_strings(labels)
    if len(strings) != len(series):
        raise ValueError(f"labels must have one label per sequence: {argument} has {len(series)} sequences; "
                         f"received {len(strings)} labels")
    return LabelledSeries(series, strings, tuple(channels), tuple(ids), tuple(sorted(set(strings))), where), kind


def _arrays(data: Any, argument: str) -> list[np.ndarray]:
    """The (T_i, C) float64 sequences of an array (N, T[, C]) or a list of arrays (T_i[, C])."""
    if isinstance(data, np.ndarray) and data.dtype != object:
        if data.ndim not in (2, 3):
            raise ValueError(f"{argument} must be an array of shape (N, T, C) or (N, T); received shape {data.shape}")
        data = list(data)
    elif not isinstance(data, (list, tuple)) and not is_pandas(data, "Series"):
        raise TypeError(f"{argument} must be a .ts or .csv file, a bundled set's name, an array (N, T, C), a list "
                        f"of (T, C) arrays or a long-format DataFrame; received {type(data).__name__}")
    series = []
    for i, values in enumerate(list(data)):
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{argument}[{i}] must be numbers, shape (T, C) or (T,); received "
                            f"{type(values).__name__}") from None
        values = values[:, None] if values.ndim == 1 else values
        if values.ndim != 2 or len(values) == 0:
            raise ValueError(f"{argument}[{i}] must have shape (T ≥ 1, C) or (T ≥ 1,); received {values.shape}")
        if series and values.shape[1] != series[0].shape[1]:
            raise ValueError(f"{argument}[{i}] has {values.shape[1]} channels; {argument}[0] has "
                             f"{series[0].shape[1]}")
        series.append(values)
    if not series:
        raise ValueError(f"{argument} holds no sequences; received an empty {type(data).__name__}")
    return series


def _from_long_frame(frame, argument: str) -> tuple[list[np.ndarray], list[str], list[str], list | None]:
    """A long-format DataFrame's sequences (in order of first appearance), ids, channels and labels."""
    columns = [str(c) for c in frame.columns]
    if "sequence_id" not in columns:
        raise ValueError(f"{argument} must be in long format, with a 'sequence_id' column; its columns are {columns}")
    channels = [c for c in frame.columns if str(c) not in ("sequence_id", "time", "label")]
    if not channels:
        raise ValueError(f"{argument} has no channel columns beside sequence_id, time and label; columns: {columns}")
    series, ids, labels = [], [], []
    for sequence_id, rows in frame.groupby("sequence_id", sort=False):
        if "time" in columns:
            rows = rows.sort_values("time", kind="stable")
        try:
            series.append(rows[channels].to_numpy(dtype=np.float64))
        except (TypeError, ValueError):
            raise DataError(f"{argument}: sequence {str(sequence_id)!r} has a value that is not a number in the "
                            f"channels {[str(c) for c in channels]}") from None
        ids.append(str(sequence_id))
        if "label" in columns:
            distinct = rows["label"].unique()
            if len(distinct) != 1:
                raise DataError(f"{argument}: sequence {str(sequence_id)!r} has labels {list(distinct)}; a sequence "
                                "has one label")
            labels.append(distinct[0])
    return series, ids, [str(c) for c in channels], labels if "label" in columns else None


def labelled(data: Any, labels: Any = None, *, split: str, fill: str | None, role: str,
             argument: str = "data") -> tuple[LabelledSeries, str]:
    """`read_sequences`, refusing sequences without labels (`role` says what the labels are for)."""
    series, kind = read_sequences(data, labels, split=split, fill=fill, argument=argument)
    if series.labels is None:
        raise DataError(f"{series.source}: has no labels (a .ts @classLabel false, a CSV without a label column, "
                        f"or sequences in memory without labels); {role} needs them")
    return series, kind


def check_channels(expected: list[str] | tuple[str, ...], data: LabelledSeries, *,
                   against: str = "the {count} channels the run was trained on:") -> None:
    """A DataError naming both lists unless `data` has exactly the `expected` channels, in order.

    `against` introduces the expected list in the message (``{count}`` is their number).
    """
    if list(data.channels) != list(expected):
        raise DataError(f"{data.source}: channels {list(data.channels)} differ from "
                        f"{against.format(count=len(expected))} {list(expected)}")
