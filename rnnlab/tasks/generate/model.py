"""The language model of text generation, and the stateful truncated BPTT it trains with.

A character- (or word-) level language model reads tokens x_1 … x_T and predicts each next one:

    e_t = E[x_t]                                   embedding of token x_t, (B, T, E)
    y_t, s_t = RNN(e_t, s_{t-1})                   rnnlab RNN/LSTM/GRU; s is the recurrent state
    p(x_{t+1} | x_1 … x_t) = softmax(W y_t + b)    logits (B, T, V)

Training reads the text as one long stream (stateful truncated BPTT): the stream is cut into
B parallel rows and each row into chunks of `bptt` steps; batch k holds chunk k of every row, and
the state left by batch k starts batch k + 1 (detached, so gradients stop at chunk boundaries).
Generation feeds the prompt, then one sampled token at a time, carrying the state.

`stream_nll` scores a stream the same way, as one row read chunk by chunk with the state carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.tasks.parts import ENCODERS, check_cell


class LanguageModel(nn.Module):
    """Embedding → batch-first rnnlab RNN/LSTM/GRU → linear head to next-token logits.

    Dropout (rate `dropout`) acts on the embeddings, between recurrent layers and before the head,
    never on the recurrent connections (Zaremba et al. 2014), so the carried state is untouched.

    Args:
        vocab_size: number of token ids (V).
        cell: "rnn", "lstm" or "gru".
        embedding_dim: features of a token embedding (E).
        hidden_size: features of the recurrent state (H).
        num_layers: stacked recurrent layers (L).
        dropout: dropout rate in [0, 1).

    Shape:
        tokens: (B, T) int64, batch-first. logits: (B, T, V). state: the layer's torch-packed
        state, (L, B, H), or an `LSTMState` of two such tensors for the LSTM; None means zeros.
    """

    def __init__(self, vocab_size: int, *, cell: str = "lstm", embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        check_cell(cell)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {dropout!r}")
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.embedding = nn.Embedding(vocab_size, check_positive_int("embedding_dim", embedding_dim))
        self.encoder = ENCODERS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Next-token logits at every step, and the state after the last step.

        Args:
            tokens: (B, T) int64 token ids.
            state: the state to start from (the one a previous call returned), or None for zeros.

        Returns:
            (logits (B, T, V), final state).
        """
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (B, T); received {tuple(tokens.shape)}")
        xs = self.dropout(self.embedding(tokens))  # (B, T, E)
        ys, state = self.encoder(xs, state)  # (B, T, H)
        return self.head(self.dropout(ys)), state  # (B, T, V)

    def step(self, tokens: Tensor, state: Any = None, *, reset: Tensor | None = None) -> tuple[Tensor, Any]:
        """Reads one more token of each stream; returns the logits of the token after it.

        Equal to `forward`'s logits at that step of the stream read whole; the state is the one
        `forward` takes and returns, so a prompt can be read in one call and then continued step
        by step.

        Args:
            tokens: (B,) int64, the newest token id of each of B streams.
            state: what the previous call (or `forward`) returned, or None for zeros.
            reset: keyword-only (B,) bool: rows where a new stream starts (see `RecurrentLayer.step`).

        Returns:
            (logits (B, V), state).
        """
        if tokens.dim() != 1:
            raise ValueError(f"tokens must have shape (B,), one token per stream; received {tuple(tokens.shape)}")
        x = self.dropout(self.embedding(tokens))  # (B, E)
        y, state = self.encoder.step(x, state, reset=reset)  # (B, H)
        return self.head(self.dropout(y)), state  # (B, V)


class StreamBatch(NamedTuple):
    """One batch of a token stream: `tokens` (B, T) and whether it is the stream's first chunk."""

    tokens: Tensor
    first: bool


def stream_batches(ids: Tensor, batch_size: int, bptt: int, *, offset: int = 0) -> Iterator[tuple[StreamBatch, Tensor]]:
    """Cuts a token stream into B parallel rows and yields their chunks in order, with targets.

    Row b is ids[offset + b·n : offset + (b + 1)·n] with n = (len(ids) − offset) // B (the tail
    that does not fill a row is dropped). Batch k is (inputs, targets) = (row[:, k·bptt : k·bptt + bptt],
    the same shifted by one); the last chunk may be shorter.

    Args:
        ids: (N,) int64 token ids.
        batch_size: number of rows B.
        bptt: steps per chunk.
        offset: tokens skipped at the start (training varies it per epoch to move the chunk cuts).

    Yields:
        (StreamBatch(tokens (B, T), first), targets (B, T)), T ≤ bptt; `first` on the first batch only.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("bptt", bptt)
    length = (len(ids) - offset) // batch_size
    if length < 2:
        raise ValueError(f"a stream of {len(ids)} tokens (offset {offset}) is too short for batch_size={batch_size}: "
                         "each row needs at least 2 tokens")
    rows = ids[offset: offset + batch_size * length].view(batch_size, length)  # (B, n)
    for start in range(0, length - 1, bptt):
        stop = min(start + bptt, length - 1)
        yield StreamBatch(rows[:, start:stop], start == 0), rows[:, start + 1: stop + 1]


def detach_state(state: Any) -> Any:
    """The state with every tensor detached (named tuples keep their type)."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple):
        items = tuple(detach_state(item) for item in state)
        return type(state)(*items) if hasattr(state, "_fields") else items
    return state


class CarriedState(nn.Module):
    """Wraps a `LanguageModel` so the shared Trainer runs stateful truncated BPTT.

    The Trainer calls `wrapper(inputs)` once per batch and keeps no state; this module keeps it.
    Each call starts from the state the previous call left (detached: the truncation), or from
    zeros when the batch is flagged `first` (the start of every epoch and every evaluation pass)
    or when the batch size changed. Chunk after chunk, the outputs therefore equal one call of
    the model over the concatenated rows.

    On `resume` mid-epoch, the Trainer skips the batches it had trained, so the first batch
    trained after resuming starts from zeros rather than from the state of the interruption; from
    the next epoch on, training is as without the interruption.

    Args:
        model: the language model (`forward(tokens, state) -> (logits, state)`).
    """

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model
        self.state: Any = None  # a plain attribute, not a buffer: never saved with the weights

    def forward(self, batch: StreamBatch) -> Tensor:
        state = None if batch.first else self.state
        if state is not None and _state_batch_size(state) != batch.tokens.shape[0]:
            state = None
        logits, state = self.model(batch.tokens, state)  # (B, T, V)
        self.state = detach_state(state)
        return logits


def _state_batch_size(state: Any) -> int:
    return int((state[0] if isinstance(state, tuple) else state).shape[1])  # (L, B, H)


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats per token) of logits (B, T, V) against target ids (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def stream_nll(model: LanguageModel, ids: Tensor, *, bptt: int = 256) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of ids[1:] given what precedes them, from a zero state.

    The stream is read as one row, chunk by chunk with the state carried, so every token after
    the first is predicted from all the tokens before it.

    Returns:
        (total nats, number of predicted tokens = len(ids) − 1).
    """
    was_training, device = model.training, next(model.parameters()).device
    wrapper, total = CarriedState(model).eval(), 0.0
    with torch.no_grad():
        for batch, targets in stream_batches(ids.to(device), 1, bptt):
            logits = wrapper(batch)
            total += float(F.cross_entropy(logits[0].double(), targets[0], reduction="sum"))
    model.train(was_training)
    return total, len(ids) - 1
