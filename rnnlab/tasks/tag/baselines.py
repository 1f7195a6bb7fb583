"""The tagging baseline: each word's most frequent training tag (`MostFrequentTag`).

It is the number a tagger must beat to show that it reads context: on a word seen in training
the baseline is usually right already, so a tagger's gain is on ambiguous and unseen words.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence


class MostFrequentTag:
    """The baseline: a word seen in training gets its most frequent training tag; any other word the
    most frequent tag overall. Ties go to the alphabetically first tag, so it is deterministic.

    Args:
        table: word → tag.
        default: the tag of a word not in `table`.
    """

    def __init__(self, table: dict[str, str], default: str) -> None:
        self.table, self.default = dict(table), default

    @classmethod
    def fit(cls, sentences: Iterable[tuple[Sequence[str], Sequence[str]]]) -> MostFrequentTag:
        """The baseline of training `sentences`, each (words, tags); words as they will be looked up."""
        per_word: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for words, tags in sentences:
            for word, tag in zip(words, tags, strict=True):
                per_word[word][tag] += 1
                overall[tag] += 1
        if not overall:
            raise ValueError("sentences must hold at least one tagged word; received none")
        return cls({word: _most_frequent(counts) for word, counts in per_word.items()}, _most_frequent(overall))

    def __contains__(self, word: str) -> bool:
        return word in self.table

    def __call__(self, words: Sequence[str]) -> list[str]:
        """The baseline's tags for `words`."""
        return [self.table.get(word, self.default) for word in words]

    def to_dict(self) -> dict:
        return {"table": self.table, "default": self.default}

    @classmethod
    def from_dict(cls, d: dict) -> MostFrequentTag:
        return cls(d["table"], d["default"])


def _most_frequent(counts: Counter) -> str:
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
