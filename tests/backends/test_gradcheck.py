"""The reference backend's hand-written BPTT (`_BPTT`, each cell's `backward_step` and
`parameter_grads`) against finite differences, with `torch.autograd.gradcheck` in float64.

`scan` runs on a cell bound to tensors that gradcheck perturbs (`rnnlab.cells.bind`), so the
input sequence, the initial state and every parameter are all checked.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from rnnlab.backends import reference
from rnnlab.backends.reference import scan
from rnnlab.cells import Cell, GRUCell, LSTMCell, RNNCell, bind
from rnnlab.cells.base import state_tensors

SEQ_LEN, BATCH_SIZE, INPUT_SIZE, HIDDEN_SIZE = 4, 3, 2, 3

CELLS = {
    "rnn_tanh": (RNNCell, dict(nonlinearity="tanh")),
    "rnn_relu": (RNNCell, dict(nonlinearity="relu")),
    "lstm": (LSTMCell, dict(proj_size=0)),
    "lstm_proj": (LSTMCell, dict(proj_size=2)),
    "gru": (GRUCell, dict(reset_after=True)),
    "gru_reset_before": (GRUCell, dict(reset_after=False)),
}
LENGTHS = {"full": None, "ragged": [4, 2, 3], "with_0": [3, 0, 4]}


def make_inputs(kind: str, bias: bool, seed: int = 0):
    """A cell of `kind` (for its configuration) and float64 leaf tensors: xs, state, weights."""
    cell_type, options = CELLS[kind]
    torch.manual_seed(seed)
    cell = cell_type(INPUT_SIZE, HIDDEN_SIZE, bias=bias, dtype=torch.float64, **options)
    config = dict(input_size=INPUT_SIZE, hidden_size=HIDDEN_SIZE, bias=bias, **options)
    xs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(BATCH_SIZE, size, dtype=torch.float64, requires_grad=True) for size in cell.state_sizes())
    # larger than the U(±1/√H) init, so the activations leave their linear region
    weights = {name: (2 * getattr(cell, name)).detach().requires_grad_() for name in cell.parameter_names()}
    if kind == "rnn_relu":  # keep pre-activations away from relu's kink, where finite differences fail
        weights = {name: w.detach().abs().requires_grad_() if name.startswith("bias") else w for name, w in weights.items()}
    return cell_type, config, xs, state, weights


def scan_function(cell_type: type[Cell], config: dict, names: list[str], num_state: int,
                  lengths: Tensor | None, reverse: bool):
    """scan as a function of tensors only: (xs, *state, *weights) -> (ys, *final_state)."""
    def run(xs, *tensors):
        weights = dict(zip(names, tensors[num_state:]))
        if not config["bias"]:
            weights.update(bias_ih=None, bias_hh=None)
        cell = bind(cell_type, weights, **config)
        ys, final = scan(cell, xs, cell.state_from_tensors(tensors[:num_state]), lengths, reverse=reverse)
        return ys, *state_tensors(final)
    return run


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("lengths", list(LENGTHS))
@pytest.mark.parametrize("kind", list(CELLS))
def test_scan_gradcheck(kind, lengths, reverse):
    cell_type, config, xs, state, weights = make_inputs(kind, bias=True)
    lengths_tensor = None if LENGTHS[lengths] is None else torch.tensor(LENGTHS[lengths])
    run = scan_function(cell_type, config, list(weights), len(state), lengths_tensor, reverse)
    assert torch.autograd.gradcheck(run, (xs, *state, *weights.values()), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", list(CELLS))
def test_scan_gradcheck_without_bias(kind):
    cell_type, config, xs, state, weights = make_inputs(kind, bias=False)
    assert set(weights) == {"weight_ih", "weight_hh"} | ({"weight_hr"} if kind == "lstm_proj" else set())
    run = scan_function(cell_type, config, list(weights), len(state), torch.tensor([4, 1, 3]), reverse=False)
    assert torch.autograd.gradcheck(run, (xs, *state, *weights.values()), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", list(CELLS))
def test_scan_uses_the_hand_written_backward(kind, monkeypatch):
    """The output's grad_fn is `_BPTT`'s node, not autograd's per-op graph, and backward_step runs once a step."""
    cell_type, config, xs, state, weights = make_inputs(kind, bias=True)
    calls = []
    original = cell_type.backward_step

    def counting_backward_step(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(cell_type, "backward_step", counting_backward_step)
    ys, *final = scan_function(cell_type, config, list(weights), len(state), None, reverse=False)(
        xs, *state, *weights.values())
    assert type(ys.grad_fn) is reference._BPTT._backward_cls
    assert all(type(t.grad_fn) is reference._BPTT._backward_cls for t in final)
    assert not calls
    (ys.sum() + sum(t.sum() for t in final)).backward()
    assert len(calls) == SEQ_LEN
    assert all(t.grad is not None for t in (xs, *state, *weights.values()))


def test_scan_without_grad_builds_no_graph():
    cell_type, config, xs, state, weights = make_inputs("lstm", bias=True)
    with torch.no_grad():
        ys, *_ = scan_function(cell_type, config, list(weights), len(state), None, reverse=False)(
            xs, *state, *weights.values())
    assert ys.grad_fn is None


@pytest.mark.parametrize("kind", list(CELLS))
def test_backward_twice_with_retain_graph(kind):
    """As with any autograd graph, retain_graph=True allows a second backward through the same
    forward (gradcheck, autograd.functional.jacobian and several losses on one forward rely on it),
    and it gives the same gradients again."""
    cell_type, config, xs, state, weights = make_inputs(kind, bias=True)
    ys, *final = scan_function(cell_type, config, list(weights), len(state), torch.tensor([4, 0, 2]), reverse=False)(
        xs, *state, *weights.values())
    loss = (ys * torch.linspace(-1, 1, ys.numel(), dtype=torch.float64).view_as(ys)).sum() + final[0].sum()
    wrt = [xs, *state, *weights.values()]
    first = torch.autograd.grad(loss, wrt, retain_graph=True)
    second = torch.autograd.grad(loss, wrt)
    torch.testing.assert_close(second, first, atol=0, rtol=0)
