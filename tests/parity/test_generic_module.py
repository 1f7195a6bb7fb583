"""In the spirit of torch's generic module tests: pickle and deepcopy, factory kwargs, non-contiguous
inputs, and train/eval, for every rnnlab layer and cell, against its torch.nn twin where one is needed."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import rnnlab

MODULES = {
    "lstm_proj_L2_bi": lambda **kw: rnnlab.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, **kw),
    "gru_reset_before": lambda **kw: rnnlab.GRU(3, 4, reset_after=False, **kw),
    "rnn_relu_learned_h0": lambda **kw: rnnlab.RNN(3, 4, nonlinearity="relu", learn_initial_state=True, **kw),
    "lstm_cell": lambda **kw: rnnlab.LSTMCell(3, 4, **kw),
    "gru_cell": lambda **kw: rnnlab.GRUCell(3, 4, **kw),
    "rnn_cell": lambda **kw: rnnlab.RNNCell(3, 4, nonlinearity="relu", **kw),
}


def _input(module, dtype=torch.float32) -> torch.Tensor:
    shape = (2, 3) if type(module).__name__.endswith("Cell") else (5, 2, 3)
    return torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(0))


def _flat(output) -> list[torch.Tensor]:
    items = output if isinstance(output, tuple) else (output,)
    return [t for item in items for t in (item if isinstance(item, tuple) else (item,))]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_flat(a), _flat(b), strict=True))


@pytest.mark.parametrize("name", list(MODULES))
def test_pickle_and_deepcopy_give_an_equal_module(name):
    torch.manual_seed(0)
    module = MODULES[name]()
    xs = _input(module)
    for twin in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
        assert repr(twin) == repr(module) and _same(twin(xs), module(xs))
        assert all(torch.equal(p, q) for p, q in zip(twin.parameters(), module.parameters()))


@pytest.mark.parametrize("name", list(MODULES))
def test_factory_kwargs_build_the_parameters_with_that_dtype_and_device(name):
    module = MODULES[name](dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in module.parameters())
    assert all(t.dtype == torch.float64 for t in _flat(module(_input(module, torch.float64))))


@pytest.mark.parametrize("name", list(MODULES))
def test_a_non_contiguous_input_gives_what_its_contiguous_copy_gives(name):
    torch.manual_seed(0)
    module = MODULES[name]()
    xs = _input(module)
    strided = torch.cat([xs, xs], dim=-1)[..., ::2]  # the same values, every other element of a wider tensor
    assert not strided.is_contiguous() and not torch.equal(strided, xs)  # (interleaved: another input)
    assert _same(module(strided), module(strided.contiguous()))


def test_dropout_acts_in_train_mode_only():
    torch.manual_seed(0)
    layer = rnnlab.GRU(3, 4, num_layers=2, dropout=0.5)
    xs = _input(layer)
    layer.eval()
    assert _same(layer(xs), layer(xs))
    layer.train()
    torch.manual_seed(1)
    first = layer(xs)
    torch.manual_seed(2)
    assert not _same(first, layer(xs))
