"""Gate recording: outputs unchanged, gates in range, and equal to the equations recomputed by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.cells.base import Cell
from rnnlab.diagnostics import record
from rnnlab.layers import Recurrent

DTYPE = torch.float64
LENGTHS = torch.tensor([6, 2, 5, 1])
LAYERS = {"lstm": rnnlab.LSTM, "gru": rnnlab.GRU, "rnn": rnnlab.RNN}


def make(kind: str, **options) -> nn.Module:
    torch.manual_seed(0)
    return LAYERS[kind](3, 4, dtype=DTYPE, **options)


def inputs(seed: int = 1) -> torch.Tensor:
    return torch.randn(6, 4, 3, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))  # (T, B, F)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_recording_leaves_outputs_and_states_unchanged(kind, backend, lengths):
    layer = make(kind, num_layers=2, bidirectional=True, backend=backend)
    xs = inputs()
    plain_out, plain_state = layer(xs, lengths=lengths)
    with record(layer):
        out, state = layer(xs, lengths=lengths)
    if backend == "reference":  # the same loop runs: bit for bit
        assert torch.equal(out, plain_out)
        for a, b in zip(rnnlab.cells.base.state_tensors(state), rnnlab.cells.base.state_tensors(plain_state)):
            assert torch.equal(a, b)
    else:  # auto ran torch's fused kernel unrecorded
        torch.testing.assert_close(out, plain_out)
    assert not layer.observed  # back to its own backend afterwards


@pytest.mark.parametrize("kind,gates", [("lstm", "ifgoc"), ("gru", "rzn"), ("rnn", "h")])
def test_every_layer_and_direction_is_recorded_with_its_gates(kind, gates):
    layer = make(kind, num_layers=2, bidirectional=True)
    with record(layer) as recording:
        layer(inputs())
    name = type(layer).__name__
    assert recording.keys() == [(name, 0, 0), (name, 0, 1), (name, 1, 0), (name, 1, 1)]
    for layer_index in range(2):
        for direction in range(2):
            values = recording.values(name, layer_index, direction)
            assert list(values) == list(gates)
            assert all(v.shape == (6, 4, 4) for v in values.values())


@pytest.mark.parametrize("kind", list(LAYERS))
def test_gates_stay_in_their_ranges(kind):
    layer = make(kind, num_layers=2, bidirectional=True)
    with record(layer) as recording:
        layer(3 * inputs())  # large inputs push the gates towards saturation
    for key in recording.keys():
        kinds = recording.kinds[key[0]]
        for name, values in recording.values(*key).items():
            if kinds[name] == "sigmoid":
                assert values.min() > 0 and values.max() < 1, name
            elif kinds[name] == "tanh":
                assert values.min() > -1 and values.max() < 1, name


def _linear(x, weight, bias):
    return x @ weight.t() + bias


def _hand_lstm(p, x, h, c):
    """The LSTM equations written out with the layer's weights (rows i, f, g, o)."""
    z = _linear(x, p["weight_ih"], p["bias_ih"]) + _linear(h, p["weight_hh"], p["bias_hh"])
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c = f * c + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c}, o * torch.tanh(c), c


def _hand_gru(p, x, h, c, reset_after):
    x_r, x_z, x_n = _linear(x, p["weight_ih"], p["bias_ih"]).chunk(3, dim=-1)
    w_r, w_z, w_n = p["weight_hh"].chunk(3)
    b_r, b_z, b_n = p["bias_hh"].chunk(3)
    r = torch.sigmoid(x_r + _linear(h, w_r, b_r))
    z = torch.sigmoid(x_z + _linear(h, w_z, b_z))
    n = torch.tanh(x_n + (r * _linear(h, w_n, b_n) if reset_after else _linear(r * h, w_n, b_n)))
    h = (1 - z) * n + z * h
    return {"r": r, "z": z, "n": n}, h, c


def _hand_rnn(p, x, h, c):
    h = torch.tanh(_linear(x, p["weight_ih"], p["bias_ih"]) + _linear(h, p["weight_hh"], p["bias_hh"]))
    return {"h": h}, h, c


