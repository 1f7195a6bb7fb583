"""The tagging network: a bidirectional recurrent tagger over words (and their characters), and its loss.

Many-to-many and aligned: one tag per word. For a sentence w_1 … w_T,

    c_t = [→c ; ←c](chars of w_t)   optional word feature: a BiRNN over the word's characters, (2Hc)
    e_t = [E w_t ; c_t]             word embedding, with the character feature if any, (E + 2Hc)
    h_t = [→h_t ; ←h_t]             the recurrent encoder's output at t, both directions, (D*H)
    s_t = W h_t + b                 one score per tag, (K); the tag is argmax_k s_t[k]

→h_t has read w_1 … w_t and ←h_t has read w_T … w_t, so each tag sees the whole sentence. The
loss is the cross-entropy of s_t against the gold tag, averaged over real words only: padding is
marked `IGNORE_INDEX` in the targets, and the encoder runs with `lengths=`, so a padded position
never reaches a real one (a sentence is tagged the same alone or inside a padded batch).

`collate` pads encoded sentences into a batch (`TaggerInputs` and targets); `char_ids` turns a
word into the character ids the character encoder reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.data.text import pad_batch
from rnnlab.tasks.parts import ENCODERS, check_cell

IGNORE_INDEX = -100  # the target of a padded position: cross_entropy skips it


class TaggerInputs(NamedTuple):
    """A padded batch of sentences, batch-first: what `TaggerNetwork` takes as its one argument."""

    words: Tensor  # (B, T) int64 word ids, padded with the word padding id
    lengths: Tensor  # (B,) int64 words in each sentence
    chars: Tensor | None = None  # (B, T, C) int64 character ids of each word, padded with the char padding id


class CharEncoder(nn.Module):
    """A word's feature from its characters: a bidirectional recurrent layer over them.

        x_j = C ch_j                     character embedding, j = 1 … n
        c   = [→h_n ; ←h_1]              forward state after the last character, backward after the first

    Args:
        num_chars: size of the character vocabulary.
        embedding_dim: features of each character embedding.
        hidden_size: features per direction (Hc); the output has 2*Hc.
        cell: "rnn", "lstm" or "gru".
        padding_idx: the character id used as padding (its embedding stays zero).

    Shape:
        chars: (N, C) batch-first, one row per word; lengths: (N,) each ≥ 1. Output: (N, 2*Hc).
    """

    def __init__(self, num_chars: int, embedding_dim: int, hidden_size: int, *, cell: str, padding_idx: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embedding_dim, padding_idx=padding_idx)
        self.encoder = ENCODERS[cell](embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        _, final = self.encoder(self.embedding(chars), lengths=lengths)
        h_n = final[0] if isinstance(final, tuple) else final  # (2, N, Hc): the LSTM's state is (h, c)
        return h_n.transpose(0, 1).reshape(chars.shape[0], self.output_size)  # (N, 2*Hc), forward first


class TaggerNetwork(nn.Module):
    """Embeddings (and optionally a character feature), a recurrent encoder and a linear layer to tag scores.

    Args:
        vocab_size: size of the word vocabulary.
        num_tags: number of tags (K).
        cell: "rnn", "lstm" or "gru", for the encoder and the character encoder.
        embedding_dim: features of each word embedding (E).
        hidden_size: features per direction of the encoder (H).
        num_layers: stacked encoder layers.
        bidirectional: read the sentence both ways (D = 2); without it a tag sees only the words up to it.
        dropout: dropout rate on the word features, between encoder layers, and before the output layer.
        padding_idx: the word id used as padding (its embedding stays zero).
        num_chars: size of the character vocabulary; 0 (with char_hidden_size 0) for no character feature.
        char_embedding_dim: features of each character embedding.
        char_hidden_size: features per direction of the character encoder (Hc); 0 disables it.
        char_padding_idx: the character id used as padding.

    Shape:
        inputs: a `TaggerInputs`, batch-first. Output: (B, T, K) scores; rows past a sentence's end
        do not depend on the input and must be ignored (the loss does).
    """

    def __init__(self, vocab_size: int, num_tags: int, *, cell: str = "lstm", embedding_dim: int = 64,
                 hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = True, dropout: float = 0.0,
                 padding_idx: int = 0, num_chars: int = 0, char_embedding_dim: int = 16,
                 char_hidden_size: int = 0, char_padding_idx: int = 0) -> None:
        super().__init__()
        check_cell(cell)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {dropout!r}")
        if char_hidden_size < 0 or (char_hidden_size > 0) != (num_chars > 0):
            raise ValueError("char_hidden_size and num_chars must both be positive (character feature) or both 0; "
                             f"received char_hidden_size={char_hidden_size!r}, num_chars={num_chars!r}")
        check_positive_int("vocab_size", vocab_size)
        self.num_tags = check_positive_int("num_tags", num_tags)
        self.embedding = nn.Embedding(vocab_size, check_positive_int("embedding_dim", embedding_dim),
                                      padding_idx=padding_idx)
        self.chars = (CharEncoder(num_chars, char_embedding_dim, char_hidden_size, cell=cell,
                                  padding_idx=char_padding_idx) if char_hidden_size else None)
        self.char_padding_idx = char_padding_idx
        input_size = embedding_dim + (self.chars.output_size if self.chars is not None else 0)
        self.dropout = nn.Dropout(dropout)
        self.encoder = ENCODERS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                      bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear((2 if bidirectional else 1) * hidden_size, num_tags)

    def features(self, inputs: TaggerInputs) -> Tensor:
        """e_t: each word's embedding, with its character feature when the tagger has one; (B, T, F)."""
        xs = self.embedding(inputs.words)  # (B, T, E)
        if self.chars is None:
            return xs
        if inputs.chars is None:
            raise ValueError("inputs.chars must hold the words' characters: this tagger has a character encoder; "
                             "received None")
        batch_size, num_steps = inputs.words.shape
        real = torch.arange(num_steps, device=xs.device) < inputs.lengths.to(xs.device)[:, None]  # (B, T)
        chars = inputs.chars[real]  # (N, C): real words only, so padding never reaches the encoder
        char_lengths = (chars != self.char_padding_idx).sum(dim=1).clamp(min=1)  # (N,)
        encoded = self.chars(chars, char_lengths)  # (N, 2Hc)
        features = encoded.new_zeros(batch_size, num_steps, self.chars.output_size)  # (B, T, 2Hc)
        features[real] = encoded
        return torch.cat([xs, features.to(xs.dtype)], dim=-1)  # (B, T, E + 2Hc)

    def forward(self, inputs: TaggerInputs) -> Tensor:
        """Tag scores s_t for every position; (B, T, K)."""
        outputs, _ = self.encoder(self.dropout(self.features(inputs)), lengths=inputs.lengths)  # (B, T, D*H)
        return self.head(self.dropout(outputs))  # (B, T, K)

    def step(self, words: Tensor, state=None, *, chars: Tensor | None = None,
             reset: Tensor | None = None) -> tuple[Tensor, object]:
        """Reads one more word of each sentence; returns its tag scores.

        Only a one-direction tagger can do this: its tag for word t depends on words 1 … t only,
        and equals `forward`'s at t. (The character feature reads one whole word, which has
        arrived, so it streams too.)

        Args:
            words: (B,) int64, the newest word id of each of B sentences.
            state: what the previous call returned (the encoder's state), or None at the start.
            chars: keyword-only (B, C) int64 character ids of those words, padded; needed when the
                tagger has a character encoder.
            reset: keyword-only (B,) bool: rows where a new sentence starts (see `RecurrentLayer.step`).

        Returns:
            (scores (B, K), state).

        Raises:
            ValueError: for a bidirectional tagger (the default), whose tag for a word depends on
                the words after it; or words that are not (B,).
        """
        if self.encoder.bidirectional:
            raise ValueError("step needs a causal tagger: a bidirectional one tags each word from the words after it "
                             "too, which a stream has not read yet; received bidirectional=True")
        if words.dim() != 1:
            raise ValueError(f"words must have shape (B,), one word per sentence; received {tuple(words.shape)}")
        ones = torch.ones_like(words)  # every sentence of this one-word batch has its one word
        inputs = TaggerInputs(words[:, None], ones, None if chars is None else chars[:, None])
        x = self.dropout(self.features(inputs))[:, 0]  # (B, F)
        y, state = self.encoder.step(x, state, reset=reset)  # (B, H)
        return self.head(self.dropout(y)), state  # (B, K)


