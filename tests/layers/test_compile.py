"""torch.compile, torch.export and torch.jit.trace on rnnlab's layers: each equals the layer run eagerly.

The oracle is the same layer object called without compilation (itself tested against torch.nn in
tests/parity). Outputs, final states and, in training, the gradients of the input and of every
parameter must agree to 1e-5 in float32: compilation may reorder float operations, nothing more.

What torch 2.13 can do with them, as these tests pin down:
- torch.compile: every cell, both backends, with and without lengths, training and eval, and
  fullgraph without lengths. On the CPU, AOTAutograd cannot differentiate oneDNN's LSTM kernel
  (pytorch#158007), so while compiling with grad enabled the native backend leaves that one call to
  eager torch (a graph break), as dynamo does for torch.nn.LSTM.
- torch.export: every cell and backend, with a dynamic batch size (the sequence length is static,
  as for torch.nn.LSTM), with lengths too: the reference loop then masks every step instead of
  reading where the first sequence ends.
- torch.jit.trace: every cell, on either backend, serving other batch sizes, sequence lengths (on
  the native backend) and lengths. torch.jit.script cannot compile the layers (keyword-only
  arguments, `Any` and union annotations).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import rnnlab

INPUT_SIZE, HIDDEN_SIZE = 3, 4
TOL = dict(rtol=1e-5, atol=1e-5)  # float32; compiled kernels may sum in another order
CELLS = {"lstm": rnnlab.LSTM, "gru": rnnlab.GRU, "rnn": rnnlab.RNN}

pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.trace` is deprecated", "ignore:`torch.jit.trace_method` is deprecated",
    "ignore::torch.jit.TracerWarning")


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test compiles its own layers from scratch (no cache entries or recompile limits carried over)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def build(kind: str, **options) -> torch.nn.Module:
    torch.manual_seed(0)
    return CELLS[kind](INPUT_SIZE, HIDDEN_SIZE, batch_first=True, **options)


def batch(batch_size: int = 2, num_steps: int = 4, *, seed: int = 1, requires_grad: bool = False) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    xs = torch.randn(batch_size, num_steps, INPUT_SIZE, generator=generator)  # (B, T, F)
    return xs.requires_grad_(requires_grad)


def state_tensors(state) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def loss_of(output: Tensor, state) -> Tensor:
    """A loss that reaches every output and final state tensor through its own fixed weights."""
    generator = torch.Generator().manual_seed(2)
    terms = [(t * torch.randn(t.shape, generator=generator)).sum() for t in (output, *state_tensors(state))]
    return torch.stack(terms).sum()


def assert_same_forward_and_backward(layer, compiled, xs: Tensor, **kwargs) -> None:
    """Outputs and final states, then the gradients of every parameter (and of xs if it requires grad)."""
    output, state = layer(xs, **kwargs)
    output_c, state_c = compiled(xs, **kwargs)
    torch.testing.assert_close(output_c, output, **TOL)
    for got, want in zip(state_tensors(state_c), state_tensors(state), strict=True):
        torch.testing.assert_close(got, want, **TOL)
    names, wrt = zip(*layer.named_parameters())
    if xs.requires_grad:
        names, wrt = ("input", *names), (xs, *wrt)
    grads = torch.autograd.grad(loss_of(output, state), wrt)
    grads_c = torch.autograd.grad(loss_of(output_c, state_c), wrt)
    for name, got, want in zip(names, grads_c, grads, strict=True):
        torch.testing.assert_close(got, want, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


# -- torch.compile ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(CELLS))
def test_compile_training_default_backend(kind):
    """A training step as in training: the data does not require grad, the parameters do."""
    layer = build(kind, bidirectional=kind == "gru").train()  # one bidirectional case keeps compile time down
    assert_same_forward_and_backward(layer, torch.compile(layer), batch())


def test_compile_training_lstm_input_gradients():
    """With an input that requires grad, torch's LSTM kernel compiles and differentiates on the CPU too."""
    layer = build("lstm").train()
    assert_same_forward_and_backward(layer, torch.compile(layer), batch(requires_grad=True))


def test_compile_training_with_lengths_on_reference_fallback():
    """reset_after=False runs on the reference loop (torch has no such GRU): lengths, BPTT, compiled."""
    layer = build("gru", reset_after=False).train()
    lengths = torch.tensor([4, 2])
    assert_same_forward_and_backward(layer, torch.compile(layer), batch(requires_grad=True), lengths=lengths)


@pytest.mark.parametrize("kind", list(CELLS))
def test_compile_inference_default_backend(kind):
    layer = build(kind, num_layers=2).eval()
    compiled = torch.compile(layer)
    with torch.no_grad():
        for xs, lengths in ((batch(), None), (batch(3, 6, seed=3), torch.tensor([6, 1, 4]))):
            kwargs = {} if lengths is None else {"lengths": lengths}
            output, state = layer(xs, **kwargs)
            output_c, state_c = compiled(xs, **kwargs)
            torch.testing.assert_close(output_c, output, **TOL)
            for got, want in zip(state_tensors(state_c), state_tensors(state), strict=True):
                torch.testing.assert_close(got, want, **TOL)


