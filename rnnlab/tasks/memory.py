"""The long-memory benchmarks of the LSTM literature, generated from a seed, and the model that learns them.

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
from rnnlab.tasks.forecast import ENCODERS

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


class MemoryModel(nn.Module):
    """A batch-first rnnlab RNN/LSTM/GRU and a linear readout, at the last step or at every step.

        h_1 … h_T = recurrent layer(x_1 … x_T)      top layer's outputs, each (B, H)
        ŷ = W h_T + b          many-to-one (the adding problem), (B, output_size)
        ŷ_t = W h_t + b        many-to-many (the copy task), (B, T, output_size)

    Initialisation: torch's U(±1/√H) for every weight and bias of every cell (the rnnlab layers'
    own), and PyTorch's nn.Linear default for the readout. With `forget_bias`, each LSTM layer's
    forget-gate bias starts at that value instead, b_if = forget_bias and b_hf = 0 (their sum is
    what the gate sees): Gers et al. 2000 and Jozefowicz et al. 2015 found a bias of 1 helps the
    LSTM keep its cell state early in training, and Keras does it by default (unit_forget_bias).
    On the adding problem its effect is within the spread between seeds (benchmarks/results/memory.md).
    The vanilla RNN (tanh) and the GRU always keep torch's initialisation.

    Args:
        cell: "rnn", "lstm" or "gru"; the recurrent layer is an rnnlab layer (so gate recording
            and gradient flow see it) running on its default "auto" backend.
        input_size: features per step (F).
        hidden_size: features of the hidden state (H).
        num_layers: stacked recurrent layers.
        output_size: outputs per answer: 1 for the adding problem, S + 1 for the copy task.
        every_step: answer at every step (many-to-many) instead of after the last (many-to-one).
        dropout: between recurrent layers only, as in torch (no effect with one layer).
        forget_bias: LSTM only; None keeps torch's initialisation.

    Shape:
        xs: (B, T, F), batch-first. Output: (B, output_size), or (B, T, output_size) with every_step.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, output_size: int, *,
                 every_step: bool = False, dropout: float = 0.0, forget_bias: float | None = None) -> None:
        super().__init__()
        if cell not in ENCODERS:
            raise ValueError(f"cell must be one of {sorted(ENCODERS)}; received {cell!r}")
        if forget_bias is not None and cell != "lstm":
            raise ValueError(f"forget_bias applies to the LSTM only; received forget_bias={forget_bias!r} "
                             f"with cell={cell!r}")
        self.cell, self.every_step, self.forget_bias = cell, every_step, forget_bias
        self.recurrent = ENCODERS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                        dropout=dropout)
        self.head = nn.Linear(hidden_size, check_positive_int("output_size", output_size))
        if forget_bias is not None:
            set_forget_bias(self.recurrent, float(forget_bias))

    def forward(self, xs: Tensor) -> Tensor:
        """The answers for batch-first sequences xs (B, T, F); see the class docstring for shapes."""
        if xs.dim() != 3 or xs.shape[-1] != self.recurrent.input_size:
            raise ValueError(f"xs must have shape (B, T, {self.recurrent.input_size}); received {tuple(xs.shape)}")
        outputs, _ = self.recurrent(xs)                                  # (B, T, H)
        return self.head(outputs if self.every_step else outputs[:, -1])


def set_forget_bias(lstm: nn.Module, value: float) -> None:
    """Sets every layer's forget-gate bias of an rnnlab (or torch) LSTM: b_if = value, b_hf = 0.

    The f rows are the second quarter of each bias (gate order [i|f|g|o]). A layer without biases
    (bias=False) is a ValueError: it has no forget bias to set.
    """
    if not getattr(lstm, "bias", False):
        raise ValueError("forget_bias needs an LSTM with biases; received one built with bias=False")
    hidden = lstm.hidden_size
    with torch.no_grad():
        for name, parameter in lstm.named_parameters():
            if name.startswith("bias_ih_"):
                parameter[hidden : 2 * hidden] = value
            elif name.startswith("bias_hh_"):
                parameter[hidden : 2 * hidden] = 0.0


__all__ = ["MemoryModel", "adding_metrics", "adding_problem", "copy_metrics", "copy_task",
           "memoryless_copy_metrics", "set_forget_bias"]
