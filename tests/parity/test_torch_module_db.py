"""torch's own module tests for its recurrent modules, run against rnnlab's.

The torch wheel ships `torch.testing._internal.common_modules.module_db`: for nn.RNN, nn.LSTM,
nn.GRU, nn.RNNCell, nn.LSTMCell and nn.GRUCell, the module inputs torch tests itself with
(PackedSequence inputs and initial states among them) and the error inputs it must refuse. Every
module input runs through torch's module and rnnlab's with the same weights, in float64: the
outputs, the states and every gradient (weights and inputs) must be equal. Every error input must
raise an exception of torch's type from rnnlab too (rnnlab's messages differ: they name the
argument and the value received). Beside them, rnnlab's own keywords run on the same inputs: a
learned initial state and full-length lengths= at their neutral values change nothing, and
GRU(reset_after=False) gives the shapes torch's GRU gives and gradients equal to autograd's through
its cell equations. A torch without `torch.testing._internal` (or without its
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


LAYERS = ("RNN", "LSTM", "GRU")


def _layer_cases() -> list:
    return [pytest.param(name, index, id=f"{name}-{index}") for name in LAYERS if name in INFOS
            for index in range(len(_inputs(name, "module")))]


@pytest.mark.parametrize("name, index", _layer_cases())
def test_the_extra_options_at_their_neutral_values_change_nothing_on_torch_s_inputs(name, index):
    """rnnlab's own keywords beside torch's inputs: a learned initial state (zeros before training)
    and lengths= equal to the full length give torch's outputs and gradients, with or without hx."""
    module_input = _inputs(name, "module")[index]
    constructor, forward = module_input.constructor_input, module_input.forward_input
    torch.manual_seed(index)
    theirs = getattr(torch.nn, name)(*constructor.args, **constructor.kwargs).double()
    ours = getattr(rnnlab, name)(*constructor.args, **constructor.kwargs, learn_initial_state=True).double()
    ours.load_state_dict(theirs.state_dict(), strict=False)  # initial_h (initial_c) stay zeros
    args = _copy(forward.args)
    kwargs = dict(forward.kwargs)
    input = args[0]
    if not isinstance(input, PackedSequence):
        batch_first = ours.batch_first and input.dim() == 3
        steps = input.shape[1] if batch_first else input.shape[0]
        if input.dim() == 3:
            kwargs["lengths"] = torch.full((input.shape[0] if batch_first else input.shape[1],), steps)
    expected = _tensors(theirs(*_copy(forward.args), **forward.kwargs))
    got = _tensors(ours(*args, **kwargs))
    for ours_tensor, theirs_tensor in zip(got, expected, strict=True):
        torch.testing.assert_close(ours_tensor, theirs_tensor, atol=1e-12, rtol=0)
    sum(t.sum() for t in got if t.is_floating_point()).backward()
    assert ours.initial_h.grad is not None or len(args) > 1  # the learned state is used only without hx


@pytest.mark.parametrize("index", range(len(_inputs("GRU", "module"))) if "GRU" in INFOS else [])
def test_reset_after_false_runs_every_torch_gru_input_as_its_cell_equations(index):
    """GRU(reset_after=False) (Cho et al. 2014; torch has no such layer) on torch's GRU inputs: the
    shapes torch's GRU returns, and outputs equal to the same layer forced onto the autograd loop of
    its cell equations under torch.func (no hand-written BPTT), gradients included."""
    module_input = _inputs("GRU", "module")[index]
    constructor, forward = module_input.constructor_input, module_input.forward_input
    torch.manual_seed(index)
    theirs = torch.nn.GRU(*constructor.args, **constructor.kwargs).double()
    ours = rnnlab.GRU(*constructor.args, **constructor.kwargs, reset_after=False).double()
    ours.load_state_dict(theirs.state_dict())
    got = _tensors(ours(*_copy(forward.args), **forward.kwargs))
    assert [t.shape for t in got] == [t.shape for t in _tensors(theirs(*_copy(forward.args), **forward.kwargs))]
    params = dict(ours.named_parameters())
    args = _copy(forward.args)  # outside the transform, which may not set requires_grad

    def loss(p):
        outputs = _tensors(torch.func.functional_call(ours, p, args, forward.kwargs))
        return sum(t.square().sum() for t in outputs if t.is_floating_point())

    expected_grads = torch.func.grad(loss)(params)  # the autograd loop through the cell's equations
    sum(t.square().sum() for t in got if t.is_floating_point()).backward()  # the hand-written BPTT
    for key, value in expected_grads.items():
        torch.testing.assert_close(params[key].grad, value, atol=1e-12, rtol=0, msg=key)
