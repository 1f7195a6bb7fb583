"""`RecurrentLayer.step`: a stream stepped one time step at a time equals `forward` on it whole.

The oracle is the layer's own `forward` on the whole sequence (itself tested against torch.nn in
tests/parity), with the same parameters; `step` runs either torch's fused one-step kernels or the
cells' equations (backend "auto"/"native" or "reference"), and both must agree with it to 1e-6.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import Tensor

import rnnlab
from rnnlab.backends import native
from rnnlab.backends.spec import Mode
from rnnlab.layers import streaming

NUM_STEPS, BATCH_SIZE, INPUT_SIZE, HIDDEN_SIZE = 7, 3, 4, 5
TOL = dict(rtol=0.0, atol=1e-6)  # the promise: streaming equals batch to 1e-6
KINDS = {
    "rnn_tanh": lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "rnn_relu": lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, nonlinearity="relu", **kw),
    "lstm": lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "lstm_proj": lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=3, **kw),
    "gru": lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "gru_reset_before": lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, **kw),
}


def build(kind: str, *, dtype=torch.float64, **options):
    torch.manual_seed(0)
    return KINDS[kind](dtype=dtype, **options).eval()


def as_tuple(state) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def stream(layer, xs: Tensor, state=None, resets: dict[int, Tensor] | None = None):
    """Steps layer over xs (T, B, F); returns the stacked outputs (T, B, P) and the last state."""
    outputs = []
    for t in range(xs.shape[0]):
        y, state = layer.step(xs[t], state, reset=(resets or {}).get(t))
        outputs.append(y)
    return torch.stack(outputs), state


def randomise_initial_state(layer) -> None:
    with torch.no_grad():
        for name in ("initial_h", "initial_c"):
            if hasattr(layer, name):
                getattr(layer, name).normal_()


@pytest.mark.parametrize("backend", ["auto", "reference"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_streaming_equals_forward_float64(kind, num_layers, backend):
    layer = build(kind, num_layers=num_layers, backend=backend)
    xs = torch.randn(NUM_STEPS, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    ys, final = layer(xs)
    ys_streamed, final_streamed = stream(layer, xs)
    torch.testing.assert_close(ys_streamed, ys, **TOL)
    assert type(final_streamed) is type(final)  # an LSTMState for the LSTM, a tensor otherwise
    torch.testing.assert_close(as_tuple(final_streamed), as_tuple(final), **TOL)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")  # torch's, once
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "lstm_proj"])
def test_streaming_equals_forward_float32_over_many_steps(kind):
    torch.manual_seed(0)
    layer = KINDS[kind](num_layers=2).eval()  # float32, backend "auto": forward runs torch's whole-sequence kernel
    xs = torch.randn(60, 2, INPUT_SIZE)
    with torch.no_grad():
        ys, final = layer(xs)
        ys_streamed, final_streamed = stream(layer, xs)
    torch.testing.assert_close(ys_streamed, ys, **TOL)
    torch.testing.assert_close(as_tuple(final_streamed), as_tuple(final), **TOL)


@pytest.mark.parametrize("kind", ["lstm", "lstm_proj", "gru"])
def test_forced_native_backend_steps_and_equals_forward(kind):
    layer = build(kind, num_layers=2, backend="native")
    xs = torch.randn(NUM_STEPS, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    ys, _ = layer(xs)
    torch.testing.assert_close(stream(layer, xs)[0], ys, **TOL)


@pytest.mark.parametrize("kind", ["lstm", "lstm_proj", "gru", "rnn_tanh"])
def test_learned_initial_state_is_where_streams_start(kind):
    layer = build(kind, num_layers=2, learn_initial_state=True)
    randomise_initial_state(layer)
    xs = torch.randn(NUM_STEPS, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    ys, final = layer(xs)
    ys_streamed, final_streamed = stream(layer, xs)
    torch.testing.assert_close(ys_streamed, ys, **TOL)
    torch.testing.assert_close(as_tuple(final_streamed), as_tuple(final), **TOL)


def test_state_from_forward_continues_by_step_and_layout_does_not_matter():
    layer = build("lstm", num_layers=2, batch_first=True)
    xs = torch.randn(BATCH_SIZE, NUM_STEPS, INPUT_SIZE, dtype=torch.float64)  # (B, T, F)
    ys, final = layer(xs)
    _, state = layer(xs[:, :3])  # read a history whole, then go on step by step
    outputs = []
    for t in range(3, NUM_STEPS):
        y, state = layer.step(xs[:, t], state)
        outputs.append(y)
    torch.testing.assert_close(torch.stack(outputs, dim=1), ys[:, 3:], **TOL)
    torch.testing.assert_close(as_tuple(state), as_tuple(final), **TOL)


@pytest.mark.parametrize("backend", ["auto", "reference"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_relu", "lstm_proj"])
def test_reset_starts_a_new_stream_in_one_row_while_the_others_carry_on(kind, backend):
    layer = build(kind, num_layers=2, backend=backend, learn_initial_state=True)
    randomise_initial_state(layer)  # so that a reset to zeros would be caught
    first, second, other = (torch.randn(n, 1, INPUT_SIZE, dtype=torch.float64) for n in (3, 5, 8))
    # row 0: one stream of 8 steps; row 1: a stream of 3 steps, then a new one of 5 from step 3
    xs = torch.cat([other, torch.cat([first, second])], dim=1)  # (8, 2, F)
    reset = torch.tensor([False, True])
    ys_streamed, final = stream(layer, xs, resets={3: reset})

    for row, (pieces, starts) in enumerate([((other,), (0,)), ((first, second), (0, 3))]):
        for piece, start in zip(pieces, starts):
            ys, piece_final = layer(piece)  # the stream alone, from the initial state
            torch.testing.assert_close(ys_streamed[start:start + len(piece), row:row + 1], ys, **TOL)
        for tensor, alone in zip(as_tuple(final), as_tuple(piece_final)):
            torch.testing.assert_close(tensor[:, row:row + 1], alone, **TOL)


def test_reset_rows_false_changes_nothing_and_reset_from_none_is_the_initial_state():
    layer = build("gru", num_layers=2)
    xs = torch.randn(NUM_STEPS, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    no_reset = torch.zeros(BATCH_SIZE, dtype=torch.bool)
    ys_plain, _ = stream(layer, xs)
    ys_flags, _ = stream(layer, xs, resets={t: no_reset for t in range(NUM_STEPS)})
    torch.testing.assert_close(ys_flags, ys_plain, rtol=0.0, atol=0.0)
    y, _ = layer.step(xs[0], None, reset=torch.ones(BATCH_SIZE, dtype=torch.bool))
    torch.testing.assert_close(y, ys_plain[0], rtol=0.0, atol=0.0)


@pytest.mark.parametrize("backend", ["auto", "reference"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "lstm_proj"])
def test_gradients_through_steps_equal_forward_gradients(kind, backend):
    layer = build(kind, num_layers=2, backend=backend, learn_initial_state=True)
    randomise_initial_state(layer)
    xs = torch.randn(NUM_STEPS, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(NUM_STEPS, BATCH_SIZE, layer.proj_size or HIDDEN_SIZE, dtype=torch.float64)
    wrt = [xs, *layer.parameters()]
    grads = torch.autograd.grad((layer(xs)[0] * weights).sum(), wrt)
    grads_streamed = torch.autograd.grad((stream(layer, xs)[0] * weights).sum(), wrt)
    for name, g_streamed, g in zip(["input", *dict(layer.named_parameters())], grads_streamed, grads):
        torch.testing.assert_close(g_streamed, g, **TOL, msg=lambda text, name=name: f"{name}: {text}")


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_training_mode_dropout_acts_between_layers_at_every_step(backend):
    # dropout = 1 makes training-mode dropout deterministic: layer 2 reads zeros at every step,
    # in forward as in step, so the two can be compared number for number
    layer = build("lstm", num_layers=2, dropout=1.0, backend=backend).train()
    xs = torch.randn(NUM_STEPS, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    ys, _ = layer(xs)
    ys_streamed, _ = stream(layer, xs)
    torch.testing.assert_close(ys_streamed, ys, **TOL)
    torch.testing.assert_close(ys_streamed, stream(layer, torch.randn_like(xs))[0], **TOL)  # input cannot reach
    assert not torch.allclose(stream(layer.eval(), xs)[0], ys)  # in eval mode it does


def test_native_step_uses_the_fused_cell_kernels_not_the_whole_sequence_kernel(monkeypatch):
    layer = build("lstm", num_layers=2)
    calls = []
    monkeypatch.setattr(native, "run", lambda *args: calls.append(args))
    monkeypatch.setitem(native._CELL_KERNELS, Mode.LSTM, _counting(torch.lstm_cell, calls))
    layer.step(torch.randn(BATCH_SIZE, INPUT_SIZE, dtype=torch.float64))
    assert calls == ["cell", "cell"]  # one fused step per layer


def _counting(kernel, calls):
    def wrapped(*args):
        calls.append("cell")
        return kernel(*args)
    return wrapped


def pattern(name: str, value: str) -> str:
    return re.escape(name) + ".*" + re.escape(value)


def x(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


ERROR_CASES = {
    "bidirectional": (lambda: rnnlab.LSTM(4, 5, bidirectional=True).step(x(2, 4)), ValueError,
                      "bidirectional", "received bidirectional=True"),
    "x_1d": (lambda: rnnlab.GRU(4, 5).step(x(4)), ValueError, "x", "received shape (4,)"),
    "x_3d": (lambda: rnnlab.GRU(4, 5).step(x(1, 2, 4)), ValueError, "x", "received shape (1, 2, 4)"),
    "x_features": (lambda: rnnlab.RNN(4, 5).step(x(2, 6)), ValueError, "input_size=4", "received shape (2, 6)"),
    "x_dtype": (lambda: rnnlab.LSTM(4, 5).step(x(2, 4, dtype=torch.float64)), TypeError, "x", "torch.float64"),
    "x_not_tensor": (lambda: rnnlab.LSTM(4, 5).step([[0.0] * 4]), TypeError, "x", "list"),
    "state_shape": (lambda: rnnlab.GRU(4, 5, num_layers=2).step(x(2, 4), torch.zeros(1, 2, 5)), ValueError,
                    "state", "received (1, 2, 5)"),
    "state_batch": (lambda: rnnlab.GRU(4, 5).step(x(2, 4), torch.zeros(1, 3, 5)), ValueError, "state",
                    "received (1, 3, 5)"),
    "state_dtype": (lambda: rnnlab.RNN(4, 5).step(x(2, 4), torch.zeros(1, 2, 5, dtype=torch.float64)), TypeError,
                    "state", "torch.float64"),
    "state_tuple_for_gru": (lambda: rnnlab.GRU(4, 5).step(x(2, 4), (torch.zeros(1, 2, 5),)), TypeError, "state",
                            "tuple"),
    "lstm_state_tensor": (lambda: rnnlab.LSTM(4, 5).step(x(2, 4), torch.zeros(1, 2, 5)), TypeError, "state",
                          "Tensor"),
    "lstm_c_shape": (lambda: rnnlab.LSTM(4, 5).step(x(2, 4), (torch.zeros(1, 2, 5), torch.zeros(1, 2, 4))),
                     ValueError, "state[1]", "received (1, 2, 4)"),
    "lstm_proj_h_size": (lambda: rnnlab.LSTM(4, 5, proj_size=2).step(x(2, 4), (torch.zeros(1, 2, 5),
                                                                               torch.zeros(1, 2, 5))),
                         ValueError, "state[0]", "received (1, 2, 5)"),
    "reset_dtype": (lambda: rnnlab.GRU(4, 5).step(x(2, 4), torch.zeros(1, 2, 5), reset=torch.tensor([0, 1])),
                    TypeError, "reset", "torch.int64"),
    "reset_shape": (lambda: rnnlab.GRU(4, 5).step(x(2, 4), torch.zeros(1, 2, 5), reset=torch.tensor([True])),
                    ValueError, "reset", "received (1,)"),
    "reset_shape_without_state": (lambda: rnnlab.GRU(4, 5).step(x(2, 4), reset=[True, False, True]), ValueError,
                                  "reset", "received (3,)"),
    "forced_native_reset_before": (lambda: rnnlab.GRU(4, 5, reset_after=False, backend="native").step(x(2, 4)),
                                   ValueError, "backend='native'", "reset_after=False"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_step_argument(case):
    call, error, name, value = ERROR_CASES[case]
    with pytest.raises(error, match=pattern(name, value)):
        call()


def test_reset_given_as_a_list_of_bools_is_taken():
    layer = build("gru")
    xs = torch.randn(2, 2, INPUT_SIZE, dtype=torch.float64)
    _, state = layer.step(xs[0])
    y, _ = layer.step(xs[1], state, reset=[True, False])
    torch.testing.assert_close(y[0], layer.step(xs[1, :1])[0][0], rtol=0.0, atol=0.0)
