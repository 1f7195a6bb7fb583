"""Sentences as the tagger reads them, from a CoNLL-U file, a bundled name or Python lists.

    read_sentences(data)          a CoNLL-U path or bundled name, or a list of (words, tags) pairs
    sentences_of(data, tags)      token lists and their tag lists, paired (`Tagger.fit(sentences, tags)`)
    token_lists(sentences)        what `Tagger.predict` tags: token lists, strings split on whitespace,
                                  or one string

A str or Path is always a file or a bundled name. In memory, a sentence is a list of word strings
and its tags a list of tag strings of the same length; pandas Series and numpy arrays of those are
read as lists. Every problem names the argument, the sentence (0-based, as Python indexes it) and
the value received.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas
from rnnlab.data.text import read_conllu, resolve_text_data

Sentence = tuple[list[str], list[str]]  # (words, tags)

_FORMS = "a CoNLL-U file, a bundled tagging set's name (e.g. 'porttinari') or a list of (words, tags) pairs"


def read_sentences(data: Any, argument: str = "data") -> list[Sentence]:
    """The (words, tags) sentences of `data`: a CoNLL-U file or bundled set, or (words, tags) pairs.

    Raises:
        DataError: for a malformed or untagged file, or a pair whose words and tags differ in number.
        TypeError: for data of another kind, or words or tags that are not strings.
    """
    if is_file_or_name(data):
        return read_conllu(resolve_text_data(str(data), "conllu"))
    rows = _rows(data, argument, _FORMS)
    sentences = []
    for index, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != 2 \
                or any(isinstance(part, str) for part in row):  # a token list of two words is no pair
            raise TypeError(f"{argument}[{index}] must be a (words, tags) pair of lists of strings; received "
                            f"{_shown(row)}; for token lists and their tags apart, pass fit(sentences, tags)")
        words, tags = (_tokens(part, f"{argument}[{index}][{side}]") for side, part in enumerate(row))
        if not words:
            raise DataError(f"{argument}[{index}] has no words; received {_shown(row)}")
        if len(words) != len(tags):
            raise DataError(f"{argument}[{index}] has {len(words)} words and {len(tags)} tags; each word needs "
                            f"one tag: received words {words} and tags {tags}")
        sentences.append((words, tags))
    return sentences


def sentences_of(data: Any, tags: Any, argument: str = "data") -> Any:
    """`data` as `read_sentences` takes it: unchanged without `tags`, else its token lists paired with `tags`.

    Raises:
        TypeError: for `tags` beside a file or bundled name (whose tags are in the file).
        ValueError: for a different number of sentences and tag lists.
    """
    if tags is None:
        return data
    if is_file_or_name(data):
        raise TypeError(f"tags must be None when {argument} is a file or a bundled name, whose tags are in the "
                        f"file; received {argument}={str(data)!r} and tags of type {type(tags).__name__}")
    words = _rows(data, argument, "a list of token lists (one list of words per sentence)")
    tag_lists = _rows(tags, "tags", "a list of tag lists (one list of tags per sentence)")
    if len(words) != len(tag_lists):
        raise ValueError(f"tags must hold one tag list per sentence of {argument}: received {len(tag_lists)} tag "
                         f"lists for {len(words)} sentences")
    return [(_tokens(w, f"{argument}[{i}]"), _tokens(t, f"tags[{i}]"))
            for i, (w, t) in enumerate(zip(words, tag_lists))]


def token_lists(sentences: Any, argument: str = "sentences") -> list[list[str]]:
    """The words of each sentence to tag: token lists as given, strings split on whitespace.

    Raises:
        ValueError: for a sentence without words.
        TypeError: for anything else.
    """
    if isinstance(sentences, str):
        sentences = [sentences]
    rows = _rows(sentences, argument, "a list of token lists, a list of strings or one string")
    words = [row.split() if isinstance(row, str) else _tokens(row, f"{argument}[{i}]") for i, row in enumerate(rows)]
    for index, row in enumerate(words):
        if not row:
            raise ValueError(f"{argument}[{index}] must hold at least one word; received {rows[index]!r}")
    return words


def _rows(data: Any, argument: str, forms: str) -> list:
    """`data` as a non-empty list."""
    data = _listed(data)
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"{argument} must be {forms}; received {type(data).__name__}")
    if len(data) == 0:
        raise DataError(f"{argument} holds no sentences; received an empty {type(data).__name__}")
    return list(data)


def _tokens(value: Any, argument: str) -> list[str]:
    """A list of strings, each a word or tag; TypeError naming `argument` otherwise."""
    value = _listed(value)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{argument} must be a list of strings; received {_shown(value)}")
    for position, token in enumerate(value):
        if not isinstance(token, str):
            raise TypeError(f"{argument}[{position}] must be a string (a word or a tag); received {_shown(token)}")
        if not token.strip():
            raise ValueError(f"{argument}[{position}] must be a word or a tag; received the blank string {token!r}")
    return list(value)


def _listed(value: Any) -> Any:
    """A pandas Series or numpy array as a list (they hold sentences as lists do); anything else as given."""
    return value.tolist() if is_pandas(value, "Series") or isinstance(value, np.ndarray) else value


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
