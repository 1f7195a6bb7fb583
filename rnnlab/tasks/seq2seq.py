"""Sentence pairs made ready for an encoder–decoder: seeded splits, vocabularies, padded batches.

    (source, target) texts ──Tokenizer──▶ token lists ──Vocabulary──▶ ids
        source:  x_1 .. x_S                     (no <s> or </s>: the encoder reads lengths)
        target:  y_1 .. y_n </s>                what the decoder must predict
        decoder input: <s> y_1 .. y_n           the targets shifted right (teacher forcing)

Vocabularies are built on training pairs only, so held-out words become <unk> exactly as unseen
words will at prediction time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from rnnlab.data.errors import DataError
from rnnlab.data.splits import Split, split_indices
from rnnlab.data.text import BOS, EOS, PAD, UNK, Tokenizer, Vocabulary, pad_batch, read_parallel_tsv, resolve_text_data
from rnnlab.tasks.translate import TeacherForcedBatch

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


def read_pairs(data: str, tokenizer: Tokenizer) -> tuple[list[tuple[str, str]], list[TokenPair]]:
    """The (source, target) pairs of a TSV file or bundled parallel data set, as text and as tokens.

    Raises:
        DataError: as `read_parallel_tsv` does (a missing file, a line without a tab, an empty side, ...).
    """
    texts = read_parallel_tsv(resolve_text_data(data, "parallel"))
    return texts, [(tokenizer(source), tokenizer(target)) for source, target in texts]


def load_corpus(data: str, tokenizer: Tokenizer, *, val_fraction: float, test_fraction: float, seed: int,
                max_length: int, min_freq: int) -> Corpus:
    """Reads, splits and checks `data`, and builds the vocabularies on its training pairs.

    Args:
        data: a source<TAB>target TSV file or a bundled parallel data set's name.
        tokenizer: splits both sides into tokens.
        val_fraction, test_fraction, seed: the split, as `split_indices`.
        max_length: training and validation pairs with more tokens on a side are not trained on
            (nor counted in the vocabularies).
        min_freq: as `build_vocabularies`.

    Raises:
        DataError: bad file content, too few pairs to split, or no training or validation pair
            within `max_length`.
    """
    texts, tokens = read_pairs(data, tokenizer)
    split = split_indices(len(texts), val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    train = [tokens[i] for i in split.train]
    kept = keep_short(train, max_length)
    if not kept or not keep_short([tokens[i] for i in split.val], max_length):
        part = "training" if not kept else "validation"
        raise DataError(f"data {data!r}: no {part} pair has at most max_length={max_length} tokens on both "
                        "sides; raise --max-length")
    source_vocab, target_vocab = build_vocabularies([train[i] for i in kept], min_freq=min_freq)
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


__all__ = ["Corpus", "Example", "Split", "TokenPair", "batches", "build_vocabularies", "encode_pairs", "keep_short",
           "load_corpus", "make_batch", "read_pairs", "split_indices"]