@pytest.mark.parametrize("kind,options", [("lstm", {}), ("gru", {}), ("gru", {"reset_after": False}), ("rnn", {})])
def test_recorded_gates_equal_the_equations_recomputed_from_weights_and_inputs(kind, options):
    layer = make(kind, num_layers=2, bidirectional=True, **options)
    xs = inputs()
    with record(layer) as recording:
        layer(xs, lengths=LENGTHS)
    name = type(layer).__name__
    if kind == "gru":
        step = lambda p, x, h, c: _hand_gru(p, x, h, c, options.get("reset_after", True))  # noqa: E731
    else:
        step = {"lstm": _hand_lstm, "rnn": _hand_rnn}[kind]
    layer_input = xs
    for layer_index in range(2):
        outputs = []
        for direction in range(2):
            suffix = f"_l{layer_index}" + ("_reverse" if direction else "")
            p = {key: getattr(layer, key + suffix) for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            recorded = recording.values(name, layer_index, direction)
            ys = torch.zeros(6, 4, 4, dtype=DTYPE)
            for row, length in enumerate(LENGTHS.tolist()):  # each sequence alone, over its real steps
                h = c = torch.zeros(4, dtype=DTYPE)
                steps = range(length) if direction == 0 else reversed(range(length))
                for t in steps:
                    expected, h, c = step(p, layer_input[t, row], h, c)
                    for gate, value in expected.items():
                        torch.testing.assert_close(recorded[gate][t, row], value, msg=f"{gate} at t={t}")
                    ys[t, row] = h
            outputs.append(ys)
        layer_input = torch.cat(outputs, dim=-1)


def test_a_model_holding_layers_is_recorded_by_module_name():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = rnnlab.GRU(3, 4, dtype=DTYPE)
            self.decoder = rnnlab.LSTM(4, 2, dtype=DTYPE)

        def forward(self, xs):
            return self.decoder(self.encoder(xs)[0])[0]

    model = Model()
    with record(model) as recording:
        model(inputs())
    assert recording.modules() == ["encoder", "decoder"]
    assert set(recording.values("decoder")) == set("ifgoc")


def test_calls_join_along_time_as_a_decoder_steps():
    layer = make("gru")
    xs = inputs()
    with record(layer) as recording:
        state = None
        for t in range(xs.shape[0]):
            _, state = layer(xs[t : t + 1], state)
    with record(layer) as whole:
        layer(xs)
    for gate, values in whole.values().items():
        torch.testing.assert_close(recording.values()[gate], values)


def test_a_composed_recurrent_with_a_user_cell_is_recorded():
    torch.manual_seed(0)
    recurrent = Recurrent(rnnlab.LSTMCell(3, 4, dtype=DTYPE), reverse=True)
    with record(recurrent) as recording:
        ys, _ = recurrent(inputs(), lengths=LENGTHS)
    assert recording.keys() == [("Recurrent", 0, 1)]
    # reversed scan, handed back in the input's time order: h at each real step is the output there
    values = recording.values("Recurrent", 0, 1)
    assert torch.equal(recording.lengths("Recurrent", 0, 1), LENGTHS)
    for row, length in enumerate(LENGTHS.tolist()):
        expected_h = values["o"][:length, row] * torch.tanh(values["c"][:length, row])
        torch.testing.assert_close(expected_h, ys[:length, row])


def test_torch_modules_and_models_without_layers_are_refused():
    with pytest.raises(ValueError, match="torch.nn.LSTM at 'lstm'.*from_torch"):
        with record(_holder(nn.LSTM(3, 4))):
            pass
    with pytest.raises(ValueError, match="holds no rnnlab recurrent layer"):
        with record(nn.Linear(3, 4)):
            pass


def _holder(module: nn.Module) -> nn.Module:
    holder = nn.Module()
    holder.lstm = module
    return holder


def test_a_layer_forced_native_says_it_cannot_record():
    layer = make("lstm", backend="native")
    with record(layer), pytest.raises(ValueError, match="backend='native' cannot record"):
        layer(inputs())


def test_recordings_cannot_nest():
    layer = make("rnn")
    with record(layer), pytest.raises(ValueError, match="already being recorded"):
        with record(layer):
            pass


def test_asking_for_an_unrecorded_position_names_what_was_recorded():
    layer = make("rnn")
    with record(layer) as recording:
        layer(inputs())
    with pytest.raises(ValueError, match=r"layer 1.*recorded: \[\('RNN', 0, 0\)\]"):
        recording.values("RNN", 1, 0)


def test_the_user_cell_base_records_its_gate_tuple():
    assert Cell.recorded(Cell.__new__(Cell), rnnlab.RNNGates(h=torch.ones(1)), None) == {"h": torch.ones(1)}