# -- torch.export ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "reference"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_export_matches_eager(kind, backend):
    layer = build(kind, num_layers=2, bidirectional=True, backend=backend).eval()
    sizes = torch.export.Dim("batch_size")
    program = torch.export.export(layer, (batch(),), dynamic_shapes={"input": {0: sizes}})
    exported = program.module()
    with torch.no_grad():
        for xs in (batch(seed=4), batch(5, seed=5)):  # a new input, then a new batch size
            output, state = layer(xs)
            output_e, state_e = exported(xs)
            torch.testing.assert_close(output_e, output, **TOL)
            for got, want in zip(state_tensors(state_e), state_tensors(state), strict=True):
                torch.testing.assert_close(got, want, **TOL)


@pytest.mark.parametrize("kind", list(CELLS))
def test_export_with_lengths_matches_eager(kind):
    layer = build(kind, bidirectional=True).eval()
    sizes = torch.export.Dim("batch_size")
    program = torch.export.export(layer, (batch(3, 6),), {"lengths": torch.tensor([6, 4, 2])},
                                  dynamic_shapes={"input": {0: sizes}, "lengths": {0: sizes}})
    exported = program.module()
    with torch.no_grad():
        for lengths in ([1, 6, 3], [0, 5, 6], [2, 2, 6, 4]):  # other lengths, an empty sequence, another B
            lengths = torch.tensor(lengths)
            xs = batch(len(lengths), 6, seed=7)
            output, state = layer(xs, lengths=lengths)
            output_e, state_e = exported(xs, lengths=lengths)
            torch.testing.assert_close(output_e, output, **TOL)
            for got, want in zip(state_tensors(state_e), state_tensors(state), strict=True):
                torch.testing.assert_close(got, want, **TOL)


class Picked(torch.nn.Module):
    """A layer fed the sequences a mask picks out: its batch size is data-dependent (unbacked) in a trace."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, xs: Tensor, keep: Tensor, lengths: Tensor) -> Tensor:
        return self.layer(xs[keep], lengths=lengths[keep])[0]


@pytest.mark.parametrize("backend", ["auto", "reference"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_export_of_a_batch_picked_by_a_mask_matches_eager(kind, backend):
    """As the tagger's character encoder runs on the real words only: the checks of lengths= and the
    loop must not ask a data-dependent batch size for a value while exporting."""
    model = Picked(build(kind, bidirectional=True, backend=backend)).eval()
    sizes = torch.export.Dim("batch_size")
    example = (batch(4, 6), torch.tensor([True, False, True, True]), torch.tensor([6, 2, 3, 1]))
    program = torch.export.export(model, example, dynamic_shapes=({0: sizes}, {0: sizes}, {0: sizes}), strict=False)
    exported = program.module()
    with torch.no_grad():
        for keep in ([True, True, False, True, False], [False, True, True, False, True]):
            inputs = (batch(5, 6, seed=8), torch.tensor(keep), torch.tensor([6, 5, 4, 0, 2]))
            torch.testing.assert_close(exported(*inputs), model(*inputs), **TOL)


@pytest.mark.parametrize("kind", list(CELLS))
def test_compile_fullgraph_without_lengths(kind):
    layer = build(kind, num_layers=2, bidirectional=True).eval()
    xs = batch()
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(layer, fullgraph=True)(xs)[0], layer(xs)[0], **TOL)


# -- TorchScript -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CELLS))
def test_trace_matches_eager(kind):
    layer = build(kind, num_layers=2).train()
    traced = torch.jit.trace(layer, (batch(),), check_trace=False)
    xs = batch(3, 7, seed=6, requires_grad=True)  # another batch size and sequence length than traced
    assert_same_forward_and_backward(layer, traced, xs)


class _WithLengths(torch.nn.Module):
    """`layer(xs, lengths=lengths)` with lengths positional: torch.jit.trace passes no keyword-only arguments."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, xs: Tensor, lengths: Tensor):
        return self.layer(xs, lengths=lengths)


@pytest.mark.parametrize("backend", [
    "native",
    "reference",
])
def test_trace_with_lengths_serves_other_lengths(backend):
    layer = build("gru", bidirectional=True, backend=backend).eval()
    with torch.no_grad():
        traced = torch.jit.trace(_WithLengths(layer), (batch(3, 6), torch.tensor([6, 4, 2])), check_trace=False)
        for lengths in ([6, 4, 2], [5, 1, 6]):
            lengths, xs = torch.tensor(lengths), batch(3, 6, seed=8)
            torch.testing.assert_close(traced(xs, lengths)[0], layer(xs, lengths=lengths)[0], **TOL)
