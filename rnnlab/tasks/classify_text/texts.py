"""Labelled texts as a text classifier reads them, from a file or from memory, and how they become ids.

    read_labelled(data, labels)   (where, texts, labels, kind) of a CSV file (text,label), a bundled
                                  set ("rotten_tomatoes"), a DataFrame, or texts with their labels
    texts_to_predict(data)        the texts of a CSV's text column, or of a list, Series or DataFrame
    TextEncoder                   texts → token ids and labels → class ids; saved with a run
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from rnnlab.data.csvrows import csv_rows
from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas, quoted
from rnnlab.data.labels import label_strings
from rnnlab.data.text import Tokenizer, Vocabulary, read_labelled_csv, read_text, resolve_text_data
from rnnlab.tasks.classifier import class_ids


class Labelled(NamedTuple):
    """Texts and their labels, as read: `where` names them in messages."""

    where: str
    texts: list[str]
    labels: list[str]  # as strings; `kind` says what they were ("int" for integer labels in memory)
    kind: str


def read_labelled(data: Any, labels: Any = None, argument: str = "data") -> Labelled:
    """The texts and labels of `data`, with one error naming `argument` for anything else.

    Args:
        data: a CSV file with columns text,label (others ignored) or a bundled labelled set's name;
            a pandas DataFrame with a "text" and (unless `labels` is given) a "label" column; a
            list, tuple, array or pandas Series of texts, with `labels`; or a (texts, labels) tuple.
        labels: one label per text (strings or integers), where `data` holds texts only.

    Raises:
        TypeError: for data of another type, or texts that are not strings.
        ValueError: for labels missing or of another length than the texts.
        DataError: for a file that cannot be read (naming it and the line).
    """
    if labels is None and isinstance(data, tuple) and len(data) == 2 and not isinstance(data[1], str):
        data, labels = data  # (texts, labels), as Keras takes validation_data
    if is_file_or_name(data):
        if labels is not None:
            raise ValueError(f"labels come from the file's label column; received labels with {argument} "
                             f"{quoted(data)}")
        path = resolve_text_data(str(data), "labelled")
        texts, read = read_labelled_csv(path)
        return Labelled(str(path), texts, read, "str")
    if is_pandas(data, "DataFrame"):
        columns = [str(c) for c in data.columns]
        needed = ["text"] + ([] if labels is not None else ["label"])
        missing = [c for c in needed if c not in columns]
        if missing:
            raise ValueError(f"{argument} must have a {' and a '.join(repr(c) for c in needed)} column; its "
                             f"columns are {columns}")
        labels = data["label"] if labels is None else labels
        data = data["text"]
    texts = text_list(data, argument)
    if labels is None:
        raise ValueError(f"labels are required with texts in memory: fit(texts, labels); received {argument} "
                         f"of {len(texts)} texts and labels=None")
    strings, kind = label_strings(labels)
    if len(strings) != len(texts):
        raise ValueError(f"labels must have one label per text: {argument} has {len(texts)} texts; received "
                         f"{len(strings)} labels")
    return Labelled(f"{argument} (texts in memory)", texts, strings, kind)


def text_list(data: Any, argument: str = "data") -> list[str]:
    """The texts of a list, tuple, array or pandas Series, each a non-empty string."""
    if isinstance(data, (str, bytes)) or not isinstance(data, (list, tuple, np.ndarray)) and not is_pandas(data):
        raise TypeError(f"{argument} must be a CSV file, a bundled data set's name, a pandas DataFrame or a list "
                        f"of texts; received {type(data).__name__}")
    texts = data.tolist() if hasattr(data, "tolist") else list(data)
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{argument}[{row}] must be a string (a text); received {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"{argument}[{row}] is an empty text; received {text!r}")
    if not texts:
        raise ValueError(f"{argument} holds no texts; received an empty {type(data).__name__}")
    return texts


def texts_to_predict(data: Any) -> list[str]:
    """The texts to classify: one string, or a list/array/Series of them, or a DataFrame's "text" column."""
    if isinstance(data, str):
        return text_list([data])
    if is_pandas(data, "DataFrame"):
        if "text" not in [str(c) for c in data.columns]:
            raise ValueError(f"data must have a 'text' column; its columns are {[str(c) for c in data.columns]}")
        data = data["text"]
    return text_list(data)


def read_text_column(data: str) -> list[str]:
    """The `text` column of a CSV (a `label` column and any others are ignored), or of a bundled set.

    Raises:
        DataError: naming the file and line, if it is missing, not UTF-8, has no `text` column, or
            a row has another number of fields than the header or an empty text.
    """
    path = resolve_text_data(data, "labelled")
    rows = csv_rows(path, read_text(path))
    if not rows:
        raise DataError(f"{path}: file is empty (no header and no rows)")
    header = [name.strip() for name in rows[0][1]]
    if "text" not in header:
        raise DataError(f"{path}: no 'text' column; columns found: {header}")
    if len(rows) == 1:
        raise DataError(f"{path}: no data rows after the header {header}")
    texts, column = [], header.index("text")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields; the header has {len(header)}")
        if not row[column].strip():
            raise DataError(f"{path}: line {line} has an empty text cell (line 1 is the header): {row!r}")
        texts.append(row[column].strip())
    return texts


class TextEncoder(NamedTuple):
    """How texts and labels become model input; saved with a run, so a reloaded run encodes the same.

    Attributes:
        tokenizer: splits a text into tokens.
        vocabulary: maps tokens to ids (unknown tokens to <unk>).
        classes: the labels, sorted; class id k is classes[k].
        max_length: keep at most this many tokens of a text; 0 keeps all.
    """

    tokenizer: Tokenizer
    vocabulary: Vocabulary
    classes: list[str]
    max_length: int

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (unknown words → <unk>), cut to max_length tokens."""
        encoded = [self.vocabulary.encode(self.tokenizer(text)) for text in texts]
        return [ids[: self.max_length] for ids in encoded] if self.max_length else encoded

    def targets(self, labels: Sequence[str], where: str) -> np.ndarray:
        """Class ids of `labels`; a label training never saw is a DataError naming it and `where`."""
        return class_ids(self.classes, labels, [f"data row {row}" for row in range(1, len(labels) + 1)], where)

    def to_dict(self) -> dict:
        """A JSON-ready dict; `from_dict` rebuilds an equal encoder from it."""
        return {"tokenizer": self.tokenizer.to_dict(), "vocabulary": self.vocabulary.to_dict(),
                "classes": list(self.classes), "max_length": self.max_length}

    @classmethod
    def from_dict(cls, saved: dict) -> TextEncoder:
        return cls(Tokenizer.from_dict(saved["tokenizer"]), Vocabulary.from_dict(saved["vocabulary"]),
                   list(saved["classes"]), int(saved["max_length"]))
