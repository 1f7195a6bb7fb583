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

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnlab.backends.reference import _ScanObserver, reverse_padded, stack
from rnnlab.backends.spec import LayerSpec, Mode
from rnnlab.backends.triton.launch import GRURecurrence, Keep, LSTMRecurrence, RNNRecurrence, valid_steps


def run(spec: LayerSpec, xs: Tensor, initial: tuple[Tensor, ...], lengths: Tensor | None):
    """Outputs (T, B, D*P) and the final state tensors, each (L*D, B, ·); as `native.run`."""
    if lengths is not None:
        # padding never influences anything, even NaN
        xs = torch.where(valid_steps(lengths, xs.shape[0]), xs, xs.new_zeros(()))

    def direction(layer: int, way: int, inputs: Tensor, state: tuple[Tensor, ...]):
        observer = None if spec.observe is None else _ScanObserver(spec.observe((layer, way)), lengths,
                                                                   reverse=bool(way))
        inputs = _reverse(inputs, lengths) if way else inputs
        ys, final = _direction(spec, spec.weights_at(layer, way), inputs, state, lengths, observer)
        return (_reverse(ys, lengths) if way else ys), final

    return stack(spec, xs, initial, direction)


def _reverse(xs: Tensor, lengths: Tensor | None) -> Tensor:
    return xs.flip(0) if lengths is None else reverse_padded(xs, lengths)


def _direction(spec: LayerSpec, w: dict, xs: Tensor, state: tuple[Tensor, ...], lengths: Tensor | None,
               observer: _ScanObserver | None):
    """One direction of one layer over xs (T, B, F): outputs (T, B, P), zero past the ends, and the final state."""
    hidden_size = spec.hidden_size
    b_ih, b_hh = w["bias_ih"], w["bias_hh"]
    save = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (xs, *state, *w.values()))
    keep = None if observer is None else Keep()
    if spec.mode is Mode.LSTM:
        xw = F.linear(xs, w["weight_ih"], None if b_ih is None else b_ih + b_hh)  # (T, B, 4H)
        h0, c0 = state
        if spec.proj_size:
            w_hh, w_hr = w["weight_hh"], w["weight_hr"]
            xw = torch.cat([(xw[0] + h0 @ w_hh.t()).unsqueeze(0), xw[1:]])
            ms, c_final = LSTMRecurrence.apply(xw, w_hh @ w_hr, torch.zeros_like(c0), c0, lengths, save, keep)
            hs = ms @ w_hr.t()  # (T, B, P)
            h_final = hs[-1] if lengths is None else torch.where((lengths == 0).unsqueeze(-1), h0, hs[-1])
        else:
            hs, c_final = LSTMRecurrence.apply(xw, w["weight_hh"], h0, c0, lengths, save, keep)
            h_final = hs[-1]
        final = (h_final, c_final)
    elif spec.mode is Mode.GRU:
        if spec.reset_after:  # b_hn stays inside r ⊙ (W_hn h + b_hn); b_hr and b_hz join the input's biases
            bias = None
            if b_ih is not None:
                bias = b_ih + torch.cat([b_hh[: 2 * hidden_size], torch.zeros_like(b_hh[:hidden_size])])
            b_hn = None if b_hh is None else b_hh[2 * hidden_size :]
        else:
            bias, b_hn = (None if b_ih is None else b_ih + b_hh), None
        xw = F.linear(xs, w["weight_ih"], bias)  # (T, B, 3H)
        hs = GRURecurrence.apply(xw, w["weight_hh"], b_hn, state[0], lengths, spec.reset_after, save, keep)
        final = (hs[-1],)
    else:
        xw = F.linear(xs, w["weight_ih"], None if b_ih is None else b_ih + b_hh)  # (T, B, H)
        hs = RNNRecurrence.apply(xw, w["weight_hh"], state[0], lengths, spec.mode is Mode.RNN_RELU, keep)
        final = (hs[-1],)
    if observer is not None:
        _hand_over(spec, observer, keep)
    if lengths is not None:
        hs = hs * valid_steps(lengths, xs.shape[0])
    return hs, final


def _hand_over(spec: LayerSpec, observer: _ScanObserver, keep: Keep) -> None:
    """Gives gate recording the gates the kernel wrote and, after backward, every step's ∂L/∂h_t."""
    receive = observer.forward(keep.values)
    if receive is None:
        return
    if spec.proj_size:  # the kernel's state gradient is ∂L/∂m, not ∂L/∂h = ∂L/∂(W_hr m)
        raise ValueError("backend='triton' cannot record the gradient flow of an LSTM with proj_size > 0; "
                         f"received proj_size={spec.proj_size} (use backend='reference' for it)")
    keep.receive = lambda d_h: receive({"h": d_h})
