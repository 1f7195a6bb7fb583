"""Class labels as the classifiers take and give them: in the caller's terms outside, strings inside a run.

A run keeps its classes as strings (config.json is JSON, and labels read from a file are text).
Labels given in memory may be integers instead (scikit-learn's `y = [0, 1, 1, ...]`): the run
then records the kind "int", sorts its classes as numbers, and `restore` gives integers back, so
`predict` answers 0 and 1, not "0" and "1". Any other label (a bool, a float, an object) is used
as its `str`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

LABEL_KINDS = ("str", "int")


def label_strings(labels: Any, argument: str = "labels") -> tuple[list[str], str]:
    """(labels as strings, their kind): "int" when every label is an integer, else "str".

    Raises:
        TypeError: if `labels` is a string or not a sequence (naming `argument` and the type received).
        ValueError: if a label is empty or missing (None, NaN).
    """
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise TypeError(f"{argument} must be a sequence of labels (a list, an array, a pandas Series); "
                        f"received {type(labels).__name__}")
    values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
            raise ValueError(f"{argument}[{row}] is missing or empty; received {value!r}")
    integers = all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values)
    return [str(int(v)) if integers else str(v).strip() for v in values], "int" if integers else "str"


def sorted_classes(labels: Iterable[str], kind: str) -> list[str]:
    """The distinct labels in class order: as numbers for kind "int", else as strings."""
    distinct = set(labels)
    return sorted(distinct, key=int) if kind == "int" else sorted(distinct)


def restore(labels: Sequence[str], kind: str) -> np.ndarray:
    """Labels in the caller's terms: an int64 array for kind "int", else an array of str."""
    if kind == "int":
        return np.array([int(label) for label in labels], dtype=np.int64)
    return np.array(list(labels), dtype=str)