def tagging_loss(scores: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over the real words of a batch.

    Args:
        scores: (B, T, K) tag scores.
        targets: (B, T) gold tag ids, `IGNORE_INDEX` at padded positions.

    Returns:
        A scalar tensor.
    """
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)


class EncodedSentence(NamedTuple):
    """One sentence as ids, ready to be batched by `collate`."""

    words: list[int]  # (T,) word ids
    chars: Tensor  # (T, C) int64 character ids of each word, padded
    tags: list[int]  # (T,) tag ids, or empty for a sentence without tags


def collate(sentences: Sequence[EncodedSentence], *, word_padding_idx: int,
            char_padding_idx: int) -> tuple[TaggerInputs, Tensor]:
    """A padded batch of sentences, and its targets (`IGNORE_INDEX` past each sentence's end).

    Returns:
        (TaggerInputs(words (B, T), lengths (B,), chars (B, T, C)), targets (B, T)), int64, batch-first.
    """
    words, lengths = pad_batch([sentence.words for sentence in sentences], word_padding_idx)  # (B, T), (B,)
    longest = max(sentence.chars.shape[1] for sentence in sentences)
    chars = torch.full((*words.shape, longest), char_padding_idx, dtype=torch.int64)  # (B, T, C)
    targets = torch.full(words.shape, IGNORE_INDEX, dtype=torch.int64)  # (B, T)
    for b, sentence in enumerate(sentences):
        chars[b, : sentence.chars.shape[0], : sentence.chars.shape[1]] = sentence.chars
        targets[b, : len(sentence.tags)] = torch.tensor(sentence.tags, dtype=torch.int64)
    return TaggerInputs(words, lengths, chars), targets


def char_ids(word: str, ids: dict[str, int], unknown: int, max_chars: int) -> list[int]:
    """The character ids of `word`, at most `max_chars` of them: a longer word keeps its two ends.

    Args:
        word: the word, as written (case kept: capitals tell proper nouns apart).
        ids: character → id; a character not in it gets `unknown`.
        unknown: the id of an unknown character.
        max_chars: the most characters kept (≥ 2); the first and last halves of a longer word,
            since prefixes and suffixes carry its part of speech.
    """
    if len(word) > max_chars:
        word = word[: max_chars // 2] + word[len(word) - (max_chars - max_chars // 2):]
    return [ids.get(character, unknown) for character in word]
