"""rnnlab's layers as one operator, `rnnlab::recurrent`, and its translation into ONNX's RNN, LSTM and GRU.

While `rnnlab.interop.onnx.export_onnx` traces a module, `layers_as_operator(module)` makes every
rnnlab layer in it run as one call to `rnnlab::recurrent` (the same layouts, checks and returns
as the layer's own forward), so torch.export keeps the whole time loop as one node instead of
unrolling it. `TRANSLATIONS` tells torch's ONNX exporter how to write that node: one ONNX RNN,
LSTM or GRU node per stacked layer, both directions in it, weights reordered from torch's gate
order to ONNX's:

    rnnlab (torch order)             ONNX
    LSTM rows [i|f|g|o]              W, R rows [i|o|f|c]; B = [Wb | Rb]
    GRU  rows [r|z|n]                W, R rows [z|r|h]; linear_before_reset = reset_after
    RNN  tanh / relu                 activations ["Tanh"] / ["Relu"], one per direction
    lengths (B,) int64               sequence_lens (B,) int32; the reverse direction starts at
                                     each sequence's end and outputs past it are zeros, as rnnlab's
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import onnx
import torch
from onnxscript import opset18 as op
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnnlab.backends.spec import Mode
from rnnlab.layers import GRU, LSTM, RNN
from rnnlab.layers.base import RecurrentLayer

# ONNX's gate blocks, in ONNX's order, as indices of torch's blocks
_GATE_ORDER = {Mode.LSTM: (0, 3, 1, 2), Mode.GRU: (1, 0, 2), Mode.RNN_TANH: (0,), Mode.RNN_RELU: (0,)}
_INT32 = onnx.TensorProto.INT32


@torch.library.custom_op("rnnlab::recurrent", mutates_args=())
def _recurrent(input: Tensor, lengths: Tensor | None, initial: list[Tensor], weights: list[Tensor], mode: str,
               hidden_size: int, num_layers: int, bidirectional: bool, bias: bool, reset_after: bool) -> list[Tensor]:
    """A whole rnnlab layer (all layers and directions) as one operator, for export.

    Args:
        input: (T, B, F) time-major.
        lengths: (B,) integers or None, as the layer's `lengths=`.
        initial: [] for zeros, else the initial state tensors, each (L*D, B, H).
        weights: the layer's parameters in torch's order (`RecurrentLayer.describe().weights`).
        mode: a `Mode`'s value: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU" (an operator takes strings).

    Returns:
        [outputs (T, B, D*H), h_n (L*D, B, H)], and c_n (L*D, B, H) for the LSTM.
    """
    mode = Mode(mode)
    layer = _layer(mode, input.shape[-1], hidden_size, num_layers, bidirectional, bias, reset_after, input.dtype)
    # assign=True: the layer computes with these very tensors; built on meta, it drew no random numbers
    layer.load_state_dict(dict(zip(layer.describe().weight_names, weights, strict=True)), assign=True)
    hx = None if not initial else (tuple(initial) if mode is Mode.LSTM else initial[0])
    ys, final = layer(input, hx, lengths=lengths)
    final = tuple(final) if mode is Mode.LSTM else (final,)
    return [t.clone() for t in (ys, *final)]  # an operator's outputs may not alias its inputs


@_recurrent.register_fake
def _(input, lengths, initial, weights, mode, hidden_size, num_layers, bidirectional, bias, reset_after):
    num_steps, batch_size, _ = input.shape
    directions = 2 if bidirectional else 1
    states = [input.new_empty(num_layers * directions, batch_size, hidden_size) for _ in range(_num_states(mode))]
    return [input.new_empty(num_steps, batch_size, directions * hidden_size), *states]


def _num_states(mode: str) -> int:
    return 2 if Mode(mode) is Mode.LSTM else 1


def _layer(mode: Mode, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, bias: bool,
           reset_after: bool, dtype: torch.dtype) -> RecurrentLayer:
    """An rnnlab layer of `mode` with uninitialised weights on the meta device."""
    common = dict(num_layers=num_layers, bias=bias, bidirectional=bidirectional, device="meta", dtype=dtype)
    if mode is Mode.LSTM:
        return LSTM(input_size, hidden_size, **common)
    if mode is Mode.GRU:
        return GRU(input_size, hidden_size, **common, reset_after=reset_after)
    return RNN(input_size, hidden_size, nonlinearity="tanh" if mode is Mode.RNN_TANH else "relu", **common)


def _onnx_recurrent(input, lengths, initial, weights, mode, hidden_size, num_layers, bidirectional, bias,
                    reset_after):
    """The translation of `rnnlab::recurrent` into ONNX: one RNN/LSTM/GRU node per stacked layer."""
    mode = Mode(mode)
    directions = 2 if bidirectional else 1
    per_direction = 4 if bias else 2  # weight_ih, weight_hh[, bias_ih, bias_hh]
    order = [block * hidden_size + j for block in _GATE_ORDER[mode] for j in range(hidden_size)]
    rows = op.Constant(value_ints=order)  # torch's rows, in ONNX's gate order
    bias_rows = op.Constant(value_ints=order + [len(order) + row for row in order])  # of [b_ih | b_hh]
    sequence_lens = None if lengths is None else op.Cast(lengths, to=_INT32)
    empty = None if sequence_lens is None or not initial else \
        op.Unsqueeze(op.Equal(sequence_lens, op.CastLike(0, sequence_lens)), [0, 2])  # (1, B, 1)
    options = dict(direction="bidirectional" if bidirectional else "forward", hidden_size=hidden_size)
    xs, finals = input, [[] for _ in range(_num_states(mode))]  # h_n (and c_n) of each layer
    for layer in range(num_layers):
        first = layer * directions
        cells = [weights[(first + d) * per_direction:(first + d + 1) * per_direction] for d in range(directions)]
        w, r = (_by_direction([op.Gather(cell[k], rows, axis=0) for cell in cells]) for k in (0, 1))  # (D, G*H, ·)
        b = _by_direction([op.Gather(op.Concat(cell[2], cell[3], axis=0), bias_rows, axis=0) for cell in cells]) \
            if bias else None  # (D, 2*G*H): ONNX's B is [Wb | Rb]
        states = [op.Slice(t, [first], [first + directions], axes=[0]) for t in initial]
        if mode is Mode.LSTM:
            ys, *final = op.LSTM(xs, w, r, b, sequence_lens, *states, **options)
        elif mode is Mode.GRU:
            ys, *final = op.GRU(xs, w, r, b, sequence_lens, *states, linear_before_reset=int(reset_after), **options)
        else:
            activation = "Tanh" if mode is Mode.RNN_TANH else "Relu"
            ys, *final = op.RNN(xs, w, r, b, sequence_lens, *states, activations=[activation] * directions, **options)
        if empty is not None:  # ONNX leaves the final state of an empty sequence open; rnnlab's is the initial one
            final = [op.Where(empty, start, end) for start, end in zip(states, final)]
        for parts, state in zip(finals, final):
            parts.append(state)
        # (T, D, B, H) -> (T, B, D*H): directions side by side on features, forward first, as torch
        xs = op.Reshape(op.Transpose(ys, perm=[0, 2, 1, 3]), op.Constant(value_ints=[0, 0, -1]))
    return [xs, *[op.Concat(*parts, axis=0) if len(parts) > 1 else parts[0] for parts in finals]]


def _by_direction(tensors: list) -> Any:
    """Stacks one tensor per direction on a new leading axis, ONNX's direction axis."""
    expanded = [op.Unsqueeze(t, [0]) for t in tensors]
    return op.Concat(*expanded, axis=0) if len(expanded) > 1 else expanded[0]


