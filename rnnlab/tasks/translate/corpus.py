"""Sentence pairs made ready for an encoder–decoder: read in any form, split, vocabularies, padded batches.

    (source, target) texts ──Tokenizer──▶ token lists ──Vocabulary──▶ ids
        source:  x_1 .. x_S                     (no <s> or </s>: the encoder reads lengths)
        target:  y_1 .. y_n </s>                what the decoder must predict
        decoder input: <s> y_1 .. y_n           the targets shifted right (teacher forcing)

Pairs come from a source<TAB>target TSV file or a bundled parallel set (a str or Path is always
one of those), or from memory: a list of (source, target) pairs, sources and targets apart
(`pairs_of`), or a pandas DataFrame with columns source and target. Vocabularies are built on
training pairs only, so held-out words become <unk> exactly as unseen words will at prediction time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas, quoted
from rnnlab.data.splits import Split, split_indices
from rnnlab.data.text import BOS, EOS, PAD, UNK, Tokenizer, Vocabulary, pad_batch, read_parallel_tsv, resolve_text_data
from rnnlab.tasks.translate.model import TeacherForcedBatch

_FORMS = ("a TSV file of source<TAB>target lines, a bundled parallel data set's name (e.g. 'kjv_rv'), a list of "
          "(source, target) pairs or a pandas DataFrame with columns source and target")

TokenPair = tuple[list[str], list[str]]  # (source tokens, target tokens)
Example = tuple[list[int], list[int]]  # (source ids, target ids ending in </s>)


def build_vocabularies(pairs: Sequence[TokenPair], *, min_freq: int) -> tuple[Vocabulary, Vocabulary]:
    """Source vocabulary (<pad>, <unk>, words) and target vocabulary (<pad>, <unk>, <s>, </s>, words).

    <pad> is id 0 on both sides. Tokens seen fewer than `min_freq` times in `pairs` map to <unk>.
    """
    source = Vocabulary.build((s for s, _ in pairs), min_freq=min_freq, specials=(PAD, UNK))
    target = Vocabulary.build((t for _, t in pairs), min_freq=min_freq, specials=(PAD, UNK, BOS, EOS))
    return source, target


def encode_pairs(pairs: Sequence[TokenPair], source_vocab: Vocabulary, target_vocab: Vocabulary) -> list[Example]:
    """Token pairs as ids: (x_1 .. x_S, y_1 .. y_n </s>)."""
    eos = target_vocab.id_of(EOS)
    return [(source_vocab.encode(s), target_vocab.encode(t) + [eos]) for s, t in pairs]


def keep_short(pairs: Sequence[TokenPair], max_length: int) -> list[int]:
    """Indices of the pairs with at most `max_length` tokens on each side (and ≥ 1 on each)."""
    return [i for i, (s, t) in enumerate(pairs) if 1 <= len(s) <= max_length and 1 <= len(t) <= max_length]


class Corpus(NamedTuple):
    """The pairs of a data set, as read and tokenized, its split, and its training vocabularies."""

    texts: list[tuple[str, str]]  # (source, target) as read
    tokens: list[TokenPair]  # the same, tokenized
    split: Split
    tokenizer: Tokenizer
    source_vocab: Vocabulary
    target_vocab: Vocabulary

    def part(self, name: str) -> tuple[list[tuple[str, str]], list[TokenPair]]:
        """The texts and tokens of the "train", "val" or "test" part, in file order."""
        indices = getattr(self.split, name)
        return [self.texts[i] for i in indices], [self.tokens[i] for i in indices]

    def examples(self, name: str, max_length: int) -> list[Example]:
        """The encoded pairs of a part, those with more than `max_length` tokens on a side left out."""
        pairs = self.part(name)[1]
        pairs = [pairs[i] for i in keep_short(pairs, max_length)]
        return encode_pairs(pairs, self.source_vocab, self.target_vocab)


def read_texts(data: Any, argument: str = "data") -> list[tuple[str, str]]:
    """The (source, target) pairs of `data`, each side stripped of surrounding spaces (see the module docstring).

    Raises:
        DataError: as `read_parallel_tsv` does for a file (a missing file, a line without a tab, an
            empty side, ...); for pairs in memory, none at all or an empty side.
        TypeError: for data of another kind, or a pair that is not two strings.
    """
    if is_file_or_name(data):
        return read_parallel_tsv(resolve_text_data(str(data), "parallel"))
    if is_pandas(data, "DataFrame"):
        names = [str(c) for c in data.columns]
        if "source" not in names or "target" not in names:
            raise DataError(f"{argument} must have columns 'source' and 'target'; received columns {names}")
        rows = list(zip(data["source"].tolist(), data["target"].tolist()))
    elif isinstance(data, (list, tuple, np.ndarray)):
        rows = data.tolist() if isinstance(data, np.ndarray) else list(data)
    else:
        raise TypeError(f"{argument} must be {_FORMS}; received {type(data).__name__}")
    if not rows:
        raise DataError(f"{argument} holds no sentence pairs; received an empty {type(data).__name__}")
    return [_pair(row, f"{argument}[{index}]") for index, row in enumerate(rows)]


def _pair(row: Any, where: str) -> tuple[str, str]:
    if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != 2:
        raise TypeError(f"{where} must be a (source, target) pair of strings; received {_shown(row)}; for sources "
                        "and targets apart, pass fit(sources, targets)")
    for side, value in zip(("source", "target"), row):
        if not isinstance(value, str):
            raise TypeError(f"{where}: the {side} must be a string; received {_shown(value)}")
        if not value.strip():
            raise DataError(f"{where} has an empty {side} side: {tuple(row)!r}")
    return row[0].strip(), row[1].strip()


def pairs_of(data: Any, targets: Any, argument: str = "data") -> Any:
    """`data` as `read_texts` takes it: unchanged without `targets`, else its sources paired with `targets`.

    Raises:
        TypeError: for `targets` beside a file or bundled name (whose targets are in the file), or
            sources or targets that are not lists.
        ValueError: for a different number of sources and targets.
    """
    if targets is None:
        return data
    if is_file_or_name(data):
        raise TypeError(f"targets must be None when {argument} is a file or a bundled name, whose targets are in the "
                        f"file; received {argument}={str(data)!r} and targets of type {type(targets).__name__}")
    sources, targets = sentence_list(data, argument), sentence_list(targets, "targets")
    if len(sources) != len(targets):
        raise ValueError(f"targets must hold one target per source of {argument}: received {len(targets)} targets "
                         f"for {len(sources)} sources")
    return list(zip(sources, targets))


def sentence_list(sentences: Any, argument: str = "sentences") -> list[str]:
    """Sentences as a list of strings: a list, tuple, numpy array or pandas Series of them.

    Raises:
        TypeError: for anything else, or an item that is not a string.
    """
    if is_pandas(sentences, "Series") or isinstance(sentences, np.ndarray):
        sentences = sentences.tolist()
    if not isinstance(sentences, (list, tuple)):
        raise TypeError(f"{argument} must be a list of strings; received {type(sentences).__name__}")
    for index, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise TypeError(f"{argument}[{index}] must be a string; received {_shown(sentence)}")
    return list(sentences)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def tokenize(texts: list[tuple[str, str]], tokenizer: Tokenizer) -> list[TokenPair]:
    """Both sides of each pair as tokens."""
    return [(tokenizer(source), tokenizer(target)) for source, target in texts]


def load_corpus(data: Any, tokenizer: Tokenizer, *, val_fraction: float, test_fraction: float, seed: int,
                max_length: int, min_freq: int, vocabularies: tuple[Vocabulary, Vocabulary] | None = None,
                validation: Any = None) -> Corpus:
    """Reads, splits and checks `data`, and builds the vocabularies on its training pairs (unless given).

    Args:
        data: the pairs, in any form `read_texts` takes.
        tokenizer: splits both sides into tokens.
        val_fraction, test_fraction, seed: the split, as `split_indices`.
        max_length: training and validation pairs with more tokens on a side are not trained on
            (nor counted in the vocabularies).
        min_freq: as `build_vocabularies`.
        vocabularies: a fitted run's (source, target) vocabularies, kept as they are.
        validation: pairs to validate on instead (any form `read_texts` takes): they follow
            `data`'s in `texts` and make the validation part, and `data`'s own validation part
            trains too; the test part is the one `data` gives without them.

    Raises:
        DataError: bad content, too few pairs to split, or no training or validation pair within
            `max_length`.
    """
    texts = read_texts(data)
    split = split_indices(len(texts), val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    where = {"training": f"data {quoted(data)}", "validation": f"data {quoted(data)}"}
    if validation is not None:
        extra = read_texts(validation, "validation_data")
        split = Split(sorted(split.train + split.val), list(range(len(texts), len(texts) + len(extra))), split.test)
        texts, where["validation"] = texts + extra, f"validation_data {quoted(validation)}"
    tokens = tokenize(texts, tokenizer)
    train = [tokens[i] for i in split.train]
    kept = keep_short(train, max_length)
    if not kept or not keep_short([tokens[i] for i in split.val], max_length):
        part = "training" if not kept else "validation"
        raise DataError(f"{where[part]}: no {part} pair has at most max_length={max_length} tokens on both "
                        "sides; raise --max-length")
    source_vocab, target_vocab = vocabularies or build_vocabularies([train[i] for i in kept], min_freq=min_freq)
    return Corpus(texts, tokens, split, tokenizer, source_vocab, target_vocab)


def make_batch(examples: Sequence[Example], *, pad_id: int, bos_id: int) -> tuple[TeacherForcedBatch, Tensor]:
    """One padded batch: the model's inputs and the targets (B, T), pads where a target has ended."""
    source, source_lengths = pad_batch([s for s, _ in examples], pad_id)  # (B, S), (B,)
    target_inputs, _ = pad_batch([[bos_id, *t[:-1]] for _, t in examples], pad_id)  # (B, T)
    targets, _ = pad_batch([t for _, t in examples], pad_id)  # (B, T)
    return TeacherForcedBatch(source, source_lengths, target_inputs), targets


