"""The triton backend equals the reference: outputs, final states and every gradient.

Without a GPU the kernels run on the CPU through Triton's interpreter (TRITON_INTERPRET=1, set by
tests/conftest.py before anything imports triton), which executes the same kernel code with NumPy. Both launch
plans are checked: a whole sequence per launch (one program owns every hidden unit of its rows)
and one step per launch (programs split the hidden units). Sizes are chosen so that each plan
really splits: B = 20 rows and H = 20 units against 16-wide tiles give two blocks of each, the
second partly masked.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

import rnnlab  # noqa: E402
from rnnlab import backends  # noqa: E402
from rnnlab.backends import triton as triton_backend  # noqa: E402
from rnnlab.backends.triton import launch, table  # noqa: E402
from rnnlab.diagnostics import gradient_flow, record  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() and not triton_backend.interpreting() else "cpu"
SEQ_LEN, BATCH_SIZE, INPUT_SIZE, HIDDEN_SIZE = 5, 20, 3, 20
LAYERS = {
    "rnn_tanh": lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "rnn_relu": lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, nonlinearity="relu", **kw),
    "lstm": lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "lstm_proj": lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=7, **kw),
    "gru": lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "gru_reset_before": lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, **kw),
}
SHAPES = {"L1": dict(num_layers=1), "L2_bi": dict(num_layers=2, bidirectional=True)}
PLANS = {  # 16-wide tiles: the smallest tl.dot takes
    "whole_sequence": launch.Plan(block_b=16, block_j=16, block_k=16, unit_programs=1),
    "step_per_launch": launch.Plan(block_b=16, block_j=16, block_k=16, unit_programs=2),
}
LENGTHS = {"no_lengths": None, "with_0": [5, 0, 2] + [5, 3] * 8 + [1], "ragged": [3, 5, 1, 4] * 5}


@pytest.fixture(params=list(PLANS))
def plan(request, monkeypatch):
    monkeypatch.setattr(launch, "plan_override", lambda batch, hidden: PLANS[request.param])
    return request.param


def make_case(kind: str, dtype: torch.dtype = torch.float64, seed: int = 0, **options):
    torch.manual_seed(seed)
    layer = LAYERS[kind](dtype=dtype, device=DEVICE, **options)
    stacked = layer.num_layers * layer.num_directions
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=dtype, device=DEVICE, requires_grad=True)
    sizes = (layer.proj_size or HIDDEN_SIZE, HIDDEN_SIZE) if kind.startswith("lstm") else (HIDDEN_SIZE,)
    hx = tuple(torch.randn(stacked, BATCH_SIZE, s, dtype=dtype, device=DEVICE, requires_grad=True) for s in sizes)
    return layer, inputs, hx if len(hx) == 2 else hx[0]


def run(layer, inputs, hx, lengths, backend: str):
    """Outputs, final states and the gradients of a random weighted sum of both, under `backend`."""
    layer.backend = backend
    ys, state = layer(inputs, hx, lengths=lengths)
    states = tuple(state) if isinstance(state, tuple) else (state,)
    generator = torch.Generator().manual_seed(1)
    loss = sum((torch.randn(t.shape, generator=generator, dtype=torch.float64).to(t) * t).sum() for t in (ys, *states))
    hx = hx if isinstance(hx, tuple) else (hx,)
    names = ["input", "hx", "cx"][: 1 + len(hx)] + [name for name, _ in layer.named_parameters()]
    return ys, states, dict(zip(names, torch.autograd.grad(loss, [inputs, *hx, *layer.parameters()])))


def lengths_tensor(name: str):
    return None if LENGTHS[name] is None else torch.tensor(LENGTHS[name], device=DEVICE)


@pytest.mark.parametrize("lengths", list(LENGTHS))
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("kind", list(LAYERS))
def test_triton_equals_reference_in_float64(kind, shape, lengths, plan):
    layer, inputs, hx = make_case(kind, **SHAPES[shape])
    lengths = lengths_tensor(lengths)
    assert backends.select(layer.describe(), inputs, lengths) != "triton"  # "auto" picks it only where measured faster
    ys, states, grads = run(layer, inputs, hx, lengths, "triton")
    expected = run(layer, inputs, hx, lengths, "reference")
    assert type(ys.grad_fn).__name__ != "_BPTTBackward"  # not the reference loop under another name
    torch.testing.assert_close((ys, states, grads), expected, atol=1e-12, rtol=1e-10)
    if lengths is not None:
        assert torch.all(ys[torch.arange(SEQ_LEN, device=DEVICE).unsqueeze(1) >= lengths] == 0)


# float64 reference against the kernel in a lower precision: relative errors as METHOD.md expects
# them (float32 arithmetic far under 1e-3; 16-bit operands 1e-3..1e-2, with states stored in 16 bits)
LOW_PRECISION = {torch.float32: 1e-5, torch.bfloat16: 3e-2, torch.float16: 5e-3}


@pytest.mark.parametrize("dtype", list(LOW_PRECISION), ids=str)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_lower_precisions_are_close_to_float64(kind, dtype):
    layer, inputs, hx = make_case(kind, dtype=dtype, num_layers=2)
    lengths = lengths_tensor("ragged")
    ys, states, grads = run(layer, inputs, hx, lengths, "triton")
    reference = layer.to(torch.float64)
    hx64 = tuple(t.detach().double().requires_grad_() for t in (hx if isinstance(hx, tuple) else (hx,)))
    expected = run(reference, inputs.detach().double().requires_grad_(), hx64 if len(hx64) == 2 else hx64[0],
                   lengths, "reference")
    for got, want in zip([ys, *states, *grads.values()], [expected[0], *expected[1], *expected[2].values()]):
        assert got.dtype == dtype
        error = (got.double() - want).norm() / want.norm()
        assert error < LOW_PRECISION[dtype], f"relative error {error:.2e}"


@pytest.mark.parametrize("kind", list(LAYERS))
def test_inference_without_grad_equals_reference(kind):
    layer, inputs, hx = make_case(kind, num_layers=2, bidirectional=True)
    lengths = lengths_tensor("with_0")
    with torch.no_grad():
        layer.backend = "triton"
        ys, state = layer(inputs, hx, lengths=lengths)
        layer.backend = "reference"
        expected = layer(inputs, hx, lengths=lengths)
    torch.testing.assert_close((ys, state), expected, atol=1e-12, rtol=1e-10)


def test_padding_never_reaches_a_gradient():
    layer, inputs, hx = make_case("lstm")
    lengths = lengths_tensor("ragged")
    with torch.no_grad():
        inputs[torch.arange(SEQ_LEN).unsqueeze(1) >= lengths] = float("nan")
    ys, states, grads = run(layer, inputs, hx, lengths, "triton")
    assert all(torch.isfinite(g).all() for name, g in grads.items() if name != "input")
    assert torch.isfinite(ys).all() and all(torch.isfinite(s).all() for s in states)


@pytest.mark.parametrize("kind,gates",
                         [("lstm", "ifgoc"), ("gru", "rzn"), ("gru_reset_before", "rzn"), ("rnn_tanh", "h")])
def test_recording_reads_the_gates_the_kernel_wrote(kind, gates, plan):
    layer, inputs, hx = make_case(kind, num_layers=2, bidirectional=True)
    lengths = lengths_tensor("with_0")
    recorded = {}
    for backend in ("triton", "reference"):
        layer.backend = backend
        with record(layer, gradients=True) as recording:
            ys, _ = layer(inputs, hx, lengths=lengths)
            ys.square().sum().backward()
        recorded[backend] = recording
    name = type(layer).__name__
    assert recorded["triton"].keys() == recorded["reference"].keys()
    for key in recorded["reference"].keys():
        values = recorded["triton"].values(*key)
        assert list(values) == list(gates)
        torch.testing.assert_close(values, recorded["reference"].values(*key), atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(recorded["triton"].grads(*key), recorded["reference"].grads(*key),
                                   atol=1e-12, rtol=1e-10)
    assert name in recorded["triton"].modules()


def test_gradient_flow_of_a_projected_lstm_is_refused_by_name():
    layer, inputs, _ = make_case("lstm_proj", backend="triton")
    with pytest.raises(ValueError, match="proj_size=7"):
        gradient_flow(layer, lambda: layer(inputs)[0].sum())


@pytest.mark.parametrize("kind", ["lstm", "lstm_proj", "gru_reset_before"])
def test_streaming_steps_through_the_kernels(kind):
    layer, inputs, hx = make_case(kind, num_layers=2, backend="triton")
    expected, expected_state = layer(inputs, hx)
    state, outputs = hx, []
    for x in inputs:
        y, state = layer.step(x, state)
        outputs.append(y)
    as_tuple = lambda s: tuple(s) if isinstance(s, tuple) else (s,)  # noqa: E731
    torch.testing.assert_close((torch.stack(outputs), as_tuple(state)), (expected, as_tuple(expected_state)),
                               atol=1e-12, rtol=1e-10)


def test_forced_triton_on_the_cpu_without_the_interpreter_says_why(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    layer, inputs, _ = make_case("gru", backend="triton")
    with pytest.raises(ValueError, match="backend='triton' cannot run.*CUDA tensors; received a tensor on cpu"):
        layer(inputs.cpu())


@pytest.mark.skipif(torch.cuda.is_available(), reason="about the interpreter on a machine without a GPU")
def test_interpreter_chosen_after_triton_was_imported_is_refused_with_the_fix():
    script = ("import os, triton.language, torch, rnnlab\n"
              "os.environ['TRITON_INTERPRET'] = '1'\n"
              "rnnlab.GRU(3, 4, backend='triton')(torch.randn(2, 1, 3))\n")
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "TRITON_INTERPRET=1 was set after triton was imported" in result.stderr


def test_auto_never_picks_triton_without_a_measurement():
    assert table.MEASURED == ()  # no GPU has measured the kernels yet: see table.py
    layer, inputs, _ = make_case("lstm")
    assert backends.select(layer.describe(), inputs, None) in ("native", "reference")
    assert not table.faster_than_native("LSTM", torch.float32, 16, 512, training=False)


def test_the_table_picks_triton_only_near_a_measured_speedup():
    rows = (table.Measured("LSTM", torch.float16, False, 16, 512, 3.2, "test"),
            table.Measured("GRU", torch.float16, False, 16, 512, 1.05, "test"))
    assert table.faster_than_native("LSTM", torch.float16, 16, 512, False, rows)
    assert table.faster_than_native("LSTM", torch.float16, 32, 256, False, rows)  # within a factor of two
    assert not table.faster_than_native("LSTM", torch.float16, 128, 512, False, rows)  # batch too far
    assert not table.faster_than_native("LSTM", torch.float16, 16, 512, True, rows)  # training not measured
    assert not table.faster_than_native("LSTM", torch.float32, 16, 512, False, rows)  # other dtype
    assert not table.faster_than_native("GRU", torch.float16, 16, 512, False, rows)  # under the margin


@pytest.mark.parametrize("batch,hidden", [(1, 1), (1, 256), (64, 512), (512, 2048), (33, 64), (7, 65)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_default_plans_cover_every_row_and_unit_with_legal_tiles(batch, hidden, dtype):
    p = launch.plan(batch, hidden, dtype)
    assert min(p.block_b, p.block_j, p.block_k) >= 16  # tl.dot's smallest
    assert p.unit_programs * p.block_j >= hidden
    assert p.whole_sequence == (p.unit_programs == 1)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_a_gradient_s_gradient_is_refused_with_what_to_use_instead(kind):
    """The kernels' backward is first-order only: create_graph=True is a clear error, never a silent zero."""
    layer, inputs, hx = make_case(kind, backend="triton")
    ys, _ = layer(inputs, hx)
    with pytest.raises(RuntimeError, match="backend='triton' computes first-order gradients only.*'reference' or "
                                           "'native'"):
        torch.autograd.grad(ys.pow(2).sum(), inputs, create_graph=True)
    ys, _ = layer(inputs, hx)
    assert torch.autograd.grad(ys.pow(2).sum(), inputs)[0].shape == inputs.shape  # first order still works
