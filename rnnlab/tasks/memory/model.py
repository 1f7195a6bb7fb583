"""The model of the long-memory tasks: a recurrent layer and a linear readout (see `MemoryModel`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.tasks.parts import ENCODERS, check_cell


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
        check_cell(cell)
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
