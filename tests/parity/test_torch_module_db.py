"""torch's own module tests for its recurrent modules, run against rnnlab's.

The torch wheel ships `torch.testing._internal.common_modules.module_db`: for nn.RNN, nn.LSTM,
nn.GRU, nn.RNNCell, nn.LSTMCell and nn.GRUCell, the module inputs torch tests itself with
(PackedSequence inputs and initial states among them) and the error inputs it must refuse. Every
module input runs through torch's module and rnnlab's with the same weights, in float64: the
outputs, the states and every gradient (weights and inputs) must be equal. Every error input must
raise an exception of torch's type from rnnlab too (rnnlab's messages differ: they name the
argument and the value received). A torch without `torch.testing._internal` (or without its
`expecttest` dependency) skips, saying so.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence

import rnnlab

common_modules = pytest.importorskip(
    "torch.testing._internal.common_modules",
    reason="torch's module tests need torch.testing._internal and its expecttest dependency (pip install expecttest)")

NAMES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
INFOS = {info.module_cls.__name__: info for info in common_modules.module_db
         if info.module_cls in tuple(getattr(torch.nn, name) for name in NAMES)}
# torch's cell error inputs pass a nonlinearity as the third positional argument, which is `bias`;
# torch takes any value there and fails later on the hidden size, rnnlab refuses the bias itself
# (TypeError naming it) when the cell is built: a deliberate difference
STRICTER_BIAS = "bias must be a bool"


def _inputs(name: str, kind: str) -> list:
    info = INFOS[name]
    if kind == "error":
        return list(info.module_error_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=False,
                                                  training=True))
    return list(info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True, training=True))


def _cases(kind: str) -> list:
    return [pytest.param(name, index, id=f"{name}-{index}") for name in NAMES if name in INFOS
            for index in range(len(_inputs(name, kind)))]


def _copy(value):
    """A fresh leaf copy of every floating tensor in `value` (so each module gets its own gradients)."""
    if isinstance(value, PackedSequence):
        return PackedSequence(_copy(value.data), value.batch_sizes, value.sorted_indices, value.unsorted_indices)
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad) if value.is_floating_point() else value
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(item) for item in value)
    return value


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, PackedSequence):
        return [value.data, value.batch_sizes]
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [tensor for item in value for tensor in _tensors(item)]
    return []


@pytest.mark.parametrize("name, index", _cases("module"))
def test_every_module_input_gives_torch_s_outputs_states_and_gradients(name, index):
    module_input = _inputs(name, "module")[index]
    constructor, forward = module_input.constructor_input, module_input.forward_input
    torch.manual_seed(index)
    theirs = getattr(torch.nn, name)(*constructor.args, **constructor.kwargs).double()
    ours = getattr(rnnlab, name)(*constructor.args, **constructor.kwargs).double()
    ours.load_state_dict(theirs.state_dict())
    args_theirs, args_ours = _copy(forward.args), _copy(forward.args)
    out_theirs, out_ours = theirs(*args_theirs, **forward.kwargs), ours(*args_ours, **forward.kwargs)
    expected, got = _tensors(out_theirs), _tensors(out_ours)
    assert len(got) == len(expected)
    for ours_tensor, theirs_tensor in zip(got, expected):
        torch.testing.assert_close(ours_tensor, theirs_tensor, atol=1e-12, rtol=0)
    weights = [torch.randn(t.shape, dtype=t.dtype, generator=torch.Generator().manual_seed(1))
               for t in expected if t.is_floating_point()]
    sum(((t * w).sum() for t, w in zip([t for t in expected if t.is_floating_point()], weights))).backward()
    sum(((t * w).sum() for t, w in zip([t for t in got if t.is_floating_point()], weights))).backward()
    for (key, p_theirs), (_, p_ours) in zip(theirs.named_parameters(), ours.named_parameters()):
        torch.testing.assert_close(p_ours.grad, p_theirs.grad, atol=1e-12, rtol=0, msg=key)
    for x_ours, x_theirs in zip(_tensors(args_ours), _tensors(args_theirs)):
        if x_theirs.is_floating_point() and x_theirs.grad is not None:
            torch.testing.assert_close(x_ours.grad, x_theirs.grad, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name, index", _cases("error"))
def test_every_error_input_raises_torch_s_exception_type(name, index):
    error_input = _inputs(name, "error")[index]
    module_input = error_input.module_error_input
    constructor, forward = module_input.constructor_input, module_input.forward_input
    with pytest.raises(Exception) as raised:
        module = getattr(rnnlab, name)(*constructor.args, **constructor.kwargs)
        if forward is not None:
            module(*forward.args, **forward.kwargs)
    if name.endswith("Cell") and STRICTER_BIAS in str(raised.value):
        assert isinstance(raised.value, TypeError) and not isinstance(constructor.args[2], bool)
        return
    assert isinstance(raised.value, error_input.error_type), (error_input.error_type, raised.value)


def test_a_shape_error_is_caught_as_torch_s_runtime_error_and_as_a_value_error():
    """As torch's test_rnn_check_device-style code does: `except RuntimeError` around a bad call."""
    for module, inputs in ((rnnlab.LSTMCell(3, 4), (torch.randn(2, 5),)),
                           (rnnlab.GRU(3, 4), (torch.randn(5, 2, 3), torch.randn(1, 3, 4)))):
        for caught in (RuntimeError, ValueError):
            with pytest.raises(caught):
                module(*inputs)
    with pytest.raises(ValueError, match="received proj_size=2"):
        rnnlab.GRU(3, 4, proj_size=2)
