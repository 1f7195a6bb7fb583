"""A whole layer on the triton backend: its layers and directions around the kernels' recurrences.

For each layer and direction, torch projects the whole input sequence at once (W_ih x + biases),
one of `launch`'s Functions runs the recurrence, and torch masks the outputs past each sequence's
end. The reverse direction runs the recurrence forward in time over each sequence reversed within
its length, as the reference backend does.

The LSTM with a projection (h = W_hr (o ⊙ tanh c)) runs as an LSTM over m = o ⊙ tanh c, whose
recurrent weight is W_hh W_hr (4H, H): z_t = W_hh h_{t-1} = (W_hh W_hr) m_{t-1}. The initial h_0
enters as W_hh h_0 added to the first step's projected input, and h = W_hr m is one matrix product
over all steps afterwards. Autograd differentiates the product W_hh W_hr and the two projections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab.backends.reference import _ScanObserver, reverse_padded
from rnnlab.backends.triton.launch import GRURecurrence, Keep, LSTMRecurrence, RNNRecurrence, valid_steps

if TYPE_CHECKING:
    from rnnlab.layers.base import RecurrentLayer


def run(layer: RecurrentLayer, xs: Tensor, initial: tuple[Tensor, ...], lengths: Tensor | None):
    """Outputs (T, B, D*P) and the final state tensors, each (L*D, B, ·); as `native.run`."""
    if lengths is not None:
        # padding never influences anything, even NaN
        xs = torch.where(valid_steps(lengths, xs.shape[0]), xs, xs.new_zeros(()))
    finals: list[list[Tensor]] = [[] for _ in initial]
    for depth in range(layer.num_layers):
        if depth > 0 and layer.dropout > 0:
            xs = F.dropout(xs, layer.dropout, layer.training)
        outputs = []
        for direction in range(layer.num_directions):
            index = depth * layer.num_directions + direction
            suffix = f"_l{depth}" + ("_reverse" if direction else "")
            weights = {name: getattr(layer, name + suffix, None)
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
            observer = None if layer._observe is None else _ScanObserver(layer._observe((depth, direction)), lengths,
                                                                         reverse=bool(direction))
            inputs = _reverse(xs, lengths) if direction else xs
            ys, final = _direction(layer, weights, inputs, tuple(t[index] for t in initial), lengths, observer)
            outputs.append(_reverse(ys, lengths) if direction else ys)
            for store, tensor in zip(finals, final):
                store.append(tensor)
        xs = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
    return xs, tuple(torch.stack(store) for store in finals)


def _reverse(xs: Tensor, lengths: Tensor | None) -> Tensor:
    return xs.flip(0) if lengths is None else reverse_padded(xs, lengths)


def _direction(layer: RecurrentLayer, w: dict, xs: Tensor, state: tuple[Tensor, ...], lengths: Tensor | None,
               observer: _ScanObserver | None):
    """One direction of one layer over xs (T, B, F): outputs (T, B, P), zero past the ends, and the final state."""
    hidden_size = layer.hidden_size
    b_ih, b_hh = w["bias_ih"], w["bias_hh"]
    save = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (xs, *state, *w.values()))
    keep = None if observer is None else Keep()
    if layer.mode == "LSTM":
        xw = F.linear(xs, w["weight_ih"], None if b_ih is None else b_ih + b_hh)  # (T, B, 4H)
        h0, c0 = state
        if layer.proj_size:
            w_hh, w_hr = w["weight_hh"], w["weight_hr"]
            xw = torch.cat([(xw[0] + h0 @ w_hh.t()).unsqueeze(0), xw[1:]])
            ms, c_final = LSTMRecurrence.apply(xw, w_hh @ w_hr, torch.zeros_like(c0), c0, lengths, save, keep)
            hs = ms @ w_hr.t()  # (T, B, P)
            h_final = hs[-1] if lengths is None else torch.where((lengths == 0).unsqueeze(-1), h0, hs[-1])
        else:
            hs, c_final = LSTMRecurrence.apply(xw, w["weight_hh"], h0, c0, lengths, save, keep)
            h_final = hs[-1]
        final = (h_final, c_final)
    elif layer.mode == "GRU":
        if layer.reset_after:  # b_hn stays inside r ⊙ (W_hn h + b_hn); b_hr and b_hz join the input's biases
            bias = None
            if b_ih is not None:
                bias = b_ih + torch.cat([b_hh[: 2 * hidden_size], torch.zeros_like(b_hh[:hidden_size])])
            b_hn = None if b_hh is None else b_hh[2 * hidden_size :]
        else:
            bias, b_hn = (None if b_ih is None else b_ih + b_hh), None
        xw = F.linear(xs, w["weight_ih"], bias)  # (T, B, 3H)
        hs = GRURecurrence.apply(xw, w["weight_hh"], b_hn, state[0], lengths, layer.reset_after, save, keep)
        final = (hs[-1],)
    else:
        xw = F.linear(xs, w["weight_ih"], None if b_ih is None else b_ih + b_hh)  # (T, B, H)
        hs = RNNRecurrence.apply(xw, w["weight_hh"], state[0], lengths, layer.mode == "RNN_RELU", keep)
        final = (hs[-1],)
    if observer is not None:
        _hand_over(layer, observer, keep)
    if lengths is not None:
        hs = hs * valid_steps(lengths, xs.shape[0])
    return hs, final


def _hand_over(layer: RecurrentLayer, observer: _ScanObserver, keep: Keep) -> None:
    """Gives gate recording the gates the kernel wrote and, after backward, every step's ∂L/∂h_t."""
    receive = observer.forward(keep.values)
    if receive is None:
        return
    if layer.proj_size:  # the kernel's state gradient is ∂L/∂m, not ∂L/∂h = ∂L/∂(W_hr m)
        raise ValueError("backend='triton' cannot record the gradient flow of an LSTM with proj_size > 0; "
                         f"received proj_size={layer.proj_size} (use backend='reference' for it)")
    keep.receive = lambda d_h: receive({"h": d_h})
