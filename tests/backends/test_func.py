"""torch.func transforms over rnnlab's layers: vmap, grad, vmap of grad and jvp, or a clear refusal.

The reference backend's hand-written BPTT is an autograd.Function without the rules torch.func
needs; under a transform the layer runs the cell's equations through plain autograd instead
(`rnnlab.backends.reference.func_transform`), so every transform works on it and on `auto`, which
also leaves torch's fused kernels (which have no vmap batching rule: torch.nn's layers fail under
vmap) for that loop. Checked in float64 against the same computation without the transform: a
Python loop over the vmapped axis, torch.autograd.grad, and autograd's double-backward jvp.
A forced backend that cannot run under a transform says so in a ValueError.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, grad, jvp, vmap

import rnnlab

CASES = {
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}, {}),
    "lstm_proj": ("LSTM", {"proj_size": 2, "num_layers": 2}, {}),
    "gru_bidirectional": ("GRU", {"bidirectional": True}, {}),
    "gru_reset_before": ("GRU", {"reset_after": False}, {}),
    "lstm_lengths": ("LSTM", {"bidirectional": True}, {"lengths": torch.tensor([3, 1])}),
    "rnn_learned_initial": ("RNN", {"learn_initial_state": True, "num_layers": 2}, {}),
}
EXAMPLES, STEPS, BATCH, FEATURES, HIDDEN = 3, 4, 2, 3, 4
TOL = dict(atol=1e-12, rtol=0)


def _layer(case: str, backend: str):
    name, options, call = CASES[case]
    torch.manual_seed(0)
    layer = getattr(rnnlab, name)(FEATURES, HIDDEN, backend=backend, dtype=torch.float64, **options)
    if layer.learn_initial_state:
        with torch.no_grad():
            for parameter in (layer.initial_h,):
                parameter.normal_()  # not zeros, so its gradient is a real check
    return layer, call


def _inputs(seed: int = 1):
    return torch.randn(EXAMPLES, STEPS, BATCH, FEATURES, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("case", list(CASES))
def test_vmap_equals_a_loop_over_the_mapped_axis(case, backend):
    layer, call = _layer(case, backend)
    xs = _inputs()
    ys, state = vmap(lambda x: layer(x, **call))(xs)
    for index in range(EXAMPLES):
        expected_ys, expected_state = layer(xs[index], **call)
        torch.testing.assert_close(ys[index], expected_ys, **TOL)
        torch.testing.assert_close(tuple(t[index] for t in _tuple(state)), _tuple(expected_state), **TOL)


@pytest.mark.parametrize("backend", ["reference", "native", "auto"])
@pytest.mark.parametrize("case", list(CASES))
def test_grad_and_per_example_grads_equal_autograd(case, backend):
    layer, call = _layer(case, backend)
    if backend == "native" and not layer.describe().reset_after:
        pytest.skip("reset_after=False has no native kernel")
    params = {name: p.detach() for name, p in layer.named_parameters()}
    xs = _inputs()

    def loss(p, x):
        ys, _ = functional_call(layer, p, (x,), call)
        return ys.square().sum() + ys.sum()

    if backend == "native":  # torch's kernels: grad works, vmap does not (nor packing by lengths under either)
        with pytest.raises(ValueError, match="backend='native'.*torch.func.vmap"):
            vmap(grad(loss), in_dims=(None, 0))(params, xs)
        if call:
            with pytest.raises(ValueError, match="backend='native'.*lengths.*torch.func.grad"):
                grad(loss)(params, xs[0])
            return
        per_example = {name: p.unsqueeze(0) for name, p in grad(loss)(params, xs[0]).items()}
        xs = xs[:1]
    else:
        per_example = vmap(grad(loss), in_dims=(None, 0))(params, xs)
    once = grad(loss)(params, xs[0])
    for index in range(len(xs)):
        ys, _ = layer(xs[index], **call)
        expected = torch.autograd.grad(ys.square().sum() + ys.sum(), list(layer.parameters()))
        for (name, got), want in zip(per_example.items(), expected):
            torch.testing.assert_close(got[index], want, **TOL, msg=name)
        if index == 0:
            for got, want in zip(once.values(), expected):
                torch.testing.assert_close(got, want, **TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_jvp_equals_autograd_double_backward(case):
    layer, call = _layer(case, "auto")
    x = _inputs()[0]
    tangent = torch.randn_like(x)
    _, got = jvp(lambda value: layer(value, **call)[0], (x,), (tangent,))
    _, expected = torch.autograd.functional.jvp(lambda value: layer(value, **call)[0], x, tangent)
    torch.testing.assert_close(got, expected, **TOL)


def test_a_forced_native_backend_refuses_vmap_saying_why():
    layer = rnnlab.LSTM(FEATURES, HIDDEN, backend="native", dtype=torch.float64)
    with pytest.raises(ValueError, match="backend='native'.*vmap"):
        vmap(layer)(_inputs())


def test_a_forced_triton_backend_refuses_every_transform_saying_why():
    pytest.importorskip("triton")
    layer = rnnlab.GRU(FEATURES, HIDDEN, backend="triton", dtype=torch.float64)
    with pytest.raises(ValueError, match="backend='triton'.*torch.func.*grad"):
        grad(lambda x: layer(x)[0].sum())(_inputs()[0])


def _tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)
