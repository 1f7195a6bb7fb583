"""Gradient flow through time: ∂L/∂h_t equals autograd's on an unrolled loop, and the rates it reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.cells.base import Cell
from rnnlab.diagnostics import gradient_flow, growth_per_step, record
from rnnlab.layers import Recurrent

DTYPE = torch.float64


def inputs(steps=6, batch=3, seed=1) -> torch.Tensor:
    return torch.randn(steps, batch, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))


def unrolled_state_grads(layer, xs, loss_of_outputs):
    """∂L/∂h_t by autograd through a hand-stepped loop of torch's own cell, retaining every h_t."""
    torch_cell = {rnnlab.LSTM: nn.LSTMCell, rnnlab.GRU: nn.GRUCell, rnnlab.RNN: nn.RNNCell}[type(layer)](
        layer.input_size, layer.hidden_size, dtype=DTYPE)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(torch_cell, name).data.copy_(getattr(layer, name + "_l0"))
    h = torch.zeros(xs.shape[1], layer.hidden_size, dtype=DTYPE)
    c = torch.zeros_like(h)
    hs = []
    for x in xs:
        if isinstance(torch_cell, nn.LSTMCell):
            h, c = torch_cell(x, (h, c))
        else:
            h = torch_cell(x, h)
        h.retain_grad()
        hs.append(h)
    loss_of_outputs(torch.stack(hs)).backward()
    return torch.stack([h.grad for h in hs])


LOSSES = {"last step": lambda ys: ys[-1].pow(2).sum(), "every step": lambda ys: ys.sin().sum()}


@pytest.mark.parametrize("layer_type", [rnnlab.LSTM, rnnlab.GRU, rnnlab.RNN])
@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_recorded_state_gradients_equal_autograd_on_an_unrolled_loop(layer_type, loss_name):
    torch.manual_seed(0)
    layer = layer_type(2, 3, dtype=DTYPE)
    xs = inputs()
    with record(layer, gradients=True) as recording:
        LOSSES[loss_name](layer(xs)[0]).backward()
    expected = unrolled_state_grads(layer, xs, LOSSES[loss_name])
    grads = recording.grads()
    # the path through time is counted: with the loss on the last step only, earlier steps still get gradient
    assert grads["h"][0].abs().sum() > 0
    torch.testing.assert_close(grads["h"], expected)


def test_gradients_past_a_sequence_end_are_zero_and_the_rest_equal_the_sequence_alone():
    torch.manual_seed(0)
    layer = rnnlab.GRU(2, 3, bidirectional=True, dtype=DTYPE)
    xs, lengths = inputs(), torch.tensor([6, 2, 4])
    with record(layer, gradients=True) as batch:
        layer(xs, lengths=lengths)[0].sin().sum().backward()
    for row, length in enumerate(lengths.tolist()):
        with record(layer, gradients=True) as alone:
            layer(xs[:length, row : row + 1])[0].sin().sum().backward()
        for direction in range(2):
            got = batch.grads("GRU", 0, direction)["h"][:, row]
            assert got[length:].abs().sum() == 0
            torch.testing.assert_close(got[:length], alone.grads("GRU", 0, direction)["h"][:, 0])


class _AutogradLSTMCell(rnnlab.LSTMCell):
    """An LSTM cell without its hand-written backward: the loop falls back to autograd."""

    backward_step = Cell.backward_step


def test_a_cell_without_handwritten_backward_reports_the_same_gradients():
    torch.manual_seed(0)
    cell = rnnlab.LSTMCell(2, 3, dtype=DTYPE)
    plain = _AutogradLSTMCell(2, 3, dtype=DTYPE)
    plain.load_state_dict(cell.state_dict())
    xs, lengths = inputs(), torch.tensor([6, 3, 5])
    results = []
    for chosen in (cell, plain):
        recurrent = Recurrent(chosen, reverse=True)
        with record(recurrent, gradients=True) as recording:
            recurrent(xs, lengths=lengths)[0].sin().sum().backward()
        results.append(recording.grads("Recurrent", 0, 1))
    torch.testing.assert_close(results[1]["h"], results[0]["h"])
    assert results[0]["h"][5, 1].abs().sum() == 0  # past the second sequence's end


def test_norms_average_over_the_sequences_still_running():
    torch.manual_seed(0)
    layer = rnnlab.RNN(2, 3, dtype=DTYPE)
    xs, lengths = inputs(), torch.tensor([6, 2, 4])
    loss = lambda: layer(xs, lengths=lengths)[0].sin().sum()  # noqa: E731
    flow = gradient_flow(layer, loss)
    with record(layer, gradients=True) as recording:
        loss().backward()
    per_sequence = recording.grads()["h"].norm(dim=-1)  # (T, B)
    expected = [float(per_sequence[t][lengths > t].mean()) for t in range(6)]
    np.testing.assert_allclose(flow.norms["RNN"], expected)


