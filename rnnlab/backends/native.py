"""The native backend: torch's own fused recurrent kernels (ATen/oneDNN on the CPU, cuDNN on the GPU).

It exists so that rnnlab's default is never slower than torch.nn. It runs a layer when:
1. the cell is one torch has: RNN (tanh or relu), LSTM (with or without projection), GRU with
   reset_after=True;
2. the dtype is one torch's kernels take on that device (float32/float64 on the CPU; float16,
   bfloat16, float32, float64 on CUDA).
Padded batches with `lengths` run as a PackedSequence; sequences of length 0 (which torch rejects)
run as length 1 and then take back their initial state and zero outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, _VF
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.backends.reference import func_transforms, stacked
from rnnlab.backends.spec import LayerSpec, Mode

_KERNELS = {Mode.LSTM: _VF.lstm, Mode.GRU: _VF.gru, Mode.RNN_TANH: _VF.rnn_tanh, Mode.RNN_RELU: _VF.rnn_relu}
# torch's fused one-step kernels (what torch.nn.LSTMCell & co. call); each takes (x, hx, w_ih, w_hh[, b_ih, b_hh])
_CELL_KERNELS = {Mode.LSTM: torch.lstm_cell, Mode.GRU: torch.gru_cell, Mode.RNN_TANH: torch.rnn_tanh_cell,
                 Mode.RNN_RELU: torch.rnn_relu_cell}
_DTYPES = {
    "cpu": (torch.float32, torch.float64),
    "cuda": (torch.float16, torch.bfloat16, torch.float32, torch.float64),
}


def unsupported_reason(spec: LayerSpec, xs: Tensor, lengths: Tensor | None) -> str | None:
    """Why this backend cannot run the layer `spec` describes on `xs`, or None when it can."""
    if not spec.reset_after:
        return "torch has no GRU with reset_after=False (the form of Cho et al. 2014)"
    if xs.dtype not in _DTYPES.get(xs.device.type, ()):
        return f"torch's fused kernels do not take {xs.dtype} on {xs.device.type}"
    transforms = func_transforms()
    if "Vmap" in transforms:
        return "torch's fused kernels have no batching rule for torch.func.vmap (torch.nn's layers fail there too)"
    if transforms and lengths is not None:
        return f"packing a batch by its lengths does not work under torch.func.{transforms[-1].lower()}"
    if lengths is not None and _exporting():
        return "packing a batch by its lengths reads their values, which torch.export cannot trace"
    return None


def run(spec: LayerSpec, xs: Tensor, initial: tuple[Tensor, ...], lengths: Tensor | None):
    """Runs the whole layer (all layers and directions) in one call to torch's kernel.

    Args:
        xs: (T, B, F) time-major inputs.
        initial: the initial state tensors, each (L*D, B, ·).
        lengths: (B,) or None.

    Returns:
        outputs (T, B, D*P) and the final state tensors, each (L*D, B, ·).
    """
    if _compiled_onednn_lstm_backward(spec, xs):
        return _run_eagerly(spec, xs, initial, lengths)
    kernel = _KERNELS[spec.mode]
    weights = list(spec.weights)
    options = (spec.bias, spec.num_layers, spec.dropout, spec.training, spec.bidirectional)
    # Every row full length: nothing to pack. Packing costs torch's CPU kernels 1.2x (LSTM) to 5.6x (GRU)
    # a training step on a bidirectional layer (T = 427, B = 32), and the results are the same.
    if lengths is None or bool((lengths == xs.shape[0]).all()):
        ys, *final = kernel(xs, _hx(spec, initial), weights, *options, False)
        return ys, tuple(final)

    empty = lengths == 0
    has_empty = bool(empty.any())
    if has_empty:  # their stand-in first step is padding: zero it, so NaN there cannot reach a gradient
        xs = torch.where(empty.unsqueeze(-1), xs.new_zeros(()), xs)
    packed = pack_padded_sequence(xs, lengths.clamp(min=1).cpu(), enforce_sorted=False)
    sorted_initial = tuple(t.index_select(1, packed.sorted_indices) for t in initial)
    data, *final = kernel(packed.data, packed.batch_sizes, _hx(spec, sorted_initial), weights, *options)
    output = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    ys, _ = pad_packed_sequence(output, total_length=xs.shape[0])  # back in the caller's batch order
    final = tuple(t.index_select(1, packed.unsorted_indices) for t in final)
    if has_empty:
        ys = torch.where(empty.unsqueeze(-1), ys.new_zeros(()), ys)  # (T, B, ·)
        final = tuple(torch.where(empty.unsqueeze(-1), h0, h) for h0, h in zip(initial, final))
    return ys, final


def step(spec: LayerSpec, x: Tensor, tensors: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One time step of a unidirectional layer; the signature and results of `reference.step`.

    Layer after layer through torch's fused one-step cell kernels. An LSTM with a projection (which
    those kernels lack) runs as a one-step sequence through the whole-layer kernel instead; oneDNN
    does not take projections, so that costs no set-up.
    """
    if spec.proj_size:
        ys, final = run(spec, x.unsqueeze(0), tensors, None)  # (1, B, P)
        return ys[0], final
    kernel = _CELL_KERNELS[spec.mode]
    finals = []
    for layer, weights in enumerate(spec.per_position()):  # [w_ih, w_hh, b_ih, b_hh], or [w_ih, w_hh] without bias
        if layer > 0 and spec.dropout > 0:  # torch's semantics: between layers only
            x = F.dropout(x, spec.dropout, spec.training)
        if spec.mode is Mode.LSTM:
            h, c = kernel(x, (tensors[0][layer], tensors[1][layer]), *weights)
            finals.append((h, c))
        else:
            h = kernel(x, tensors[0][layer], *weights)
            finals.append((h,))
        x = h
    return x, tuple(stacked(parts) for parts in zip(*finals))  # each (L, B, ·)


def _compiled_onednn_lstm_backward(spec: LayerSpec, xs: Tensor) -> bool:
    """True while torch.compile (not torch.export) traces an LSTM on the CPU with grad enabled.

    AOTAutograd cannot differentiate oneDNN's LSTM kernel (pytorch#158007): compiling the backward
    fails with "expected Tensor() for op: torch.ops.aten.mkldnn_rnn_layer.default". That call is
    left to eager torch instead (a graph break), as dynamo leaves torch.nn.LSTM to it.
    """
    return (spec.mode is Mode.LSTM and xs.device.type == "cpu" and torch.is_grad_enabled()
            and torch.compiler.is_compiling() and not _exporting())


@torch.compiler.disable
def _run_eagerly(spec: LayerSpec, xs: Tensor, initial: tuple[Tensor, ...], lengths: Tensor | None):
    return run(spec, xs, initial, lengths)  # not compiling in here: no recursion


def _hx(spec: LayerSpec, initial: tuple[Tensor, ...]):
    tensors = tuple(t.contiguous() for t in initial)  # a learned initial state arrives expanded
    return tensors if spec.mode is Mode.LSTM else tensors[0]


def _exporting() -> bool:
    """torch.compiler.is_exporting(), False on a torch too old to have it (it came after 2.4)."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return bool(is_exporting and is_exporting())
