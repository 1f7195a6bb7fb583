"""The long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab.cells.base import Cell, StepGrads, Trace, _flat_mm


class LSTMState(NamedTuple):
    """The state an LSTM carries from step to step."""

    h: Tensor  # (B, P) hidden state, also the cell's output (P = H without projection)
    c: Tensor  # (B, H) cell memory


class LSTMGates(NamedTuple):
    """Gate activations of one LSTM step, each (B, H)."""

    i: Tensor  # input gate
    f: Tensor  # forget gate
    g: Tensor  # candidate cell (C̃)
    o: Tensor  # output gate


class LSTMCell(Cell):
    """One step of a long short-term memory cell.

        i  = σ(W_ii x + b_ii + W_hi h + b_hi)      input gate
        f  = σ(W_if x + b_if + W_hf h + b_hf)      forget gate
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)   candidate cell (C̃)
        o  = σ(W_io x + b_io + W_ho h + b_ho)      output gate
        c' = f ⊙ c + i ⊙ g                          cell state
        h' = o ⊙ tanh(c')                           hidden state (W_hr (o ⊙ tanh(c')) with proj_size)

    x is the input (B, F); h (B, P) and c (B, H) the previous state; σ the logistic sigmoid and ⊙
    the elementwise product. W_ih = [W_ii|W_if|W_ig|W_io] stacks the four blocks in rows in torch's
    order [i|f|g|o], likewise W_hh, b_ih and b_hh. Parameter names, shapes and initialisation match
    torch.nn.LSTMCell; `proj_size` (from torch.nn.LSTM, absent from torch's cell) adds W_hr (P, H).

    Args:
        input_size: F, features in x.
        hidden_size: H, features in c (and in h without projection).
        bias: if False, b_ih and b_hh are omitted.
        device, dtype: where and how the parameters are allocated.
        proj_size: P > 0 projects h' to P features with W_hr; 0 (default) means no projection.

    Shape:
        input: (B, F) or (F,); hx and the returned (h, c): (B, P), (B, H), or unbatched (P,), (H,).
    """

    num_gates = 4
    _option_defaults = {"proj_size": 0}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        proj_size: int = 0,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.proj_size = check_proj_size(proj_size, hidden_size)
        self._create_parameters(device, dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().parameter_shapes()
        if self.proj_size:
            shapes["weight_hr"] = (self.proj_size, self.hidden_size)
        return shapes

    def state_sizes(self) -> tuple[int, int]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def state_from_tensors(self, tensors: tuple[Tensor, ...]) -> LSTMState:
        return LSTMState(*tensors)

    def project_input(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih + b_hh: everything in z that does not depend on h, over any leading shape."""
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)  # (..., 4H)

    def gates_projected(self, xw: Tensor, state: LSTMState) -> LSTMGates:
        z = torch.addmm(xw, state.h, self.weight_hh.t())  # (B, 4H), the biases came with xw
        i, f, _, o = torch.sigmoid(z).chunk(4, dim=-1)  # one call for the three σ gates
        g = torch.tanh(z[:, 2 * self.hidden_size : 3 * self.hidden_size])
        return LSTMGates(i=i, f=f, g=g, o=o)

    def update(self, gates: LSTMGates, state: LSTMState) -> LSTMState:
        c = torch.addcmul(gates.f * state.c, gates.i, gates.g)  # f ⊙ c + i ⊙ g
        h = gates.o * torch.tanh(c)
        if self.proj_size:
            h = F.linear(h, self.weight_hr)  # (B, P)
        return LSTMState(h=h, c=c)

    def recorded(self, gates: LSTMGates, state: LSTMState) -> dict[str, Tensor]:
        return {**gates._asdict(), "c": state.c}

    def recorded_kinds(self) -> dict[str, str]:
        return {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid", "c": "free"}

    def backward_step(self, d_state: LSTMState, gates: LSTMGates, state_prev: LSTMState, state: LSTMState) -> StepGrads:
        i, f, g, o = gates
        d_h = d_state.h @ self.weight_hr if self.proj_size else d_state.h  # (B, H), before projection
        tanh_c = torch.tanh(state.c)
        # c' reaches the loss directly (d_state.c) and through h' = o ⊙ tanh(c'); tanh' = 1 - tanh²
        d_c = torch.addcmul(d_state.c, d_h * o, 1 - tanh_c.square())
        d_a = torch.cat([d_c * g, d_c * state_prev.c, d_c * i, d_h * tanh_c], dim=-1)  # (B, 4H), ∂L/∂[i|f|g|o]
        # back through the activations, block by block: σ' = σ(1 - σ), tanh' = 1 - tanh²
        a = torch.cat(gates, dim=-1)  # (B, 4H)
        slope = a - a.square()
        slope[:, 2 * self.hidden_size : 3 * self.hidden_size] = 1 - g.square()
        d_z = d_a.mul_(slope)  # (B, 4H)
        d_prev = LSTMState(h=d_z @ self.weight_hh, c=d_c * f)
        return StepGrads(d_xw=d_z, d_hh=d_z, d_state=d_prev)

    def parameter_grads(self, trace: Trace) -> dict[str, Tensor]:
        result = super().parameter_grads(trace)
        if self.proj_size:
            d_h = trace.d_h  # (T, B, P)
            m = torch.stack([gate.o * torch.tanh(s.c) for gate, s in zip(trace.gates, trace.states[1:])])  # (T, B, H)
            result["weight_hr"] = _flat_mm(d_h, m)
        return result


def check_proj_size(proj_size: int, hidden_size: int) -> int:
    """Validates `proj_size`: 0 (no projection) or an int in [1, hidden_size)."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, int):
        raise TypeError(f"proj_size must be an int; received {proj_size!r}")
    if proj_size < 0:
        raise ValueError(f"proj_size must be 0 (no projection) or positive; received {proj_size}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size must be smaller than hidden_size ({hidden_size}); received {proj_size}")
    return proj_size
