"""The long-memory benchmarks of the LSTM literature, generated from a seed, and how answers are scored.

Adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015 and Arjovsky et al. 2016):
each step t = 0 … T-1 of a sequence carries two features,

    x_t = (u_t, m_t)        u_t ~ U(0, 1) independently;  m_t ∈ {0, 1} a marker
    m_a = m_b = 1           a uniform in [0, ⌊T/2⌋), b uniform in [⌊T/2⌋, T); every other m_t = 0
    y   = u_a + u_b         the target, read after the last step

so the model must carry u_a from step a to its answer after step T - 1: at least ⌈T/2⌉ steps, about
3T/4 on average, and u_b about T/4 (the inputs between are noise to ignore). Predicting
the mean E[y] = 1 for every sequence scores MSE Var(u_a + u_b) = 2/12 = 1/6 ≈ 0.167 in expectation:
the baseline a model with no memory cannot beat. (Hochreiter & Schmidhuber's original experiment
differs in details: values in [-1, 1], both markers early in the sequence, a rescaled target; the
halves form above is the one recent papers and courses use.)

Copy task (Arjovsky, Shah & Bengio 2016), with K = copy_length symbols from an alphabet of S =
symbols; token 0 is the blank, 1 … S the symbols, S + 1 the delimiter. A sequence has T + 2K steps:

    inputs:   s_1 … s_K   0 … 0 (T - 1 blanks)   S+1   0 … 0 (K blanks)
    targets:  0 … 0 (T + K blanks)                     s_1 … s_K

s_k uniform over 1 … S. The model reads one-hot inputs (S + 2 features) and answers at every step
over S + 1 classes (blank and symbols; the delimiter is never a target); after the delimiter it must
write back the K symbols it saw T + K steps before. The memoryless strategy (blank for the first
T + K steps, then a uniform guess) scores cross-entropy K·log(S) / (T + 2K) per step and accuracy 1/S
on the copied symbols; only a model that remembers beats it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int

ADDING_FEATURES = 2  # (value, marker) per step


def adding_problem(num_sequences: int, length: int, *, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Sequences of the adding problem (see the module docstring for the exact form).

    Args:
        num_sequences: N, sequences to draw.
        length: T ≥ 2, steps per sequence.
        generator: the only source of randomness: the same generator state gives the same sequences.

    Returns:
        inputs (N, T, 2) float32, batch-first, features (value, marker); targets (N, 1) float32, the
        sum of the two marked values.
    """
    check_positive_int("num_sequences", num_sequences)
    if check_positive_int("length", length) < 2:
        raise ValueError(f"length must be at least 2 (one marker in each half); received {length}")
    half = length // 2
    values = torch.rand(num_sequences, length, generator=generator)            # (N, T)
    first = torch.randint(0, half, (num_sequences,), generator=generator)      # (N,) in [0, ⌊T/2⌋)
    second = torch.randint(half, length, (num_sequences,), generator=generator)  # (N,) in [⌊T/2⌋, T)
    rows = torch.arange(num_sequences)
    markers = torch.zeros(num_sequences, length)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values[rows, first] + values[rows, second]).unsqueeze(1)         # (N, 1)
    return torch.stack([values, markers], dim=-1), targets                      # (N, T, 2), (N, 1)


def adding_metrics(predictions: Tensor, targets: Tensor) -> dict[str, float]:
    """MSE, MAE, and the share of sequences within 0.04 of the target (Hochreiter & Schmidhuber's
    criterion of a sequence solved), for predictions and targets of shape (N, 1)."""
    error = (predictions.double() - targets.double()).flatten()
    return {"mse": float(error.square().mean()), "mae": float(error.abs().mean()),
            "within_0.04": float((error.abs() < 0.04).double().mean())}


def copy_task(num_sequences: int, length: int, *, symbols: int = 8, copy_length: int = 10,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Sequences of the copy task (see the module docstring for the exact layout).

    Args:
        num_sequences: N, sequences to draw.
        length: T ≥ 1, the delay: steps from the end of the symbols to the delimiter, inclusive.
        symbols: S ≥ 2, the alphabet's size.
        copy_length: K ≥ 1, symbols to remember.
        generator: the only source of randomness.

    Returns:
        inputs (N, T + 2K, S + 2) float32 one-hot, batch-first; targets (N, T + 2K) int64 in
        [0, S]: 0 (blank) everywhere but the last K steps, which hold the K symbols.
    """
    check_positive_int("num_sequences", num_sequences)
    check_positive_int("length", length)
    check_positive_int("copy_length", copy_length)
    if check_positive_int("symbols", symbols) < 2:
        raise ValueError(f"symbols must be at least 2 (one symbol is nothing to remember); received {symbols}")
    steps = length + 2 * copy_length
    message = torch.randint(1, symbols + 1, (num_sequences, copy_length), generator=generator)  # (N, K)
    tokens = torch.zeros(num_sequences, steps, dtype=torch.long)                                  # (N, T + 2K)
    tokens[:, :copy_length] = message
    tokens[:, copy_length + length - 1] = symbols + 1                                             # the delimiter
    targets = torch.zeros(num_sequences, steps, dtype=torch.long)
    targets[:, -copy_length:] = message
    return nn.functional.one_hot(tokens, symbols + 2).float(), targets


def copy_metrics(logits: Tensor, targets: Tensor, copy_length: int) -> dict[str, float]:
    """Cross-entropy per step (nats, over every step), and accuracy on the last `copy_length` steps:
    per symbol, and per sequence (all K right); logits (N, T', S + 1), targets (N, T')."""
    cross_entropy = nn.functional.cross_entropy(logits.double().flatten(0, 1), targets.flatten())
    right = logits[:, -copy_length:].argmax(dim=-1) == targets[:, -copy_length:]  # (N, K)
    return {"cross_entropy": float(cross_entropy), "accuracy": float(right.double().mean()),
            "sequence_accuracy": float(right.all(dim=1).double().mean())}


def memoryless_copy_metrics(length: int, symbols: int, copy_length: int) -> dict[str, float]:
    """What the memoryless strategy scores on the copy task: blanks, then uniform guesses.

    Its cross-entropy is the same on every sequence, K·log(S) / (T + 2K) (Arjovsky et al. 2016);
    its accuracies are the expectations of uniform guessing, 1/S per symbol and (1/S)^K per sequence.
    """
    return {"cross_entropy": copy_length * math.log(symbols) / (length + 2 * copy_length),
            "accuracy": 1.0 / symbols, "sequence_accuracy": (1.0 / symbols) ** copy_length}