def batches(examples: Sequence[Example], batch_size: int, *, pad_id: int, bos_id: int,
            generator: torch.Generator | None = None) -> list[tuple[TeacherForcedBatch, Tensor]]:
    """The examples in padded batches; shuffled, with pairs of similar length together, if `generator`.

    With a generator the examples are shuffled, cut into pools of 16 batches, each pool sorted by
    target length and cut into batches, and the batches shuffled: little padding (the decoder
    runs to the longest target of a batch), yet a different grouping every epoch. All randomness
    comes from `generator`. Without one, batches follow the given order.
    """
    if generator is None:
        order = list(range(len(examples)))
        groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        order = torch.randperm(len(examples), generator=generator).tolist()
        pool = 16 * batch_size
        groups = []
        for start in range(0, len(order), pool):
            ranked = sorted(order[start : start + pool], key=lambda i: len(examples[i][1]))
            groups += [ranked[i : i + batch_size] for i in range(0, len(ranked), batch_size)]
        groups = [groups[i] for i in torch.randperm(len(groups), generator=generator).tolist()]
    return [make_batch([examples[i] for i in group], pad_id=pad_id, bos_id=bos_id) for group in groups]


__all__ = ["Corpus", "Example", "TokenPair", "batches", "build_vocabularies", "encode_pairs", "keep_short",
           "load_corpus", "make_batch", "pairs_of", "read_texts", "sentence_list", "tokenize"]
