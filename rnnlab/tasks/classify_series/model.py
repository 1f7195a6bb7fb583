"""Many-to-one classification of multivariate series of unequal lengths: the network and its batches.

The model reads a standardised sequence x_1 … x_n (x_t ∈ R^C, one row per time step) with an
rnnlab RNN/LSTM/GRU and maps one encoding of the whole sequence to class logits:

    h_1 … h_n = encoder(x_1 … x_n)                rnnlab RNN/LSTM/GRU over the n real steps only
    e = [h_n^fwd ; h_1^bwd]     (pooling "last")  final state(s) of the top layer, (B, D*H)
      = mean_{t ≤ n} h_t        (pooling "mean")  mean of the top layer's outputs, (B, D*H)
      = max_{t ≤ n} h_t         (pooling "max")   elementwise max, (B, D*H)
    logits = W dropout(e) + b                     (B, K); p(k | x) = softmax(logits)_k

Sequences of different lengths share a zero-padded batch; each carries its length n, the encoder
runs with `lengths=` (outputs past n are zeros, final states are those at step n, the backward
direction starts at step n) and the pooling reads steps t ≤ n only, so padding never changes a
sequence's probabilities.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.layers.streaming import PooledStream, check_causal, check_step_input, pool_step, recurrent_part
from rnnlab.tasks.parts import ENCODERS, check_classifier, check_lengths, pool


class SeriesBatch(NamedTuple):
    """A zero-padded batch of sequences and the real length of each (the model's one input)."""

    values: Tensor   # (B, T, C) float32, batch-first, zeros after each row's end
    lengths: Tensor  # (B,) int64, in [1, T]


def pad_series(series: Sequence[np.ndarray]) -> SeriesBatch:
    """Stack sequences of shapes (T_i, C) into a zero-padded (B, T_max, C) batch with their lengths."""
    lengths = torch.tensor([len(values) for values in series], dtype=torch.int64)     # (B,)
    batch = torch.zeros(len(series), int(lengths.max()), series[0].shape[1])           # (B, T, C)
    for row, values in enumerate(series):
        batch[row, : len(values)] = torch.as_tensor(values, dtype=torch.float32)
    return SeriesBatch(batch, lengths)


class SeriesClassifierNetwork(nn.Module):
    """A batch-first rnnlab encoder over C channels and a linear head to K class logits.

    Args:
        input_size: channels per time step (C).
        num_classes: number of classes (K ≥ 2).
        cell: "rnn", "lstm" or "gru".
        hidden_size: features in the encoder's hidden state (H).
        num_layers: stacked recurrent layers (L).
        bidirectional: also read each sequence backwards (D = 2).
        dropout: dropout on the encoding before the head, and between recurrent layers when
            num_layers > 1.
        pooling: "last" (final states), "mean" or "max" over each sequence's real steps.

    Shape:
        values: (B, T, C) float and lengths: (B,) int64, or a `SeriesBatch`. Output: (B, K) logits.
    """

    def __init__(self, input_size: int, num_classes: int, *, cell: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 pooling: str = "last") -> None:
        super().__init__()
        check_classifier(cell, num_classes, pooling, dropout)
        self.input_size = check_positive_int("input_size", input_size)
        self.cell, self.pooling, self.num_classes = cell, pooling, num_classes
        self.num_directions = 2 if bidirectional else 1
        # torch semantics: the encoder's dropout acts between layers, so it is pointless (and warns) for one
        self.encoder = ENCODERS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.num_directions * hidden_size, num_classes)

    def encode(self, values: Tensor, lengths: Tensor) -> Tensor:
        """The encoding e of each sequence, directions concatenated [fwd | bwd].

        Args:
            values: (B, T, C) zero-padded sequences.
            lengths: (B,) int64 real lengths, each in [1, T].

        Returns:
            (B, D*H) tensor.
        """
        if values.dim() != 3 or values.shape[-1] != self.input_size or lengths.shape != values.shape[:1]:
            raise ValueError(f"values must be (B, T, {self.input_size}) and lengths (B,); received "
                             f"{tuple(values.shape)} and {tuple(lengths.shape)}")
        check_lengths(lengths, values.shape[1])
        outputs, final = self.encoder(values, lengths=lengths)                   # (B, T, D*H), zeros past each end
        return pool(self.pooling, outputs, final, lengths, self.num_directions)  # (B, D*H)

    def forward(self, values: Tensor | SeriesBatch, lengths: Tensor | None = None) -> Tensor:
        """Class logits of each sequence.

        Args:
            values: (B, T, C) zero-padded sequences, or a `SeriesBatch` (then `lengths` comes from it).
            lengths: (B,) int64 real lengths; None means every row is T steps long.

        Returns:
            (B, K) logits; softmax over the last axis gives the class probabilities.
        """
        if isinstance(values, SeriesBatch):
            values, lengths = values.values, values.lengths
        if lengths is None:
            lengths = torch.full(values.shape[:1], values.shape[1], dtype=torch.int64, device=values.device)
        return self.head(self.dropout(self.encode(values, lengths)))      # (B, K)

    def step(self, x: Tensor, state: PooledStream | None = None, *,
             reset: Tensor | None = None) -> tuple[Tensor, PooledStream]:
        """Reads one more time step of each sequence; returns the class logits of what was read so far.

        After steps x_1 … x_t the logits equal `forward` on x_1 … x_t, the pooling ("last",
        "mean", "max") kept running in the state (`rnnlab.layers.streaming.pool_step`): a
        prediction is ready at every step, at the cost of one recurrent step.

        Args:
            x: (B, C) the newest (standardised) time step of each of B sequences.
            state: the `PooledStream` the previous call returned, or None at the start.
            reset: keyword-only (B,) bool: rows where a new sequence starts (see `RecurrentLayer.step`).

        Returns:
            (logits (B, K), state).

        Raises:
            ValueError: for a bidirectional classifier, whose backward direction needs the
                sequence's end; or an x that is not (B, C).
        """
        check_causal("classifier", self.num_directions, "sequence")
        check_step_input(x, self.input_size, "sequence")
        y, recurrent = self.encoder.step(x, recurrent_part(state), reset=reset)  # (B, H)
        e, pooled, count = pool_step(self.pooling, y, state, reset)               # (B, H)
        return self.head(self.dropout(e)), PooledStream(recurrent, pooled, count)  # (B, K)

    @property
    def num_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def series_batches(series: Sequence[np.ndarray], targets: Sequence[int] | np.ndarray, batch_size: int, *,
                   generator: torch.Generator | None = None) -> Iterator[tuple[SeriesBatch, Tensor]]:
    """(SeriesBatch, targets) mini-batches: in order without a generator, shuffled by it with one.

    Args:
        series: N arrays of shape (T_i, C).
        targets: (N,) class ids.
        batch_size: sequences per batch (the last batch may be smaller).
        generator: the source of the shuffle, or None for the given order.

    Yields:
        (SeriesBatch((B, T, C), (B,)), (B,) int64 targets).
    """
    if len(series) != len(targets):
        raise ValueError(f"series and targets must have the same length; received {len(series)} and {len(targets)}")
    order = torch.arange(len(series)) if generator is None else torch.randperm(len(series), generator=generator)
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    for start in range(0, len(series), check_positive_int("batch_size", batch_size)):
        rows = order[start:start + batch_size].tolist()
        yield pad_series([series[i] for i in rows]), targets[rows]


@torch.no_grad()
def predict_probabilities(model: SeriesClassifierNetwork, series: Sequence[np.ndarray], *,
                          batch_size: int = 256) -> np.ndarray:
    """Class probabilities of each sequence, in eval mode, in the order given.

    Returns:
        (N, K) float64 array whose rows sum to 1.
    """
    model.eval()
    device = next(model.parameters()).device
    probabilities = np.zeros((len(series), model.num_classes))
    for start in range(0, len(series), batch_size):
        values, lengths = pad_series(series[start:start + batch_size])
        logits = model(values.to(device), lengths.to(device))               # (B, K)
        probabilities[start:start + len(lengths)] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
    return probabilities
