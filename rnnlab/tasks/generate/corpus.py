"""The text a language model learns from, read and cut into splits of token ids.

    read_corpus(data)        a UTF-8 file or a bundled text's name, or strings in memory joined by "\\n"
    encode_splits(...)       train / validation / test by position, tokenized, as ids of one vocabulary
    characters_covered(...)  the characters of text a split's predicted tokens stand for

The split is by position, not by seed: the last `test_fraction` of the characters is the test
split and the `val_fraction` before it the validation split, each cut moved forward to the next
line start so no line is broken.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from rnnlab.data import bundled
from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas
from rnnlab.data.splits import split_text
from rnnlab.data.text import UNK, Tokenizer, Vocabulary, read_text, resolve_text_data


class Corpus(NamedTuple):
    """A text made ready for the model: its splits as text and as ids, and what reads them."""

    tokenizer: Tokenizer
    vocab: Vocabulary
    texts: dict[str, str]  # "train" | "val" | "test" → raw text
    ids: dict[str, torch.Tensor]  # → (N,) int64 token ids


def read_corpus(data: Any, argument: str = "data") -> str:
    """The text of `data`: a bundled text or a UTF-8 file, or a list of strings (documents or lines) joined by "\\n".

    Raises:
        DataError: for a file that is missing, unreadable, empty or not UTF-8, or no text in memory.
        TypeError: for data of another kind.
    """
    if is_file_or_name(data):
        path = resolve_text_data(str(data), "text")
        if not path.exists() and bundled.text_kind(str(data)) is None:
            raise DataError(f"{argument}: file {str(data)!r} does not exist, and it is not a bundled text's name "
                            f"({list(bundled.list_text_names('text'))}); for text in memory, pass a list of strings, "
                            "e.g. fit([text])")
        return read_text(path)
    if is_pandas(data, "Series") or isinstance(data, np.ndarray):
        data = data.tolist()
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"{argument} must be a text file, a bundled text's name or a list of strings; received "
                        f"{type(data).__name__}")
    for index, item in enumerate(data):
        if not isinstance(item, str):
            raise TypeError(f"{argument}[{index}] must be a string (a document or a line); received "
                            f"{type(item).__name__}")
    text = "\n".join(data)
    if not text.strip():
        raise DataError(f"{argument} holds no text: received {len(data)} strings, all empty or blank")
    return text


def encode_splits(text: str, tokenizer: Tokenizer, vocab: Vocabulary | None, *, val_fraction: float,
                  test_fraction: float, min_freq: int, train_minimum: int, where: str,
                  validation: str | None = None) -> Corpus:
    """Splits and tokenizes `text`; builds the vocabulary on the training split unless `vocab` is given.

    Args:
        text: the whole text.
        tokenizer: characters or words.
        vocab: a fitted vocabulary, or None to build one (tokens rarer than `min_freq` become <unk>).
        val_fraction, test_fraction: shares of the text's characters for validation and testing.
        train_minimum: tokens the training split needs (two per row of a training batch).
        where: how the text is named in errors, e.g. "data 'hamlet'".
        validation: a text to validate on instead; the validation share of `text` then trains too.

    Raises:
        DataError: naming the split that holds too few tokens.
    """
    train, val, test = split_text(text, val_fraction, test_fraction)
    texts = {"train": train, "val": val, "test": test} if validation is None else \
        {"train": train + val, "val": validation, "test": test}
    tokens = {name: tokenizer(part) for name, part in texts.items()}
    if vocab is None:
        vocab = Vocabulary.build([tokens["train"]], min_freq=min_freq, specials=(UNK,))
    for name, minimum in (("train", train_minimum), ("val", 2), ("test", 2)):
        if len(tokens[name]) < minimum:
            source = "validation_data" if name == "val" and validation is not None else f"{where}: the {name} split"
            raise DataError(f"{source} has {len(tokens[name])} {tokenizer.kind} tokens; it needs at least {minimum} "
                            "(a longer text, other fractions or a smaller batch_size)")
    ids = {name: torch.tensor(vocab.encode(part), dtype=torch.int64) for name, part in tokens.items()}
    return Corpus(tokenizer, vocab, texts, ids)


def characters_covered(corpus: Corpus, split: str) -> int:
    """Characters of text that the predicted tokens (all but the first) of `split` stand for.

    Characters: one per predicted token. Words: the split's characters from the end of its first
    word to the end of its last (spaces and newlines between words counted), i.e. the stripped
    text less its first token: every non-space character belongs to a word-level token.
    """
    if corpus.tokenizer.kind == "char":
        return len(corpus.ids[split]) - 1
    first = corpus.tokenizer(corpus.texts[split])[0]
    return max(len(corpus.texts[split].strip()) - len(first), 1)
