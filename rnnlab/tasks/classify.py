"""Many-to-one text classification: token ids → embedding → recurrent encoder → pooled state → class logits.

    x_t = E[w_t]                                  embedding of token t, (B, T, F)
    h_1 … h_n = encoder(x_1 … x_n)                rnnlab RNN/LSTM/GRU over the n real tokens only
    e = [h_n^fwd ; h_1^bwd]     (pooling "last")  final state(s) of the top layer, (B, D*H)
      = mean_t h_t              (pooling "mean")  mean of the top layer's outputs over t ≤ n
      = max_t h_t               (pooling "max")   elementwise max over t ≤ n
    logits = W dropout(e) + b                     (B, K); p(k | text) = softmax(logits)_k

Sequences of different lengths share a padded batch; each carries its length n, the encoder
runs with `lengths=` (outputs past n are zeros, final states are those at step n, the backward
direction starts at step n) and the pooling only reads steps t ≤ n, so padding never changes
a sentence's probabilities. The pad token's embedding is also pinned to zero (`padding_idx`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.data.errors import DataError
from rnnlab.data.text import Tokenizer, Vocabulary, pad_batch
from rnnlab.layers.streaming import PooledStream, pool_step, recurrent_part
from rnnlab.tasks.parts import ENCODERS

POOLINGS = ("last", "mean", "max")


class TextBatch(NamedTuple):
    """A padded batch of token ids and the real length of each row (the model's one input)."""

    tokens: Tensor   # (B, T) int64, batch-first, padded with the pad id after each row's end
    lengths: Tensor  # (B,) int64, in [1, T]


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

    def targets(self, labels: list[str], where: str) -> np.ndarray:
        """Class ids of `labels`; a label training never saw is a DataError naming it and `where`."""
        position = {label: k for k, label in enumerate(self.classes)}
        for row, label in enumerate(labels, start=1):
            if label not in position:
                raise DataError(f"{where}: data row {row} has label {label!r}, which training never saw; the run's "
                                f"labels are {self.classes}")
        return np.array([position[label] for label in labels], dtype=np.int64)

    def to_dict(self) -> dict:
        """A JSON-ready dict; `from_dict` rebuilds an equal encoder from it."""
        return {"tokenizer": self.tokenizer.to_dict(), "vocabulary": self.vocabulary.to_dict(),
                "classes": list(self.classes), "max_length": self.max_length}

    @classmethod
    def from_dict(cls, saved: dict) -> TextEncoder:
        return cls(Tokenizer.from_dict(saved["tokenizer"]), Vocabulary.from_dict(saved["vocabulary"]),
                   list(saved["classes"]), int(saved["max_length"]))


class TextClassifier(nn.Module):
    """An embedding, a batch-first rnnlab encoder and a linear head to class logits.

    Args:
        vocab_size: number of token ids (V).
        num_classes: number of classes (K ≥ 2).
        cell: "rnn", "lstm" or "gru".
        embedding_dim: features per token embedding (F).
        hidden_size: features in the encoder's hidden state (H).
        num_layers: stacked recurrent layers (L).
        bidirectional: also read each text backwards (D = 2).
        dropout: dropout on the pooled encoding before the head, and between recurrent layers
            when num_layers > 1.
        padding_idx: the pad token's id; its embedding is zero and gets no gradient.
        pooling: "last" (final states), "mean" or "max" over each text's real steps.

    Shape:
        tokens: (B, T) int64 and lengths: (B,) int64, or a `TextBatch` of both. Output: (B, K) logits.
    """

    def __init__(self, vocab_size: int, num_classes: int, *, cell: str = "lstm", embedding_dim: int = 64,
                 hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 padding_idx: int = 0, pooling: str = "last") -> None:
        super().__init__()
        if cell not in ENCODERS:
            raise ValueError(f"cell must be one of {sorted(ENCODERS)}; received {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}; received {pooling!r}")
        check_positive_int("vocab_size", vocab_size)
        if check_positive_int("num_classes", num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2; received {num_classes}")
        if not 0 <= padding_idx < vocab_size:
            raise ValueError(f"padding_idx must be in [0, {vocab_size}); received {padding_idx}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {dropout!r}")
        self.cell, self.pooling, self.num_classes = cell, pooling, num_classes
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, check_positive_int("embedding_dim", embedding_dim),
                                      padding_idx=padding_idx)
        # torch semantics: the encoder's dropout acts between layers, so it is pointless (and warns) for one
        self.encoder = ENCODERS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.num_directions * hidden_size, num_classes)

    def encode(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """The pooled encoding e of each text, directions concatenated [fwd | bwd].

        Args:
            tokens: (B, T) int64 token ids, padded after each row's end.
            lengths: (B,) int64 real lengths, each in [1, T].

        Returns:
            (B, D*H) tensor.
        """
        if tokens.dim() != 2 or lengths.shape != tokens.shape[:1]:
            raise ValueError(f"tokens must be (B, T) and lengths (B,); received {tuple(tokens.shape)} and "
                             f"{tuple(lengths.shape)}")
        if tokens.shape[1] == 0 or int(lengths.min()) < 1 or int(lengths.max()) > tokens.shape[1]:
            raise ValueError(f"lengths must be in [1, T={tokens.shape[1]}]; received {lengths.tolist()}")
        xs = self.embedding(tokens)                                        # (B, T, F)
        outputs, final = self.encoder(xs, lengths=lengths)                 # (B, T, D*H), zeros past each end
        if self.pooling == "last":
            h_n = final.h if isinstance(final, LSTMState) else final       # (L*D, B, H)
            top = h_n[-self.num_directions:]                               # (D, B, H), forward first
            return top.transpose(0, 1).reshape(tokens.shape[0], -1)        # (B, D*H)
        if self.pooling == "mean":
            return outputs.sum(dim=1) / lengths.to(outputs)[:, None]      # padded outputs are zeros
        steps = torch.arange(tokens.shape[1], device=outputs.device)
        valid = (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)  # (B, T, 1)
        return outputs.masked_fill(~valid, float("-inf")).amax(dim=1)      # (B, D*H)

    def forward(self, tokens: Tensor | TextBatch, lengths: Tensor | None = None) -> Tensor:
        """Class logits of each text.

        Args:
            tokens: (B, T) int64 token ids, or a `TextBatch` (then `lengths` is taken from it).
            lengths: (B,) int64 real lengths; None means every row is T tokens long.

        Returns:
            (B, K) logits; softmax over the last axis gives the class probabilities.
        """
        if isinstance(tokens, TextBatch):
            tokens, lengths = tokens.tokens, tokens.lengths
        if lengths is None:
            lengths = torch.full(tokens.shape[:1], tokens.shape[-1], dtype=torch.int64, device=tokens.device)
        return self.head(self.dropout(self.encode(tokens, lengths)))      # (B, K)

    def step(self, tokens: Tensor, state: PooledStream | None = None, *,
             reset: Tensor | None = None) -> tuple[Tensor, PooledStream]:
        """Reads one more token of each text; returns the class logits of the text read so far.

        After tokens w_1 … w_t the logits equal `forward` on w_1 … w_t, the pooling ("last",
        "mean", "max") kept running in the state (`rnnlab.layers.streaming.pool_step`): a
        prediction is ready after every token, at the cost of one recurrent step.

        Args:
            tokens: (B,) int64, the newest token id of each of B texts.
            state: the `PooledStream` the previous call returned, or None at the start.
            reset: keyword-only (B,) bool: rows where a new text starts (see `RecurrentLayer.step`).

        Returns:
            (logits (B, K), state).

        Raises:
            ValueError: for a bidirectional classifier, whose backward direction needs the
                text's end; or tokens that are not (B,).
        """
        if self.num_directions == 2:
            raise ValueError("step needs a causal classifier: a bidirectional one reads each text from its end too, "
                             "which a stream has not reached; received bidirectional=True")
        if tokens.dim() != 1:
            raise ValueError(f"tokens must have shape (B,), one token per text; received {tuple(tokens.shape)}")
        y, recurrent = self.encoder.step(self.embedding(tokens), recurrent_part(state), reset=reset)  # (B, H)
        e, pooled, count = pool_step(self.pooling, y, state, reset)                                    # (B, H)
        return self.head(self.dropout(e)), PooledStream(recurrent, pooled, count)                       # (B, K)

    @property
    def num_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def text_batches(sequences: Sequence[Sequence[int]], labels: Sequence[int] | np.ndarray, batch_size: int, *,
                 pad_id: int, generator: torch.Generator | None = None,
                 pool_batches: int = 0) -> Iterator[tuple[TextBatch, Tensor]]:
    """Padded (TextBatch, targets) batches over encoded texts and their class ids.

    Without a generator the texts keep their order. With one, they are shuffled by it; and with
    `pool_batches` > 0 the shuffled texts are then cut into pools of `pool_batches` batches, each
    pool sorted by length before it is cut into batches, and the batches' order is shuffled:
    batches of similar lengths waste fewer steps on padding, and the order stays random.

    Args:
        sequences: N lists of token ids, each non-empty.
        labels: (N,) class ids.
        batch_size: texts per batch (the last batch may be smaller).
        pad_id: the id written past each text's end.
        generator: the source of all randomness, or None for file order.
        pool_batches: see above; 0 disables sorting.

    Yields:
        (TextBatch((B, T), (B,)), (B,) int64 targets).
    """
    if len(sequences) != len(labels):
        raise ValueError(f"sequences and labels must have the same length; received {len(sequences)} and "
                         f"{len(labels)}")
    order = torch.arange(len(sequences)) if generator is None else torch.randperm(len(sequences), generator=generator)
    order = order.tolist()
    if generator is not None and pool_batches > 0:
        pool = batch_size * pool_batches
        order = [i for start in range(0, len(order), pool)
                 for i in sorted(order[start:start + pool], key=lambda i: len(sequences[i]))]
    starts = list(range(0, len(order), batch_size))
    if generator is not None and pool_batches > 0:
        starts = [starts[i] for i in torch.randperm(len(starts), generator=generator).tolist()]
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    for start in starts:
        rows = order[start:start + batch_size]
        tokens, lengths = pad_batch([sequences[i] for i in rows], pad_id)   # (B, T), (B,)
        yield TextBatch(tokens, lengths), targets[rows]


@torch.no_grad()
def predict_probabilities(model: TextClassifier, sequences: Sequence[Sequence[int]], *, pad_id: int,
                          batch_size: int = 256) -> np.ndarray:
    """Class probabilities of each encoded text, in eval mode, in the order given.

    Texts are batched in order of length (less padding; the result does not depend on it).

    Returns:
        (N, K) float64 array whose rows sum to 1.
    """
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    probabilities = np.zeros((len(sequences), model.num_classes))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        tokens, lengths = pad_batch([sequences[i] for i in rows], pad_id)
        logits = model(tokens.to(device), lengths.to(device))                # (B, K)
        probabilities[rows] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
    return probabilities
