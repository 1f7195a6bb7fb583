"""rnnlab.RNNCell / LSTMCell / GRUCell against torch.nn's cells, in float64.

Each cell is built by `from_torch` from the torch cell; both take one step on the same input and
state, and outputs and the gradients of the input, the state and every parameter are compared.
`gates()` is checked against the gate equations written out here, and `update(gates(...))`
against torch's step.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnlab

INPUT_SIZE, HIDDEN_SIZE, BATCH_SIZE = 3, 4, 2
ATOL = RTOL = 1e-10
CELL_KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")


def build_torch_cell(kind: str, bias: bool = True) -> nn.Module:
    options = dict(bias=bias, dtype=torch.float64)
    if kind.startswith("rnn"):
        return nn.RNNCell(INPUT_SIZE, HIDDEN_SIZE, nonlinearity=kind[4:], **options)
    cell_type = nn.LSTMCell if kind == "lstm" else nn.GRUCell
    return cell_type(INPUT_SIZE, HIDDEN_SIZE, **options)


def as_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("with_hx", [False, True], ids=["nohx", "hx"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_cell_matches_torch(kind, bias, batched, with_hx):
    torch.manual_seed(0)
    reference = build_torch_cell(kind, bias)
    ours = rnnlab.from_torch(reference)
    assert type(ours).__name__ == type(reference).__name__

    batch = (BATCH_SIZE,) if batched else ()
    x = torch.randn(*batch, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    num_state = 2 if kind == "lstm" else 1
    hx = None
    if with_hx:
        hx = tuple(torch.randn(*batch, HIDDEN_SIZE, dtype=torch.float64, requires_grad=True) for _ in range(num_state))
    hx_arg = hx if hx is None or num_state == 2 else hx[0]

    state = as_tuple(ours(x, hx_arg))
    state_ref = as_tuple(reference(x, hx_arg))
    if kind == "lstm":
        assert isinstance(ours(x, hx_arg), rnnlab.LSTMState)
    assert [t.shape for t in state] == [(*batch, HIDDEN_SIZE)] * num_state
    torch.testing.assert_close(state, state_ref, atol=ATOL, rtol=RTOL)

    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(t.shape, dtype=torch.float64, generator=generator) for t in state]
    names = [name for name, _ in reference.named_parameters()]
    assert names == [name for name, _ in ours.named_parameters()]
    wrt = [x, *(hx or ()), *ours.parameters()]
    wrt_ref = [x, *(hx or ()), *reference.parameters()]
    keys = ["x", *(f"hx[{k}]" for k in range(len(hx or ()))), *names]
    grads = dict(zip(keys, torch.autograd.grad(sum((w * t).sum() for w, t in zip(weights, state)), wrt)))
    grads_ref = dict(zip(keys, torch.autograd.grad(sum((w * t).sum() for w, t in zip(weights, state_ref)), wrt_ref)))
    torch.testing.assert_close(grads, grads_ref, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_projected_lstm_cell_matches_one_step_of_torch_lstm(bias):
    """torch has no LSTMCell with proj_size; one step of nn.LSTM(proj_size=P) is the oracle."""
    torch.manual_seed(0)
    proj_size = 2
    reference = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=proj_size, bias=bias, dtype=torch.float64)
    ours = rnnlab.LSTMCell(INPUT_SIZE, HIDDEN_SIZE, bias=bias, proj_size=proj_size, dtype=torch.float64)
    ours.load_state_dict({name[: -len("_l0")]: p for name, p in reference.state_dict().items()}, strict=True)

    x = torch.randn(BATCH_SIZE, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    h = torch.randn(BATCH_SIZE, proj_size, dtype=torch.float64, requires_grad=True)
    c = torch.randn(BATCH_SIZE, HIDDEN_SIZE, dtype=torch.float64, requires_grad=True)
    state = ours(x, (h, c))
    _, (h_ref, c_ref) = reference(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
    assert state.h.shape == (BATCH_SIZE, proj_size) and state.c.shape == (BATCH_SIZE, HIDDEN_SIZE)
    torch.testing.assert_close(tuple(state), (h_ref[0], c_ref[0]), atol=ATOL, rtol=RTOL)

    loss = (state.h * torch.linspace(-1, 1, proj_size, dtype=torch.float64)).sum() + (state.c * 0.3).sum()
    loss_ref = (h_ref[0] * torch.linspace(-1, 1, proj_size, dtype=torch.float64)).sum() + (c_ref[0] * 0.3).sum()
    grads = torch.autograd.grad(loss, [x, h, c, *ours.parameters()])
    grads_ref = torch.autograd.grad(loss_ref, [x, h, c, *reference.parameters()])
    torch.testing.assert_close(grads, grads_ref, atol=ATOL, rtol=RTOL)


def expected_gates(kind: str, cell, x, state) -> tuple:
    """The gate activations of one step, written out from the cell's equations."""
    h = state[0] if isinstance(state, tuple) else state
    z = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    if kind.startswith("rnn"):
        return (torch.tanh(z) if kind == "rnn_tanh" else torch.relu(z),)
    if kind == "lstm":
        z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
        return torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    x_r, x_z, x_n = (x @ cell.weight_ih.T + cell.bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ cell.weight_hh.T + cell.bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return r, z, torch.tanh(x_n + r * h_n), h_n


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_gates_then_update_equals_torch_step(kind):
    torch.manual_seed(0)
    reference = build_torch_cell(kind)
    ours = rnnlab.from_torch(reference)
    x = torch.randn(BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    state = ours.init_state(BATCH_SIZE, dtype=torch.float64)
    state = ours.state_from_tensors(tuple(torch.randn_like(t) for t in as_tuple(state)))

    gates = ours.gates(x, state)
    gate_type = {"lstm": rnnlab.LSTMGates, "gru": rnnlab.GRUGates}.get(kind, rnnlab.RNNGates)
    assert isinstance(gates, gate_type)
    torch.testing.assert_close(tuple(gates), expected_gates(kind, ours, x, state), atol=ATOL, rtol=RTOL)

    stepped = ours.update(gates, state)
    torch.testing.assert_close(as_tuple(stepped), as_tuple(reference(x, state)), atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(as_tuple(stepped), as_tuple(ours(x, state)), atol=0, rtol=0)


def test_named_state_and_gate_fields():
    assert rnnlab.LSTMState._fields == ("h", "c")
    assert rnnlab.LSTMGates._fields == ("i", "f", "g", "o")
    assert rnnlab.GRUGates._fields[:3] == ("r", "z", "n")
    assert rnnlab.RNNGates._fields == ("h",)

    torch.manual_seed(0)
    reference = nn.LSTMCell(INPUT_SIZE, HIDDEN_SIZE, dtype=torch.float64)
    ours = rnnlab.from_torch(reference)
    x = torch.randn(BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    state = ours(x)
    h_ref, c_ref = reference(x)
    # the names mean what they say: .h is torch's h, .c is torch's c
    torch.testing.assert_close(state.h, h_ref, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(state.c, c_ref, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize(
    ("make_cell", "shapes"),
    [
        (lambda: rnnlab.RNNCell(3, 4), [(5, 4)]),
        (lambda: rnnlab.GRUCell(3, 4), [(5, 4)]),
        (lambda: rnnlab.LSTMCell(3, 4), [(5, 4), (5, 4)]),
        (lambda: rnnlab.LSTMCell(3, 4, proj_size=2), [(5, 2), (5, 4)]),
    ],
    ids=["rnn", "gru", "lstm", "lstm_proj"],
)
def test_init_state_is_zeros_of_the_right_shape(make_cell, shapes):
    state = make_cell().init_state(5, dtype=torch.float64)
    tensors = as_tuple(state)
    assert [tuple(t.shape) for t in tensors] == shapes
    assert all(t.dtype == torch.float64 and not t.any() for t in tensors)
    if len(shapes) == 2:
        assert isinstance(state, rnnlab.LSTMState)
        assert tensors[0].data_ptr() != tensors[1].data_ptr()  # h and c are separate tensors
