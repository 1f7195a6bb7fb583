"""The vanilla (Elman) recurrent cell."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab.cells.base import Cell, StepGrads

NONLINEARITIES = ("tanh", "relu")


class RNNGates(NamedTuple):
    """The vanilla cell has no gates; its one activation is the new hidden state."""

    h: Tensor  # (B, H)


class RNNCell(Cell):
    """One step of the vanilla (Elman) recurrent cell.

        h' = φ(W_ih x + b_ih + W_hh h + b_hh)

    x is the input (B, F), h the previous hidden state (B, H), h' the next one, and φ is tanh or
    relu (`nonlinearity`). The two biases are redundant; both are kept so torch weights load as
    they are. Parameter names, shapes and initialisation match torch.nn.RNNCell.

    Args:
        input_size: F, features in x.
        hidden_size: H, features in h.
        bias: if False, b_ih and b_hh are omitted.
        nonlinearity: "tanh" or "relu".
        device, dtype: where and how the parameters are allocated.

    Shape:
        input: (B, F) or (F,); hx and the returned h: (B, H) or (H,).
    """

    num_gates = 1
    _option_defaults = {"nonlinearity": "tanh"}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; received {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._create_parameters(device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih + b_hh: everything in h' that does not depend on h, over any leading shape."""
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)  # (..., H)

    def gates_projected(self, xw: Tensor, state: Tensor) -> RNNGates:
        a = torch.addmm(xw, state, self.weight_hh.t())  # (B, H), the biases came with xw
        return RNNGates(h=torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a))

    def update(self, gates: RNNGates, state: Tensor) -> Tensor:
        return gates.h

    def recorded_kinds(self) -> dict[str, str]:
        return {"h": self.nonlinearity}

    def backward_step(self, d_state: Tensor, gates: RNNGates, state_prev: Tensor, state: Tensor) -> StepGrads:
        h = gates.h
        # φ'(a) written through the output: tanh' = 1 - h'², relu' = [h' > 0]
        d_a = d_state * (1 - h * h) if self.nonlinearity == "tanh" else d_state * (h > 0)
        return StepGrads(d_xw=d_a, d_hh=d_a, d_state=d_a @ self.weight_hh)
