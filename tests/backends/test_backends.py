"""Backends equal the reference on identical parameters, and the choice between them is checked.

"auto" and "native" run torch's fused kernels where they can; "reference" is the oracle (itself
tested against torch.nn in tests/parity). Each case builds one layer, runs it under each backend
by switching `layer.backend`, and compares outputs, final states and every gradient.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import rnnlab
from rnnlab import backends
from rnnlab.backends import reference

SEQ_LEN, BATCH_SIZE, INPUT_SIZE, HIDDEN_SIZE = 5, 4, 3, 4
TOLERANCES = {torch.float64: dict(atol=1e-10, rtol=1e-10), torch.float32: dict(atol=1e-5, rtol=1e-4)}

LAYERS = {
    "rnn_tanh": lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "rnn_relu": lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, nonlinearity="relu", **kw),
    "lstm": lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "lstm_proj": lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=2, **kw),
    "gru": lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw),
}
SHAPES = {
    "L1": dict(num_layers=1, bidirectional=False),
    "L2_bi": dict(num_layers=2, bidirectional=True),
}
# torch's own warning, raised inside its kernel for float32 LSTM with projections (nn.LSTM raises it too)
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

# full_lengths: every row T steps, which the native backend runs unpacked (the same numbers, faster)
LENGTHS = {"no_lengths": None, "full_lengths": [5, 5, 5, 5], "lengths_with_0": [5, 0, 2, 0],
           "ragged": [3, 5, 1, 4]}


def run(layer, inputs: Tensor, hx, lengths, backend: str):
    """Outputs, final state tensors and the gradients of a fixed weighted loss, under `backend`."""
    layer.backend = backend
    ys, state = layer(inputs, hx, lengths=lengths)
    states = tuple(state) if isinstance(state, tuple) else (state,)
    generator = torch.Generator().manual_seed(1)
    loss = sum((torch.randn(t.shape, generator=generator, dtype=torch.float64).to(t) * t).sum()
               for t in (ys, *states))
    wrt = [inputs, *hx, *layer.parameters()] if isinstance(hx, tuple) else [inputs, hx, *layer.parameters()]
    keys = ["input", "hx", "cx"][: len(wrt) - len(list(layer.parameters()))] + [n for n, _ in layer.named_parameters()]
    return ys, states, dict(zip(keys, torch.autograd.grad(loss, wrt)))


def make_case(kind: str, shape: str, dtype: torch.dtype, device: str = "cpu"):
    torch.manual_seed(0)
    layer = LAYERS[kind](dtype=dtype, device=device, **SHAPES[shape])
    num_stacked = layer.num_layers * layer.num_directions
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=dtype, device=device, requires_grad=True)
    sizes = (layer.proj_size or HIDDEN_SIZE, HIDDEN_SIZE) if kind.startswith("lstm") else (HIDDEN_SIZE,)
    hx = tuple(torch.randn(num_stacked, BATCH_SIZE, s, dtype=dtype, device=device, requires_grad=True) for s in sizes)
    return layer, inputs, hx if len(hx) == 2 else hx[0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("backend", ["auto", "native"])
@pytest.mark.parametrize("lengths", list(LENGTHS))
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("kind", list(LAYERS))
def test_backend_equals_reference(kind, shape, lengths, backend, dtype):
    layer, inputs, hx = make_case(kind, shape, dtype)
    lengths = None if LENGTHS[lengths] is None else torch.tensor(LENGTHS[lengths])
    assert backends.select(layer.describe(), inputs, lengths) == "native"  # the comparison below is not reference vs itself

    ys, states, grads = run(layer, inputs, hx, lengths, backend)
    ys_ref, states_ref, grads_ref = run(layer, inputs, hx, lengths, "reference")
    assert ys.grad_fn is not None and type(ys.grad_fn) is not reference._BPTT._backward_cls
    torch.testing.assert_close(ys, ys_ref, **TOLERANCES[dtype])
    torch.testing.assert_close(states, states_ref, **TOLERANCES[dtype])
    torch.testing.assert_close(grads, grads_ref, **TOLERANCES[dtype])
    if lengths is not None:
        padding = torch.arange(SEQ_LEN).unsqueeze(1) >= lengths  # (T, B)
        assert torch.all(ys[padding] == 0)


def test_select_reference_when_forced():
    layer = rnnlab.LSTM(3, 4, backend="reference")
    assert backends.select(layer.describe(), torch.zeros(2, 1, 3), None) == "reference"


def test_forced_native_refuses_gru_reset_before():
    layer = rnnlab.GRU(3, 4, reset_after=False, backend="native")  # construction is fine: the check is per call
    with pytest.raises(ValueError, match=r"backend='native'.*reset_after=False"):
        layer(torch.randn(5, 2, 3))


def test_auto_falls_back_for_gru_reset_before():
    torch.manual_seed(0)
    layer = rnnlab.GRU(3, 4, num_layers=2, reset_after=False, dtype=torch.float64)
    inputs = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    assert layer.backend == "auto"
    assert backends.select(layer.describe(), inputs, None) == "reference"
    ys, h_n = layer(inputs)
    assert type(ys.grad_fn) is reference._BPTT._backward_cls  # the last layer ran on the reference loop
    layer.backend = "reference"
    ys_ref, h_n_ref = layer(inputs)
    torch.testing.assert_close((ys, h_n), (ys_ref, h_n_ref), atol=0, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_auto_falls_back_for_dtypes_the_kernels_lack(kind):
    layer = LAYERS[kind](dtype=torch.bfloat16)
    inputs = torch.randn(5, 2, INPUT_SIZE, dtype=torch.bfloat16)
    assert backends.select(layer.describe(), inputs, None) == "reference"
    ys, _ = layer(inputs)
    assert ys.dtype == torch.bfloat16 and torch.isfinite(ys).all()
    layer.backend = "native"
    with pytest.raises(ValueError, match=r"backend='native'.*bfloat16"):
        layer(inputs)


@pytest.mark.parametrize("make_layer", [rnnlab.RNN, rnnlab.LSTM, rnnlab.GRU])
def test_unknown_backend_at_construction(make_layer):
    with pytest.raises(ValueError, match=r"backend.*'cudnn'"):
        make_layer(3, 4, backend="cudnn")


@pytest.mark.parametrize("make_layer", [rnnlab.RNN, rnnlab.LSTM, rnnlab.GRU])
def test_unknown_backend_on_assignment(make_layer):
    layer = make_layer(3, 4, backend="reference")
    with pytest.raises(ValueError, match=r"backend.*'cudnn'"):
        layer.backend = "cudnn"
    assert layer.backend == "reference"  # a refused value leaves the old one
    layer.backend = "native"
    assert layer.backend == "native"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("lengths", list(LENGTHS))
@pytest.mark.parametrize("kind", list(LAYERS))
def test_native_on_cuda_equals_reference_on_cpu(kind, lengths):
    layer, inputs, hx = make_case(kind, "L2_bi", torch.float64, device="cuda")
    lengths = None if LENGTHS[lengths] is None else torch.tensor(LENGTHS[lengths])
    ys, states, grads = run(layer, inputs, hx, lengths, "native")

    layer_cpu = layer.to("cpu")  # the same parameters, moved
    inputs_cpu = inputs.detach().cpu().requires_grad_()
    hx_cpu = tuple(t.detach().cpu().requires_grad_() for t in hx) if isinstance(hx, tuple) else \
        hx.detach().cpu().requires_grad_()
    ys_ref, states_ref, grads_ref = run(layer_cpu, inputs_cpu, hx_cpu, lengths, "reference")
    torch.testing.assert_close(ys.cpu(), ys_ref, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(tuple(t.cpu() for t in states), states_ref, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close({k: g.cpu() for k, g in grads.items()}, grads_ref, atol=1e-9, rtol=1e-9)
