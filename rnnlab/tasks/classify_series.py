"""Many-to-one classification of multivariate series of unequal lengths, and its two baselines.

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

Baselines: the majority class (`rnnlab.metrics.classification.majority_baseline`) and the
1-nearest-neighbour classifier with Euclidean distance (`nearest_neighbour`): every sequence is
resampled to one length L by linear interpolation (`resample`), flattened to L·C numbers, and
takes the label of the closest training sequence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.layers.streaming import PooledStream, check_causal, check_step_input, pool_step, recurrent_part
from rnnlab.tasks.parts import ENCODERS

POOLINGS = ("last", "mean", "max")


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


class SeriesClassifier(nn.Module):
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
        if cell not in ENCODERS:
            raise ValueError(f"cell must be one of {sorted(ENCODERS)}; received {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}; received {pooling!r}")
        if check_positive_int("num_classes", num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2; received {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {dropout!r}")
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
        if values.shape[1] == 0 or int(lengths.min()) < 1 or int(lengths.max()) > values.shape[1]:
            raise ValueError(f"lengths must be in [1, T={values.shape[1]}]; received {lengths.tolist()}")
        outputs, final = self.encoder(values, lengths=lengths)             # (B, T, D*H), zeros past each end
        if self.pooling == "last":
            h_n = final.h if isinstance(final, LSTMState) else final       # (L*D, B, H)
            top = h_n[-self.num_directions:]                               # (D, B, H), forward first
            return top.transpose(0, 1).reshape(values.shape[0], -1)        # (B, D*H)
        if self.pooling == "mean":
            return outputs.sum(dim=1) / lengths.to(outputs)[:, None]      # padded outputs are zeros
        steps = torch.arange(values.shape[1], device=outputs.device)
        valid = (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)  # (B, T, 1)
        return outputs.masked_fill(~valid, float("-inf")).amax(dim=1)      # (B, D*H)

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
def predict_probabilities(model: SeriesClassifier, series: Sequence[np.ndarray], *,
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


def resample(values: np.ndarray, length: int) -> np.ndarray:
    """A sequence stretched or squeezed to `length` steps by linear interpolation, channel by channel.

    Step j of the result is the sequence read at position j·(T−1)/(length−1) of its own time axis
    (interpolating between the two neighbouring steps), so the first and last steps are kept. A
    sequence of one step is repeated.

    Args:
        values: (T, C) with T ≥ 1.
        length: the number of steps wanted (≥ 1).

    Returns:
        (length, C) float64.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError(f"values must have shape (T ≥ 1, C); received {values.shape}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer; received {length!r}")
    length = int(length)  # numpy integers (e.g. a max over lengths) are welcome
    if len(values) == 1:
        return np.repeat(values, length, axis=0)
    positions = np.linspace(0.0, len(values) - 1, length)                  # (length,)
    steps = np.arange(len(values))
    return np.stack([np.interp(positions, steps, values[:, c]) for c in range(values.shape[1])], axis=1)


def nearest_neighbour(train_series: Sequence[np.ndarray], train_labels: Sequence, query_series: Sequence[np.ndarray],
                      length: int) -> np.ndarray:
    """1-nearest-neighbour labels with Euclidean distance on sequences resampled to `length` steps.

        d(a, b) = ‖resample(a, L) − resample(b, L)‖₂   over all L·C numbers
        ŷ(q) = label of argmin_i d(q, train_i)          (ties: the first training sequence)

    Args:
        train_series: N arrays (T_i, C); train_labels: their N labels.
        query_series: M arrays (T_j, C) with the same C.
        length: L, the common length (e.g. the longest training sequence).

    Returns:
        (M,) array of predicted labels.
    """
    if len(train_series) == 0 or len(train_series) != len(train_labels):
        raise ValueError(f"train_series and train_labels must be non-empty and of the same length; received "
                         f"{len(train_series)} and {len(train_labels)}")
    train = np.stack([resample(values, length).ravel() for values in train_series])   # (N, L*C)
    query = np.stack([resample(values, length).ravel() for values in query_series])   # (M, L*C)
    if train.shape[1] != query.shape[1]:
        raise ValueError(f"query_series must have the training sequences' {train_series[0].shape[1]} channels; "
                         f"received {query_series[0].shape[1]}")
    # ‖q − t‖² = ‖q‖² − 2 q·t + ‖t‖²; the argmin does not need the square root
    distances = (query ** 2).sum(1)[:, None] - 2 * query @ train.T + (train ** 2).sum(1)[None, :]  # (M, N)
    return np.asarray(train_labels)[distances.argmin(axis=1)]
