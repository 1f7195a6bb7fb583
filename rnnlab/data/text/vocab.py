"""Tokens and ids: a `Tokenizer` turns a string into words and punctuation, or characters; a
`Vocabulary` maps tokens to integer ids and back; `pad_batch` stacks id sequences of different
lengths into one batch-first tensor plus their lengths.
"""

import operator
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"


class Vocabulary:
    """A fixed map between tokens and integer ids.

    Ids are dense, from 0 to ``len(vocab) - 1``: the special tokens first, in the order given,
    then the other tokens. `build` orders those by descending frequency, ties alphabetically, so
    the same corpus always gives the same ids.

    Args:
        tokens: the token of each id (id i is ``tokens[i]``); no repeats.
        specials: the special tokens (`PAD`, `UNK`, `BOS`, `EOS` or your own); each must be in
            ``tokens``. Only `id_of` and the ``pad_id``/``unk_id`` properties treat them apart.

    Example:
        >>> vocab = Vocabulary.build([["the", "cat"], ["the", "dog"]])
        >>> vocab.tokens
        ['<pad>', '<unk>', 'the', 'cat', 'dog']
        >>> vocab.encode(["the", "bird"])
        [2, 1]
    """

    def __init__(self, tokens: Sequence[str], specials: Sequence[str] = ()):
        self.tokens = list(tokens)
        self.specials = tuple(specials)
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            repeats = sorted(token for token, count in Counter(self.tokens).items() if count > 1)
            raise ValueError(f"tokens must not repeat; received repeats {repeats}")
        missing = [special for special in self.specials if special not in self._ids]
        if missing:
            raise ValueError(f"specials must be among the tokens; received specials {missing} "
                             "that are not")

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], *, min_freq: int = 1,
              max_size: int | None = None, specials: Sequence[str] = (PAD, UNK)) -> "Vocabulary":
        """Count the tokens of ``sequences`` and keep the frequent ones.

        Args:
            sequences: token sequences (e.g. tokenized training sentences).
            min_freq: keep tokens seen at least this many times (≥ 1).
            max_size: keep at most this many tokens besides the specials (None: no limit).
            specials: special tokens, given the first ids in this order. A corpus token equal to
                a special is not added twice.

        Returns:
            The `Vocabulary`.

        Raises:
            ValueError: if ``min_freq`` < 1, ``max_size`` < 0, or ``specials`` repeat a token.
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1; received {min_freq!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < 0):
            raise ValueError(f"max_size must be None or an integer >= 0; received {max_size!r}")
        counts = Counter(token for sequence in sequences for token in sequence)
        for special in specials:
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [token for token, count in ranked if count >= min_freq][:max_size]
        return cls([*specials, *kept], specials)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._ids

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.tokens == other.tokens and self.specials == other.specials

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, specials={list(self.specials)})"

    def index(self, token: str) -> int:
        """Return the id of ``token``; the `UNK` id if it is missing.

        Raises:
            ValueError: naming the token if it is missing and the vocabulary has no `UNK`.
        """
        i = self._ids.get(token)
        if i is not None:
            return i
        if UNK in self.specials:
            return self._ids[UNK]
        raise ValueError(f"token {token!r} is not in the vocabulary, which has no {UNK!r} special "
                         "to stand for it")

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Return the ids of ``tokens`` (missing ones map to `UNK`, as in `index`)."""
        return [self.index(token) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Return the tokens of ``ids`` (ints or integer tensor elements).

        Raises:
            ValueError: naming the id if one is outside ``[0, len(self))``.
            TypeError: if an id is not an integer (a float, say).
        """
        tokens = []
        for i in ids:
            i = operator.index(i)  # ints, NumPy ints and integer tensor elements; not floats
            if not 0 <= i < len(self.tokens):  # no negative indexing from the end
                raise ValueError(f"ids must be in [0, {len(self.tokens)}); received {i}")
            tokens.append(self.tokens[i])
        return tokens

    def id_of(self, special: str) -> int:
        """Return the id of a special token.

        Raises:
            ValueError: naming ``special`` if it is not one of this vocabulary's specials.
        """
        if special not in self.specials:
            raise ValueError(f"the vocabulary has no special token {special!r}; its specials are "
                             f"{list(self.specials)}")
        return self._ids[special]

    @property
    def pad_id(self) -> int:
        """The id of `PAD` (ValueError if the vocabulary has none)."""
        return self.id_of(PAD)

    @property
    def unk_id(self) -> int | None:
        """The id of `UNK`, or None if the vocabulary has none."""
        return self._ids[UNK] if UNK in self.specials else None

    def to_dict(self) -> dict:
        """Return a JSON-ready dict; `from_dict` rebuilds an equal vocabulary from it."""
        return {"tokens": list(self.tokens), "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        """Rebuild a vocabulary from `to_dict`'s output.

        Raises:
            ValueError: if ``d`` lacks ``tokens`` or ``specials``, either is not a list of strings,
                a token repeats, or a special is not among the tokens.
        """
        if not isinstance(d, dict) or set(d) != {"tokens", "specials"}:
            keys = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"d must be a dict with keys ['specials', 'tokens']; received {keys}")
        for key in ("tokens", "specials"):  # what JSON read back may hold instead: a string, numbers, null
            if not isinstance(d[key], list):
                raise ValueError(f"{key} must be a list of strings; received {type(d[key]).__name__}")
            for i, token in enumerate(d[key]):
                if not isinstance(token, str):
                    raise ValueError(f"{key}[{i}] must be a string; received {token!r}")
        return cls(d["tokens"], d["specials"])


# A word is a run of letters/digits/underscores, with inner apostrophes kept ("don't", "o'er" are
# one token; a leading or trailing apostrophe is a token of its own). Any other non-space
# character is a one-character token.
_WORD_OR_MARK = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
# For detokenize: no space before closing marks, none after opening ones.
_NO_SPACE_BEFORE = frozenset(".,;:!?')]}’")
_NO_SPACE_AFTER = frozenset("([{")


def word_tokenize(text: str, *, lowercase: bool = True) -> list[str]:
    """Split ``text`` into words and single punctuation marks.

    Words are runs of letters, digits and underscores; an apostrophe between two word characters
    stays inside the word (``"don't"`` is one token), any other punctuation character is a token of
    its own, and whitespace only separates.

    Example:
        >>> word_tokenize("Don't panic, Hamlet!")
        ["don't", 'panic', ',', 'hamlet', '!']
    """
    return _WORD_OR_MARK.findall(text.lower() if lowercase else text)


def char_tokenize(text: str) -> list[str]:
    """Split ``text`` into its characters (spaces and newlines included): ``list(text)``."""
    return list(text)


@dataclass(frozen=True)
class Tokenizer:
    """A word- or character-level tokenizer that can be saved with a model.

    Attributes:
        kind: "word" (`word_tokenize`) or "char" (`char_tokenize`).
        lowercase: lowercase the text first. This applies to both kinds: pass False for a
            character model that should keep capitals.
    """

    kind: str = "word"
    lowercase: bool = True

    def __post_init__(self):
        if self.kind not in ("word", "char"):
            raise ValueError(f"kind must be 'word' or 'char'; received {self.kind!r}")

    def __call__(self, text: str) -> list[str]:
        if self.kind == "char":
            return char_tokenize(text.lower() if self.lowercase else text)
        return word_tokenize(text, lowercase=self.lowercase)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into text.

        Characters are concatenated. Words are joined by single spaces, except before
        ``. , ; : ! ? ' ) ] }`` and after ``( [ {``; the original spacing is not stored, so this
        is readable text rather than an exact inverse.
        """
        if self.kind == "char":
            return "".join(tokens)
        pieces = []
        for token in tokens:
            if pieces and token not in _NO_SPACE_BEFORE and pieces[-1] not in _NO_SPACE_AFTER:
                pieces.append(" ")
            pieces.append(token)
        return "".join(pieces)

    def to_dict(self) -> dict:
        """Return a JSON-ready dict; `from_dict` rebuilds an equal tokenizer from it."""
        return {"kind": self.kind, "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        """Rebuild a tokenizer from `to_dict`'s output.

        Raises:
            ValueError: if ``d`` is not a dict of exactly ``kind`` and ``lowercase``, or they are
                not a known kind and a bool.
        """
        if not isinstance(d, dict):
            raise ValueError(f"d must be a dict with keys ['kind', 'lowercase']; received {type(d).__name__}")
        unknown = sorted(set(d) - {"kind", "lowercase"})
        if unknown:
            raise ValueError(f"d may only have keys ['kind', 'lowercase']; received {unknown}")
        missing = sorted({"kind", "lowercase"} - set(d))
        if missing:  # a default here could differ from the saved model's (a char model keeps capitals)
            raise ValueError(f"d must have keys ['kind', 'lowercase']; missing {missing}")
        if not isinstance(d["lowercase"], bool):
            raise ValueError(f"lowercase must be true or false; received {d['lowercase']!r}")
        return cls(**d)


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack id sequences of different lengths into one padded batch.

    Args:
        sequences: B sequences of token ids (lists or 1-D integer tensors).
        pad_id: the id written after each sequence's end (`Vocabulary.pad_id`).

    Returns:
        ``(ids, lengths)``: ids is int64, batch-first, row b holds sequence b then ``pad_id``;
        lengths is int64, the true length of each sequence (0 for an empty one).

    Shape:
        ids: (B, T) with T the longest length; lengths: (B,).

    Raises:
        ValueError: if ``sequences`` is empty.

    Example:
        >>> ids, lengths = pad_batch([[5, 6, 7], [8]], pad_id=0)
        >>> ids.tolist(), lengths.tolist()
        ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence; received an empty list")
    lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.int64)  # (B,)
    ids = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.int64)     # (B, T)
    for b, sequence in enumerate(sequences):
        ids[b, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.int64)
    return ids, lengths
