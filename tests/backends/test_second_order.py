"""Second-order gradients (create_graph=True): a gradient penalty, gradgradcheck, on every backend.

The reference backend's backward is written by hand; under create_graph=True it recomputes the
step through the cell's equations with autograd instead, so the gradients it returns are
differentiable again. Checked against torch.nn on a gradient-penalty loss, and by gradgradcheck
in float64 for every cell and option `auto` can reach on the CPU, with ragged lengths too.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnlab

CASES = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": 2}),
    "gru": ("GRU", {}),
}
BACKENDS = ["reference", "native", "auto"]


def penalty(layer: nn.Module, xs: torch.Tensor) -> torch.Tensor:
    """A WGAN-GP-style loss: the squared norm of ∂(Σ y²)/∂x, which needs the gradient's gradient."""
    ys, _ = layer(xs)
    (grad,) = torch.autograd.grad(ys.pow(2).sum(), xs, create_graph=True)
    return grad.pow(2).sum()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_gradient_penalty_gives_torch_s_gradients(case, backend):
    name, options = CASES[case]
    torch.manual_seed(0)
    theirs = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True, **options).double()
    ours = getattr(rnnlab, name)(3, 4, num_layers=2, bidirectional=True, backend=backend, **options).double()
    ours.load_state_dict(theirs.state_dict())
    xs = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    expected = torch.autograd.grad(penalty(theirs, xs), [xs, *theirs.parameters()])
    got = torch.autograd.grad(penalty(ours, xs), [xs, *ours.parameters()])
    for ours_grad, theirs_grad in zip(got, expected):
        torch.testing.assert_close(ours_grad, theirs_grad, atol=1e-10, rtol=0)


@pytest.mark.parametrize("lengths", [None, [3, 1]], ids=["full", "ragged"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", [*CASES, "gru_reset_before"])
def test_gradgradcheck_passes_in_float64(case, backend, lengths):
    name, options = CASES.get(case, ("GRU", {"reset_after": False}))
    if case == "gru_reset_before" and backend == "native":
        pytest.skip("reset_after=False has no native kernel (auto runs it on the reference loop)")
    torch.manual_seed(1)
    layer = getattr(rnnlab, name)(2, 3, bidirectional=True, backend=backend, **options).double()
    xs = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 2, options.get("proj_size") or 3, dtype=torch.float64, requires_grad=True)
    kwargs = {} if lengths is None else {"lengths": torch.tensor(lengths)}

    def run(xs, h0):
        hx = h0 if name != "LSTM" else (h0, torch.zeros(2, 2, 3, dtype=torch.float64))
        ys, _ = layer(xs, hx, **kwargs)
        return ys

    assert torch.autograd.gradgradcheck(run, (xs, h0))
