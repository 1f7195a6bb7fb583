"""Many-to-one classification of multivariate series of unequal lengths: the network and its batches.

The model reads a standardised sequence x_1 … x_n (x_t ∈ R^C, one row per time step) with an
rnnlab RNN/LSTM/GRU and maps one encoding of the whole sequence to class logits:

    h_1 … h_n = encoder(x_1 … x_n)                rnnlab RNN/LSTM/GRU over the n real steps only
    e = [h_n^fwd ; h_1^bwd]     (pooling "last")  final state(s) of the top layer, (B, D*H)
      = mean_{t ≤ n} h_t        (pooling "mean")  mean of the top layer's outputs, (B, D*H)
      = max_{t ≤ n} h_t         (pooling "max")   elementwise max, (B, D*H)
    e ← [e ; f]                 (conv_branch)     with the FCN branch of LSTM-FCN (Karim et al. 2018):
        z⁰ = x; z^j = ReLU(BN(conv_j(z^{j-1})))   three "same"-padded 1-D convolutions, kernels 8, 5, 3 and
                                                  128, 256, 128 filters, batch norm over real steps only
        f = mean_{t ≤ n} z³_t                     (B, 128), global average pooling over the real steps
    logits = W dropout(e) + b                     (B, K); p(k | x) = softmax(logits)_k

Sequences of different lengths share a zero-padded batch; each carries its length n, the encoder
runs with `lengths=` (outputs past n are zeros, final states are those at step n, the backward
direction starts at step n) and the pooling reads steps t ≤ n only, so padding never changes a
sequence's probabilities. The convolutional branch keeps that promise too: after every block the
steps past n are set to zero again (so a row reads the zero padding "same" convolution would pad it
with), batch norm's statistics count real steps only, and the average pools over t ≤ n.
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


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """`nn.BatchNorm1d` over (B, C, T) whose batch statistics count each row's first n steps only.

    In training the mean and (biased) variance of each channel are taken over the real steps of
    the batch, and the running estimates move towards them (the unbiased variance, `momentum` as in
    torch); in eval the running estimates normalise. On a batch whose rows are all T steps long it
    computes what `nn.BatchNorm1d` computes. Steps past each row's end come out as zeros.
    """

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        """values: (B, C, T); mask: (B, 1, T) bool, True on real steps. Returns (B, C, T)."""
        if self.training:
            weight = mask.to(values.dtype)                                   # (B, 1, T)
            count = weight.sum()
            mean = (values * weight).sum(dim=(0, 2)) / count                 # (C,)
            centred = (values - mean[:, None]) * weight
            variance = (centred * centred).sum(dim=(0, 2)) / count            # (C,) biased
            if self.track_running_stats and self.running_mean is not None:
                with torch.no_grad():
                    unbiased = variance * count / (count - 1).clamp(min=1)
                    self.running_mean.lerp_(mean.to(self.running_mean.dtype), self.momentum)
                    self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
                    self.num_batches_tracked.add_(1)
        else:
            mean, variance = self.running_mean, self.running_var
        normal = (values - mean[:, None]) * torch.rsqrt(variance[:, None] + self.eps)
        if self.affine:
            normal = normal * self.weight[:, None] + self.bias[:, None]
        return normal * mask


class ConvBranch(nn.Module):
    """The fully convolutional branch of LSTM-FCN: three conv–batch-norm–ReLU blocks over the real
    steps of each row, then global average pooling over those steps.

    Shape: values (B, T, C), lengths (B,) → (B, filters[-1]).
    """

    def __init__(self, input_size: int, filters: Sequence[int] = (128, 256, 128),
                 kernels: Sequence[int] = (8, 5, 3)) -> None:
        super().__init__()
        sizes = [input_size, *filters]
        self.convolutions = nn.ModuleList(nn.Conv1d(sizes[j], sizes[j + 1], kernels[j])
                                          for j in range(len(filters)))
        # "same" length out: k - 1 zeros split (k-1)//2 before, the rest after (torch's padding="same",
        # written out because torch warns of a copy for even kernels)
        self.pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernels]
        self.norms = nn.ModuleList(MaskedBatchNorm1d(size) for size in filters)
        self.output_size = sizes[-1]

    def forward(self, values: Tensor, lengths: Tensor) -> Tensor:
        steps = torch.arange(values.shape[1], device=values.device)
        mask = (steps[None, :] < lengths.to(values.device)[:, None])[:, None, :]   # (B, 1, T)
        z = values.transpose(1, 2) * mask                                          # (B, C, T)
        for convolution, norm, pad in zip(self.convolutions, self.norms, self.pads):
            z = torch.relu(norm(convolution(nn.functional.pad(z, pad)), mask))                             # zeros past each end
        return z.sum(dim=2) / lengths.to(z)[:, None]                               # (B, F)


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
        conv_branch: also read each sequence with LSTM-FCN's convolutional branch and concatenate
            its pooled features to the recurrent encoding (not causal: no `step`).

    Shape:
        values: (B, T, C) float and lengths: (B,) int64, or a `SeriesBatch`. Output: (B, K) logits.
    """

    def __init__(self, input_size: int, num_classes: int, *, cell: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 pooling: str = "last", conv_branch: bool = False) -> None:
        super().__init__()
        check_classifier(cell, num_classes, pooling, dropout)
        self.input_size = check_positive_int("input_size", input_size)
        self.cell, self.pooling, self.num_classes = cell, pooling, num_classes
        self.num_directions = 2 if bidirectional else 1
        # torch semantics: the encoder's dropout acts between layers, so it is pointless (and warns) for one
        self.encoder = ENCODERS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.conv = ConvBranch(input_size) if conv_branch else None
        self.dropout = nn.Dropout(dropout)
        extra = self.conv.output_size if self.conv is not None else 0
        self.head = nn.Linear(self.num_directions * hidden_size + extra, num_classes)

    def encode(self, values: Tensor, lengths: Tensor) -> Tensor:
        """The encoding e of each sequence, directions concatenated [fwd | bwd].

        Args:
            values: (B, T, C) zero-padded sequences.
            lengths: (B,) int64 real lengths, each in [1, T].

        Returns:
            (B, D*H) tensor, or (B, D*H + 128) with the convolutional branch.
        """
        if values.dim() != 3 or values.shape[-1] != self.input_size or lengths.shape != values.shape[:1]:
            raise ValueError(f"values must be (B, T, {self.input_size}) and lengths (B,); received "
                             f"{tuple(values.shape)} and {tuple(lengths.shape)}")
        check_lengths(lengths, values.shape[1])
        outputs, final = self.encoder(values, lengths=lengths)                   # (B, T, D*H), zeros past each end
        encoding = pool(self.pooling, outputs, final, lengths, self.num_directions)  # (B, D*H)
        if self.conv is None:
            return encoding
        return torch.cat([encoding, self.conv(values, lengths)], dim=-1)        # (B, D*H + F)

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
                sequence's end; for one with the convolutional branch, whose "same" convolutions
                and batch statistics read ahead; or an x that is not (B, C).
        """
        if self.conv is not None:
            raise ValueError("a classifier with conv_branch=True cannot step: its convolutions read later "
                             "steps; use forward on the whole sequence")
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
