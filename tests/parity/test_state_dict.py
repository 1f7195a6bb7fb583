"""Weights move between torch.nn and rnnlab unchanged: names, shapes, order and initialisation.

A torch state_dict loads into rnnlab with strict=True and back (`to_torch`); `named_parameters()`
lists the same names and shapes in the same order; and the same seed draws the same initial
parameters, so swapping `nn.LSTM` for `rnnlab.LSTM` changes nothing in a seeded run.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnlab

# (torch type, rnnlab type, constructor arguments shared by both)
LAYER_CASES = {
    "rnn_tanh": (nn.RNN, rnnlab.RNN, dict(input_size=3, hidden_size=4)),
    "rnn_relu_L2_bi": (nn.RNN, rnnlab.RNN, dict(input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu",
                                                bidirectional=True)),
    "lstm": (nn.LSTM, rnnlab.LSTM, dict(input_size=3, hidden_size=4)),
    "lstm_L3_bi_nobias": (nn.LSTM, rnnlab.LSTM, dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True,
                                                     bias=False)),
    "lstm_proj_L2_bi": (nn.LSTM, rnnlab.LSTM, dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True,
                                                   proj_size=2)),
    "gru_L2_bi_bf": (nn.GRU, rnnlab.GRU, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                                              batch_first=True)),
    "gru_nobias": (nn.GRU, rnnlab.GRU, dict(input_size=2, hidden_size=3, bias=False)),
}
CELL_CASES = {
    "rnn_cell_tanh": (nn.RNNCell, rnnlab.RNNCell, dict(input_size=3, hidden_size=4)),
    "rnn_cell_relu_nobias": (nn.RNNCell, rnnlab.RNNCell, dict(input_size=3, hidden_size=4, nonlinearity="relu",
                                                              bias=False)),
    "lstm_cell": (nn.LSTMCell, rnnlab.LSTMCell, dict(input_size=3, hidden_size=4)),
    "gru_cell": (nn.GRUCell, rnnlab.GRUCell, dict(input_size=3, hidden_size=4)),
}
ALL_CASES = {**LAYER_CASES, **CELL_CASES}


def names_and_shapes(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(p.shape)) for name, p in module.named_parameters()]


@pytest.mark.parametrize("case", list(ALL_CASES))
def test_named_parameters_match_torch(case):
    torch_type, ours_type, arguments = ALL_CASES[case]
    assert names_and_shapes(ours_type(**arguments)) == names_and_shapes(torch_type(**arguments))
    assert list(ours_type(**arguments).state_dict()) == list(torch_type(**arguments).state_dict())


@pytest.mark.parametrize("case", list(ALL_CASES))
def test_torch_state_dict_loads_strictly_and_round_trips(case):
    torch_type, ours_type, arguments = ALL_CASES[case]
    torch.manual_seed(0)
    theirs = torch_type(**arguments)
    torch.manual_seed(1)  # different weights, so the load must change them
    ours = ours_type(**arguments)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    torch.testing.assert_close(dict(ours.state_dict()), dict(theirs.state_dict()), atol=0, rtol=0)

    back = rnnlab.to_torch(ours)
    assert type(back) is torch_type
    assert names_and_shapes(back) == names_and_shapes(theirs)
    torch.testing.assert_close(dict(back.state_dict()), dict(theirs.state_dict()), atol=0, rtol=0)
    for key, value in arguments.items():
        assert getattr(back, key) == value, key
    # copies, not shared storage: training one must not move the other
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(back.parameters(), ours.parameters()))


@pytest.mark.parametrize("case", list(ALL_CASES))
def test_from_torch_copies_weights_and_options(case):
    torch_type, ours_type, arguments = ALL_CASES[case]
    torch.manual_seed(0)
    theirs = torch_type(**arguments, dtype=torch.float64).eval()
    ours = rnnlab.from_torch(theirs)
    assert type(ours) is ours_type
    assert not ours.training
    torch.testing.assert_close(dict(ours.state_dict()), dict(theirs.state_dict()), atol=0, rtol=0)
    assert all(p.dtype == torch.float64 for p in ours.parameters())
    for key, value in arguments.items():
        assert getattr(ours, key) == value, key
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(theirs.parameters(), ours.parameters()))


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("case", list(ALL_CASES))
def test_same_seed_gives_torchs_initial_parameters(case, seed):
    torch_type, ours_type, arguments = ALL_CASES[case]
    torch.manual_seed(seed)
    theirs = torch_type(**arguments)
    after_theirs = torch.rand(3)  # the random stream is left where torch leaves it
    torch.manual_seed(seed)
    ours = ours_type(**arguments)
    after_ours = torch.rand(3)
    torch.testing.assert_close(dict(ours.named_parameters()), dict(theirs.named_parameters()), atol=0, rtol=0)
    torch.testing.assert_close(after_ours, after_theirs, atol=0, rtol=0)


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_all_weights_structure_matches_torch(case):
    torch_type, ours_type, arguments = LAYER_CASES[case]
    torch.manual_seed(0)
    theirs = torch_type(**arguments)
    ours = rnnlab.from_torch(theirs)
    assert [[tuple(p.shape) for p in group] for group in ours.all_weights] == \
        [[tuple(p.shape) for p in group] for group in theirs.all_weights]
    for group, group_ref in zip(ours.all_weights, theirs.all_weights, strict=True):
        torch.testing.assert_close(list(group), list(group_ref), atol=0, rtol=0)
    # the groups hold the layer's own parameters, not copies
    own = {id(p) for p in ours.parameters()}
    assert all(id(p) in own for group in ours.all_weights for p in group)


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(lambda: rnnlab.GRU(3, 4, reset_after=False), id="gru_layer_reset_before"),
        pytest.param(lambda: rnnlab.GRUCell(3, 4, reset_after=False), id="gru_cell_reset_before"),
    ],
)
def test_to_torch_refuses_gru_reset_before(module):
    with pytest.raises(ValueError, match=r"reset_after.*False"):
        rnnlab.to_torch(module())


@pytest.mark.parametrize("layer_type", [rnnlab.RNN, rnnlab.LSTM, rnnlab.GRU])
def test_to_torch_refuses_learned_initial_state(layer_type):
    with pytest.raises(ValueError, match=r"learn_initial_state=True"):
        rnnlab.to_torch(layer_type(3, 4, learn_initial_state=True))


def test_to_torch_refuses_projected_lstm_cell():
    with pytest.raises(ValueError, match=r"proj_size=2"):
        rnnlab.to_torch(rnnlab.LSTMCell(3, 4, proj_size=2))


def test_from_torch_refuses_other_modules():
    with pytest.raises(TypeError, match=r"module.*Linear"):
        rnnlab.from_torch(nn.Linear(3, 4))


@pytest.mark.parametrize("torch_type", [nn.RNN, nn.LSTM, nn.GRU])
def test_from_torch_with_learned_initial_state(torch_type):
    """`from_torch(module, **options)` takes rnnlab's keyword-only extras; a learned initial state is
    one, and torch's module has none to copy, so it must start at zeros as in a fresh layer."""
    torch.manual_seed(0)
    theirs = torch_type(3, 4, num_layers=2)
    ours = rnnlab.from_torch(theirs, learn_initial_state=True)
    assert ours.learn_initial_state
    for name, p in theirs.named_parameters():
        torch.testing.assert_close(getattr(ours, name), p, atol=0, rtol=0)
    initial = {name: p for name, p in ours.named_parameters() if name.startswith("initial_")}
    assert set(initial) == ({"initial_h", "initial_c"} if torch_type is nn.LSTM else {"initial_h"})
    assert not any(p.any() for p in initial.values())


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_repr_is_torch_s_then_rnnlab_s_own_options(case):
    """torch's repr exactly, options in its order and format; what torch does not print (the RNN's
    nonlinearity, rnnlab's own options) follows it."""
    torch_type, ours_type, arguments = LAYER_CASES[case]
    theirs = repr(torch_type(**arguments))
    assert repr(ours_type(**arguments)).startswith(theirs[:-1])
    if "nonlinearity" not in arguments or arguments["nonlinearity"] == "tanh":
        assert repr(ours_type(**arguments)) == theirs
    extra = repr(ours_type(**arguments, learn_initial_state=True))
    assert extra.startswith(theirs[:-1]) and extra.endswith("learn_initial_state=True)")


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_repr_is_torch_s(name, bias, nonlinearity):
    arguments = dict(bias=bias, **({"nonlinearity": nonlinearity} if name == "RNNCell" else {}))
    assert repr(getattr(rnnlab, name)(3, 4, **arguments)) == repr(getattr(nn, name)(3, 4, **arguments))
    if name == "GRUCell":
        assert repr(rnnlab.GRUCell(3, 4, bias=bias, reset_after=False)).endswith(", reset_after=False)")


def test_from_torch_refuses_an_option_that_changes_the_math():
    with pytest.raises(ValueError, match=r"reset_after.*received reset_after=False"):
        rnnlab.from_torch(nn.GRU(3, 4), reset_after=False)


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_copies_and_assigned_state_dicts_compute_with_their_own_parameters(backend):
    import copy

    torch.manual_seed(0)
    layer = rnnlab.LSTM(3, 4, num_layers=2, bidirectional=True, backend=backend).double()
    other = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    xs = torch.randn(5, 2, 3, dtype=torch.float64)

    twin = copy.deepcopy(layer)
    with torch.no_grad():
        twin.weight_hh_l1_reverse.add_(1.0)  # the copy changes, the original must not see it
    assert not torch.equal(twin(xs)[0], layer(xs)[0])

    layer.load_state_dict(other.state_dict(), assign=True)  # replaces the Parameter objects
    torch.testing.assert_close(layer(xs)[0], other(xs)[0], atol=1e-10, rtol=1e-10)
