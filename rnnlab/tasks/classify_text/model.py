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
from rnnlab.data.text import pad_batch
from rnnlab.layers.streaming import PooledStream, pool_step, recurrent_part
from rnnlab.tasks.parts import ENCODERS, check_classifier, check_lengths, pool


class TextBatch(NamedTuple):
    """A padded batch of token ids and the real length of each row (the model's one input)."""

    tokens: Tensor   # (B, T) int64, batch-first, padded with the pad id after each row's end
    lengths: Tensor  # (B,) int64, in [1, T]


class TextClassifierNetwork(nn.Module):
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
        check_classifier(cell, num_classes, pooling, dropout)
        check_positive_int("vocab_size", vocab_size)
        if not 0 <= padding_idx < vocab_size:
            raise ValueError(f"padding_idx must be in [0, {vocab_size}); received {padding_idx}")
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
        check_lengths(lengths, tokens.shape[1])
        outputs, final = self.encoder(self.embedding(tokens), lengths=lengths)  # (B, T, D*H), zeros past each end
        return pool(self.pooling, outputs, final, lengths, self.num_directions)  # (B, D*H)

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
def predict_probabilities(model: TextClassifierNetwork, sequences: Sequence[Sequence[int]], *, pad_id: int,
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
