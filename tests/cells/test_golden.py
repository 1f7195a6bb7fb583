"""Golden values: tiny cases with constant parameters, the expected numbers worked out by hand.

These do not consult torch, so a regression shows even if torch's own results change. Every
weight in a gate's block of rows holds one constant (a different one per gate, so a swapped gate
order changes the numbers); each bias is 0.05; the input is all ones (F = 3) and the initial
state zero, so every hidden unit holds the same value and one scalar recursion gives them all:
the pre-activation of gate k is  3·a_k + 0.05 + 0.05 + (size of h)·u_k·h  for input weights a_k and
recurrent weights u_k.
"""

from __future__ import annotations

import math

import pytest
import torch

import rnnlab

INPUT_SIZE, HIDDEN_SIZE, SEQ_LEN = 3, 2, 2

# torch's own warning, raised inside its kernel for float32 LSTM with projections
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def fill(module: torch.nn.Module, input_weights: list[float], recurrent_weights: list[float],
         projection: float | None = None) -> None:
    """Constant parameters: block k of W_ih's rows is input_weights[k], of W_hh's recurrent_weights[k]."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.fill_(0.05)
            elif name.startswith("weight_hr"):
                p.fill_(projection)
            else:
                constants = input_weights if name.startswith("weight_ih") else recurrent_weights
                for block, value in zip(p.chunk(len(constants)), constants, strict=True):
                    block.fill_(value)


def rnn_expected(nonlinearity: str) -> list[float]:
    phi = math.tanh if nonlinearity == "tanh" else (lambda v: max(v, 0.0))
    h1 = phi(3 * 0.1 + 0.1)              # tanh(0.4) or 0.4
    h2 = phi(3 * 0.1 + 0.1 + 2 * 0.2 * h1)
    return [h1, h2]


def lstm_expected(proj: bool) -> list[float]:
    # a = (i 0.1, f 0.2, g 0.3, o 0.4), u = (i -0.1, f 0.1, g 0.2, o -0.2); with proj: P = 1, W_hr = 0.3
    width = 1 if proj else 2
    h, c, hs = 0.0, 0.0, []
    for _ in range(SEQ_LEN):
        i = sigmoid(3 * 0.1 + 0.1 + width * -0.1 * h)
        f = sigmoid(3 * 0.2 + 0.1 + width * 0.1 * h)
        g = math.tanh(3 * 0.3 + 0.1 + width * 0.2 * h)
        o = sigmoid(3 * 0.4 + 0.1 + width * -0.2 * h)
        c = f * c + i * g
        h = o * math.tanh(c)
        if proj:
            h = 2 * 0.3 * h  # W_hr (1, 2) of 0.3s times two equal units
        hs.append(h)
    return hs


def gru_expected(reset_after: bool) -> list[float]:
    # a = (r 0.1, z 0.2, n 0.3), u = (r 0.2, z -0.1, n 0.4)
    h, hs = 0.0, []
    for _ in range(SEQ_LEN):
        r = sigmoid(3 * 0.1 + 0.1 + 2 * 0.2 * h)
        z = sigmoid(3 * 0.2 + 0.1 + 2 * -0.1 * h)
        if reset_after:
            n = math.tanh(3 * 0.3 + 0.05 + r * (2 * 0.4 * h + 0.05))
        else:
            n = math.tanh(3 * 0.3 + 0.05 + 2 * 0.4 * (r * h) + 0.05)
        h = (1 - z) * n + z * h
        hs.append(h)
    return hs


CASES = {
    "rnn_tanh": (lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, **kw), [0.1], [0.2], None, rnn_expected("tanh")),
    "rnn_relu": (lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, nonlinearity="relu", **kw), [0.1], [0.2], None,
                 rnn_expected("relu")),
    "lstm": (lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, **kw), [0.1, 0.2, 0.3, 0.4], [-0.1, 0.1, 0.2, -0.2],
             None, lstm_expected(proj=False)),
    "lstm_proj": (lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=1, **kw), [0.1, 0.2, 0.3, 0.4],
                  [-0.1, 0.1, 0.2, -0.2], 0.3, lstm_expected(proj=True)),
    "gru": (lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw), [0.1, 0.2, 0.3], [0.2, -0.1, 0.4], None,
            gru_expected(reset_after=True)),
    "gru_reset_before": (lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, **kw), [0.1, 0.2, 0.3],
                         [0.2, -0.1, 0.4], None, gru_expected(reset_after=False)),
}


def test_relu_golden_values_are_exact():
    assert rnn_expected("relu") == pytest.approx([0.4, 0.56], abs=1e-15)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("kind", list(CASES))
def test_layer_golden_values(kind, backend, dtype):
    make, input_weights, recurrent_weights, projection, expected = CASES[kind]
    layer = make(backend=backend, dtype=dtype)
    fill(layer, input_weights, recurrent_weights, projection)
    ys, state = layer(torch.ones(SEQ_LEN, 1, INPUT_SIZE, dtype=dtype))
    width = 1 if projection else HIDDEN_SIZE
    expected_ys = torch.tensor(expected, dtype=torch.float64).view(SEQ_LEN, 1, 1).expand(SEQ_LEN, 1, width)
    tolerance = dict(atol=1e-12, rtol=1e-12) if dtype == torch.float64 else dict(atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ys.double(), expected_ys, **tolerance)
    h_n = state.h if isinstance(state, tuple) else state
    torch.testing.assert_close(h_n.double(), expected_ys[-1:], **tolerance)


@pytest.mark.parametrize("kind", list(CASES))
def test_cell_golden_values(kind):
    make, input_weights, recurrent_weights, projection, expected = CASES[kind]
    cell_type, options = {
        "rnn_tanh": (rnnlab.RNNCell, {}), "rnn_relu": (rnnlab.RNNCell, dict(nonlinearity="relu")),
        "lstm": (rnnlab.LSTMCell, {}), "lstm_proj": (rnnlab.LSTMCell, dict(proj_size=1)),
        "gru": (rnnlab.GRUCell, {}), "gru_reset_before": (rnnlab.GRUCell, dict(reset_after=False)),
    }[kind]
    cell = cell_type(INPUT_SIZE, HIDDEN_SIZE, dtype=torch.float64, **options)
    fill(cell, input_weights, recurrent_weights, projection)
    state = None
    for t in range(SEQ_LEN):
        state = cell(torch.ones(1, INPUT_SIZE, dtype=torch.float64), state)
        h = state.h if isinstance(state, tuple) else state
        torch.testing.assert_close(h, torch.full_like(h, expected[t]), atol=1e-12, rtol=1e-12)


def test_lstm_cell_state_golden_value():
    """c after one step from zero: c1 = σ(0.4)·tanh(1.0) (f·c vanishes with c0 = 0)."""
    cell = rnnlab.LSTMCell(INPUT_SIZE, HIDDEN_SIZE, dtype=torch.float64)
    fill(cell, [0.1, 0.2, 0.3, 0.4], [-0.1, 0.1, 0.2, -0.2])
    state = cell(torch.ones(1, INPUT_SIZE, dtype=torch.float64))
    torch.testing.assert_close(state.c, torch.full_like(state.c, sigmoid(0.4) * math.tanh(1.0)), atol=1e-12, rtol=1e-12)
