"""What turns sentences into the tagger's inputs and its outputs back into tags, fitted on training sentences.

    Vocabularies         words (lowercased or not), tags, characters and the baseline; saved in config.json
    build_vocabularies   from the training sentences only
    check_tags           a tag the training sentences never have is an error, named with its sentence
    encode, batches      sentences → ids → padded, shuffled (or ordered) batches

The keys `to_dict` writes are those every tagging run has written to config.json ("words", "tags",
"chars", "baseline", "tokenizer"), so older run directories load too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch

from rnnlab.data.errors import DataError
from rnnlab.data.text import PAD, UNK, Vocabulary, pad_batch
from rnnlab.tasks.tag.baselines import MostFrequentTag
from rnnlab.tasks.tag.model import EncodedSentence, TaggerInputs, char_ids, collate
from rnnlab.tasks.tag.sentences import Sentence


class Vocabularies(NamedTuple):
    """What turns words into model inputs and tag ids back into tags; built from training sentences."""

    words: Vocabulary  # normalised words, with <pad> and <unk>
    tags: list[str]  # tag id → tag, sorted
    chars: Vocabulary  # characters as written, with <pad> and <unk>
    baseline: MostFrequentTag  # on normalised words; its table holds every training word (the non-OOV ones)
    lowercase: bool

    def normalise(self, words: list[str]) -> list[str]:
        return [word.lower() for word in words] if self.lowercase else list(words)

    def to_dict(self) -> dict:
        return {"words": self.words.to_dict(), "tags": self.tags, "chars": self.chars.to_dict(),
                "baseline": self.baseline.to_dict(), "tokenizer": {"split": "whitespace", "lowercase": self.lowercase}}

    @classmethod
    def from_dict(cls, d: dict) -> Vocabularies:
        return cls(Vocabulary.from_dict(d["words"]), list(d["tags"]), Vocabulary.from_dict(d["chars"]),
                   MostFrequentTag.from_dict(d["baseline"]), bool(d["tokenizer"]["lowercase"]))


def build_vocabularies(train: list[Sentence], *, min_freq: int, lowercase: bool) -> Vocabularies:
    """Word, tag and character vocabularies and the baseline, from the training sentences only.

    Args:
        train: the training (words, tags) sentences.
        min_freq: training words seen fewer times are <unk> for the model (the baseline keeps them).
        lowercase: look words up lowercased (characters always keep their case).
    """
    normalise = str.lower if lowercase else str
    words = [[normalise(word) for word in forms] for forms, _ in train]
    baseline = MostFrequentTag.fit(zip(words, (tags for _, tags in train)))
    # characters seen once stand for <unk>, so its embedding is trained on rare characters
    chars = Vocabulary.build(([c for word in forms for c in word] for forms, _ in train), min_freq=2)
    return Vocabularies(Vocabulary.build(words, min_freq=min_freq, specials=(PAD, UNK)),
                        sorted({tag for _, tags in train for tag in tags}), chars, baseline, lowercase)


def check_tags(sentences: list[Sentence], numbers: Iterable[int], tags: list[str], where: str) -> None:
    """DataError naming the first tag of `sentences` (numbered `numbers` in their file) unseen in training."""
    known = set(tags)
    for number, (_, sentence_tags) in zip(numbers, sentences):
        unseen = sorted(set(sentence_tags) - known)
        if unseen:
            raise DataError(f"{where}: sentence {number} has tag {unseen[0]!r}, which the training sentences never "
                            f"have (they have {tags}), so the model cannot predict it")


def encode(sentences: list[Sentence], vocabs: Vocabularies, max_chars: int) -> list[EncodedSentence]:
    """Each sentence as ids (tags empty for an untagged sentence, given as (words, []))."""
    tag_ids = {tag: i for i, tag in enumerate(vocabs.tags)}
    char_index = {c: i for i, c in enumerate(vocabs.chars.tokens)}
    unknown, pad = vocabs.chars.unk_id, vocabs.chars.pad_id
    return [EncodedSentence(vocabs.words.encode(vocabs.normalise(forms)),
                            pad_batch([char_ids(word, char_index, unknown, max_chars) for word in forms], pad)[0],
                            [tag_ids[tag] for tag in tags]) for forms, tags in sentences]


def batches(encoded: list[EncodedSentence], vocabs: Vocabularies, batch_size: int,
            generator: torch.Generator | None) -> list[tuple[TaggerInputs, torch.Tensor]]:
    """Padded batches of `encoded` in order, or shuffled by `generator`."""
    order = torch.randperm(len(encoded), generator=generator).tolist() if generator else list(range(len(encoded)))
    return [collate([encoded[i] for i in order[start:start + batch_size]], word_padding_idx=vocabs.words.pad_id,
                    char_padding_idx=vocabs.chars.pad_id) for start in range(0, len(order), batch_size)]