def _export_forward(layer: RecurrentLayer, input: Any, hx: Any = None, *, lengths: Tensor | None = None):
    """`layer.forward` while exporting: the same layouts, checks and returns, the loop one operator call."""
    if isinstance(input, PackedSequence):
        raise ValueError("input must be a padded tensor to export to ONNX, with lengths= for sequences of unequal "
                         "length; received a PackedSequence")
    if layer.proj_size:
        raise ValueError(f"ONNX's LSTM operator has no projection, so an LSTM with proj_size cannot be exported; "
                         f"received proj_size={layer.proj_size}")
    inputs = layer.prepare_inputs(input, hx, lengths=lengths)
    spec = layer.describe()
    # [] lets ONNX start from zeros itself; a given or learned state is passed as (L*D, B, ·) tensors
    initial = [] if inputs.default_initial else list(inputs.initial)
    ys, *final = torch.ops.rnnlab.recurrent(inputs.xs, inputs.lengths, initial, list(spec.weights), spec.mode.value,
                                            spec.hidden_size, spec.num_layers, spec.bidirectional, spec.bias,
                                            spec.reset_after)
    return layer.pack_outputs(inputs, ys, tuple(final))


@contextlib.contextmanager
def layers_as_operator(module: nn.Module) -> Iterator[None]:
    """Within: `module` is in eval mode and its rnnlab layers run as `rnnlab::recurrent`; both undone after."""
    modes = [(child, child.training) for child in module.modules()]
    layers = [child for child in module.modules() if isinstance(child, RecurrentLayer)]
    module.eval()
    for layer in layers:  # an instance attribute shadows the class's forward, for this layer only
        layer.forward = types.MethodType(_export_forward, layer)
    try:
        yield
    finally:
        for layer in layers:
            del layer.forward
        for child, training in modes:
            child.training = training


TRANSLATIONS = {torch.ops.rnnlab.recurrent.default: _onnx_recurrent}  # for torch.onnx.export
