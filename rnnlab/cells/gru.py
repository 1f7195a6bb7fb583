"""The gated recurrent unit (Cho et al. 2014), in torch's form and in the paper's."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab.cells.base import Cell, StepGrads, Trace, _flat_mm, _previous_outputs


class GRUGates(NamedTuple):
    """Gate activations of one GRU step, each (B, H)."""

    r: Tensor  # reset gate
    z: Tensor  # update gate
    n: Tensor  # candidate state (ĥ)
    hn: Tensor  # the recurrent term inside n: W_hn h + b_hn, or W_hn (r ⊙ h) + b_hn


class GRUCell(Cell):
    """One step of a gated recurrent unit.

        r  = σ(W_ir x + b_ir + W_hr h + b_hr)             reset gate
        z  = σ(W_iz x + b_iz + W_hz h + b_hz)             update gate
        n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))    candidate, reset_after=True (torch, cuDNN, Keras)
        n  = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)    candidate, reset_after=False (Cho et al. 2014)
        h' = (1 - z) ⊙ n + z ⊙ h

    x is the input (B, F), h (B, H) the previous hidden state, σ the logistic sigmoid and ⊙ the
    elementwise product. W_ih = [W_ir|W_iz|W_in] stacks the three blocks in rows in torch's order
    [r|z|n], likewise W_hh, b_ih and b_hh. Parameter names, shapes and initialisation match
    torch.nn.GRUCell.

    Note: the two forms differ only in where r acts. torch and cuDNN apply it after the matrix
    product (reset_after=True, the default here too); the paper applies it to h before, which
    torch cannot express. Many textbooks write h' = (1 - z) ⊙ h + z ⊙ ĥ: the same cell with z
    read as 1 - z, so their "update gate" is our 1 - z.

    Args:
        input_size: F, features in x.
        hidden_size: H, features in h.
        bias: if False, b_ih and b_hh are omitted.
        device, dtype: where and how the parameters are allocated.
        reset_after: where the reset gate acts, as above.

    Shape:
        input: (B, F) or (F,); hx and the returned h: (B, H) or (H,).
    """

    num_gates = 3
    _option_defaults = {"reset_after": True}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        reset_after: bool = True,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        if not isinstance(reset_after, bool):
            raise TypeError(f"reset_after must be a bool; received {reset_after!r}")
        self.reset_after = reset_after
        self._create_parameters(device, dtype)

    def _recurrent_n_weights(self) -> tuple[Tensor, Tensor | None]:
        """W_hn (H, H) and b_hn (H,), the rows of W_hh and b_hh that feed n."""
        rows = slice(2 * self.hidden_size, None)
        return self.weight_hh[rows], None if self.bias_hh is None else self.bias_hh[rows]

    def gates_projected(self, xw: Tensor, state: Tensor) -> GRUGates:
        h = state
        x_n = xw[:, 2 * self.hidden_size :]  # (B, H); x_r and x_z are added to h's terms as one block
        if self.reset_after:
            hw = F.linear(h, self.weight_hh, self.bias_hh)  # (B, 3H)
            r, z = torch.sigmoid(xw[:, : 2 * self.hidden_size] + hw[:, : 2 * self.hidden_size]).chunk(2, dim=-1)
            hn = hw[:, 2 * self.hidden_size :]
            # r scales (W_hn h + b_hn) after the matrix product, as torch and cuDNN do
            n = torch.tanh(torch.addcmul(x_n, r, hn))
        else:
            rz_rows = slice(None, 2 * self.hidden_size)
            b_rz = None if self.bias_hh is None else self.bias_hh[rz_rows]
            r, z = torch.sigmoid(xw[:, rz_rows] + F.linear(h, self.weight_hh[rz_rows], b_rz)).chunk(2, dim=-1)
            # the paper's form: r resets h before it enters the matrix product
            hn = F.linear(r * h, *self._recurrent_n_weights())
            n = torch.tanh(x_n + hn)
        return GRUGates(r=r, z=z, n=n, hn=hn)

    def update(self, gates: GRUGates, state: Tensor) -> Tensor:
        return torch.lerp(gates.n, state, gates.z)  # (1 - z) ⊙ n + z ⊙ h in one call

    def recorded(self, gates: GRUGates, state: Tensor) -> dict[str, Tensor]:
        return {"r": gates.r, "z": gates.z, "n": gates.n}  # hn is an intermediate product, not a gate

    def recorded_kinds(self) -> dict[str, str]:
        return {"r": "sigmoid", "z": "sigmoid", "n": "tanh"}

    def backward_step(self, d_state: Tensor, gates: GRUGates, state_prev: Tensor, state: Tensor) -> StepGrads:
        r, z, n, hn = gates
        h = state_prev
        d_a_n = d_state * (1 - z) * (1 - n * n)  # through h' = (1 - z) n + z h, then tanh
        d_a_z = d_state * (h - n) * z * (1 - z)
        d_h = d_state * z  # the direct path h -> h'
        if self.reset_after:
            d_a_r = d_a_n * hn * r * (1 - r)
            d_xw = torch.cat([d_a_r, d_a_z, d_a_n], dim=-1)  # (B, 3H)
            d_hh = torch.cat([d_a_r, d_a_z, d_a_n * r], dim=-1)  # (B, 3H): r multiplies W_hn h + b_hn
            return StepGrads(d_xw=d_xw, d_hh=d_hh, d_state=d_h + d_hh @ self.weight_hh)
        w_hn, _ = self._recurrent_n_weights()
        d_rh = d_a_n @ w_hn  # (B, H), gradient of r ⊙ h
        d_a_r = d_rh * h * r * (1 - r)
        d_xw = torch.cat([d_a_r, d_a_z, d_a_n], dim=-1)  # (B, 3H)
        d_h = d_h + d_rh * r + d_xw[:, : 2 * self.hidden_size] @ self.weight_hh[: 2 * self.hidden_size]
        return StepGrads(d_xw=d_xw, d_hh=d_xw, d_state=d_h)

    def weight_hh_grad(self, trace: Trace) -> Tensor:
        if self.reset_after:
            return super().weight_hh_grad(trace)
        # rows r, z see h; rows n see r ⊙ h
        rows = 2 * self.hidden_size
        h_prev = _previous_outputs(trace)  # (T, B, H)
        rh = torch.stack([gate.r for gate in trace.gates]) * h_prev  # (T, B, H)
        return torch.cat([_flat_mm(trace.d_hh[..., :rows], h_prev), _flat_mm(trace.d_hh[..., rows:], rh)])