def test_gradients_are_not_kept_unless_asked():
    layer = rnnlab.RNN(2, 3, dtype=DTYPE)
    with record(layer) as recording:
        layer(inputs())[0].sum().backward()
    assert recording.grads() == {}


def test_growth_per_step_recovers_a_geometric_rate_and_ignores_zeros_and_nan():
    norms = 0.5 ** np.arange(9, -1, -1.0)  # halves at every step back from the end
    assert growth_per_step(norms) == pytest.approx(0.5)
    assert growth_per_step(np.concatenate([[0.0, np.nan], 3.0 ** np.arange(5.0)[::-1]])) == pytest.approx(3.0)
    assert math.isnan(growth_per_step(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match=r"norms must be 1-D.*\(2, 2\)"):
        growth_per_step(np.ones((2, 2)))


def _rnn_with_recurrent_gain(gain: float) -> rnnlab.RNN:
    torch.manual_seed(0)
    layer = rnnlab.RNN(2, 16, dtype=DTYPE)
    with torch.no_grad():  # every singular value of W_hh is `gain`; no bias to push tanh off its linear part
        nn.init.orthogonal_(layer.weight_hh_l0, gain=gain)
        layer.bias_ih_l0.zero_()
        layer.bias_hh_l0.zero_()
    return layer


def test_an_rnn_vanishes_or_explodes_with_its_recurrent_gain():
    xs = 1e-6 * inputs(steps=20)  # tiny inputs keep tanh linear: each step's Jacobian is W_hh
    for gain in (0.5, 1.5):
        layer = _rnn_with_recurrent_gain(gain)
        flow = gradient_flow(layer, lambda: layer(xs)[0][-1].sum())
        assert flow.growth()["RNN"] == pytest.approx(gain, rel=1e-3)
        assert flow.orders_of_magnitude()["RNN"] == pytest.approx(19 * abs(math.log10(gain)), rel=1e-3)


def test_gradient_flow_reports_clipping_and_leaves_grad_untouched():
    layer = _rnn_with_recurrent_gain(1.5)
    xs = inputs(steps=20)
    loss = lambda: layer(xs)[0][-1].pow(2).sum()  # noqa: E731
    flow = gradient_flow(layer, loss, clip=0.01)
    assert all(p.grad is None for p in layer.parameters())
    expected = torch.autograd.grad(loss(), list(layer.parameters()))
    norm = math.sqrt(sum(float(g.pow(2).sum()) for g in expected))
    assert flow.parameter_norm == pytest.approx(norm)
    assert flow.clip_factor == pytest.approx(0.01 / norm)
    np.testing.assert_allclose(flow.clipped()["RNN"], flow.norms["RNN"] * 0.01 / norm)
    # clipping scales every step alike: the rate per step is the same
    assert growth_per_step(flow.clipped()["RNN"]) == pytest.approx(flow.growth()["RNN"])
    assert gradient_flow(layer, loss, clip=1e9).clip_factor == 1.0


def test_labels_name_layers_and_directions():
    torch.manual_seed(0)
    layer = rnnlab.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=DTYPE)
    flow = gradient_flow(layer, lambda: layer(inputs())[0].sum())
    assert list(flow.norms) == ["LSTM layer 0", "LSTM layer 0 reverse", "LSTM layer 1", "LSTM layer 1 reverse"]
    assert all(curve.shape == (6,) for curve in flow.norms.values())


def test_bad_arguments_are_named():
    layer = rnnlab.RNN(2, 3, dtype=DTYPE)
    with pytest.raises(ValueError, match="clip must be a positive number or None; received 0"):
        gradient_flow(layer, lambda: layer(inputs())[0].sum(), clip=0)
    with pytest.raises(ValueError, match=r"loss must return a scalar tensor; received Tensor \(6, 3, 3\)"):
        gradient_flow(layer, lambda: layer(inputs())[0])
    layer.requires_grad_(False)
    with pytest.raises(ValueError, match=r"model \(RNN\) has no trainable parameters"):
        gradient_flow(layer, lambda: layer(inputs())[0].sum())
    holder = nn.Module()
    holder.rnn, holder.head = layer, nn.Linear(2, 1, dtype=DTYPE)  # trains, but the loss never meets the RNN
    with pytest.raises(ValueError, match="no gradient reached a recurrent layer"):
        gradient_flow(holder, lambda: holder.head(inputs()).sum() + 0 * layer(inputs())[0].sum().detach())
