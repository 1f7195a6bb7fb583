"""Padded batches with `lengths=`: what the layer promises about each sequence's own end.

Outputs past a sequence's end are zeros; its final state is the one at its last real step (the
initial state for length 0); the reverse direction starts at its own end; and the padding,
whatever it holds (NaN included), influences nothing. The oracle for one sequence is torch.nn
running that sequence alone, truncated to its length.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import rnnlab

SEQ_LEN, INPUT_SIZE, HIDDEN_SIZE = 6, 3, 4
LENGTHS = [6, 2, 4, 1, 3]
BACKENDS = ["reference", "auto"]
KINDS = {
    "rnn": lambda **kw: nn.RNN(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "lstm": lambda **kw: nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, **kw),
    "lstm_proj": lambda **kw: nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=2, **kw),
    "gru": lambda **kw: nn.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw),
}


def as_tuple(state) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def build(kind: str, backend: str, batch_first: bool = False, num_layers: int = 2, bidirectional: bool = True):
    torch.manual_seed(0)
    theirs = KINDS[kind](num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                         dtype=torch.float64)
    return theirs, rnnlab.from_torch(theirs, backend=backend)


def random_hx(module: nn.Module, batch_size: int) -> tuple[Tensor, ...]:
    num_stacked = module.num_layers * (2 if module.bidirectional else 1)
    sizes = [module.proj_size or module.hidden_size] if hasattr(module, "proj_size") else [module.hidden_size]
    if isinstance(module, nn.LSTM):
        sizes.append(module.hidden_size)
    return tuple(torch.randn(num_stacked, batch_size, size, dtype=torch.float64, requires_grad=True) for size in sizes)


def hx_argument(hx: tuple[Tensor, ...] | None, sequence: int | None = None):
    """hx as the layer takes it (a tensor, or (h_0, c_0)), optionally for one sequence alone."""
    if hx is None:
        return None
    if sequence is not None:
        hx = tuple(t[:, sequence : sequence + 1] for t in hx)
    return hx if len(hx) == 2 else hx[0]


def padded_inputs(lengths: list[int], fill: float = float("nan")) -> Tensor:
    """(T, B, F) random inputs whose padding holds `fill`."""
    inputs = torch.randn(SEQ_LEN, len(lengths), INPUT_SIZE, dtype=torch.float64)
    padding = torch.arange(SEQ_LEN).unsqueeze(1) >= torch.tensor(lengths)  # (T, B)
    return inputs.masked_fill(padding.unsqueeze(-1), fill).requires_grad_()


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_sequence_equals_running_it_alone(kind, backend, bidirectional, batch_first):
    """Outputs (zeros past the end) and final states per sequence equal torch on that sequence alone,
    truncated: so the reverse direction started at the sequence's own end."""
    theirs, ours = build(kind, backend, batch_first, bidirectional=bidirectional)
    inputs = padded_inputs(LENGTHS, fill=0.5)  # the finite fill is a value a leaky mask would pick up
    hx = random_hx(theirs, len(LENGTHS))
    layout = (lambda t: t.transpose(0, 1)) if batch_first else (lambda t: t)
    ys, state = ours(layout(inputs), hx_argument(hx), lengths=torch.tensor(LENGTHS))
    ys = layout(ys)  # (T, B, D*P)

    for b, length in enumerate(LENGTHS):
        alone = inputs[:length, b : b + 1]  # (length, 1, F)
        ys_alone, state_alone = theirs(layout(alone), hx_argument(hx, b))
        torch.testing.assert_close(ys[:length, b], layout(ys_alone)[:, 0], atol=1e-10, rtol=1e-10)
        assert torch.all(ys[length:, b] == 0)
        torch.testing.assert_close(tuple(t[:, b] for t in as_tuple(state)),
                                   tuple(t[:, 0] for t in as_tuple(state_alone)), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("lengths", [LENGTHS, [3, 0, 6, 0]], ids=["positive", "with_0"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_nan_padding_changes_nothing(kind, backend, lengths):
    theirs, ours = build(kind, backend)
    clean = padded_inputs(lengths, fill=0.0)
    dirty = padded_inputs(lengths, fill=float("nan"))
    with torch.no_grad():
        dirty.copy_(torch.where(dirty.isnan(), dirty, clean))  # same real steps, NaN padding
    hx = random_hx(theirs, len(lengths))

    results = []
    for inputs in (clean, dirty):
        ys, state = ours(inputs, hx_argument(hx), lengths=torch.tensor(lengths))
        generator = torch.Generator().manual_seed(1)
        loss = sum((torch.randn(t.shape, dtype=torch.float64, generator=generator) * t).sum()
                   for t in (ys, *as_tuple(state)))
        grads = torch.autograd.grad(loss, [inputs, *hx, *ours.parameters()])
        results.append(((ys, *as_tuple(state)), grads))
    (values_clean, grads_clean), (values_dirty, grads_dirty) = results
    torch.testing.assert_close(values_dirty, values_clean, atol=0, rtol=0)
    padding = dirty.isnan()
    assert torch.all(grads_dirty[0][padding] == 0)  # the padding gets exactly zero gradient, not NaN
    torch.testing.assert_close(grads_dirty, grads_clean, atol=0, rtol=0, equal_nan=False)


@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "zeros"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_length_zero_keeps_the_initial_state(kind, backend, with_hx):
    """Length 0 is supported: its outputs are all zero and its final state is its initial state,
    with gradient passing straight from h_n to h_0."""
    lengths = [4, 0, 6, 0]
    theirs, ours = build(kind, backend)
    inputs = padded_inputs(lengths, fill=0.0)
    hx = random_hx(theirs, len(lengths)) if with_hx else None
    ys, state = ours(inputs, hx_argument(hx), lengths=torch.tensor(lengths))
    states = as_tuple(state)
    initial = hx if hx is not None else tuple(torch.zeros_like(t) for t in states)
    for b in (1, 3):
        assert torch.all(ys[:, b] == 0)
        for final, start in zip(states, initial, strict=True):
            assert torch.equal(final[:, b], start[:, b])
    # the sequences that do run are unaffected by the empty ones beside them
    for b in (0, 2):
        ys_alone, _ = theirs(inputs[: lengths[b], b : b + 1], hx_argument(hx, b))
        torch.testing.assert_close(ys[: lengths[b], b], ys_alone[:, 0], atol=1e-10, rtol=1e-10)

    if hx is not None:
        generator = torch.Generator().manual_seed(2)
        weights = [torch.randn(t.shape, dtype=torch.float64, generator=generator) for t in states]
        grads = torch.autograd.grad(sum((w * t).sum() for w, t in zip(weights, states)), hx)
        for grad, weight in zip(grads, weights):
            torch.testing.assert_close(grad[:, [1, 3]], weight[:, [1, 3]], atol=0, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_lengths_zero(backend):
    _, ours = build("lstm", backend)
    inputs = padded_inputs([0, 0], fill=0.0)
    hx = random_hx(nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True), 2)
    ys, state = ours(inputs, hx, lengths=torch.tensor([0, 0]))
    assert torch.all(ys == 0)
    assert torch.equal(state.h, hx[0]) and torch.equal(state.c, hx[1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_lengths_as_python_list_or_any_int_tensor(kind, backend):
    _, ours = build(kind, backend)
    inputs = padded_inputs(LENGTHS, fill=0.0)
    expected_ys, expected_state = ours(inputs, lengths=torch.tensor(LENGTHS))
    for lengths in (LENGTHS, tuple(LENGTHS), torch.tensor(LENGTHS, dtype=torch.int32)):
        ys, state = ours(inputs, lengths=lengths)
        torch.testing.assert_close((ys, *as_tuple(state)), (expected_ys, *as_tuple(expected_state)), atol=0, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_lengths_equal_no_lengths(backend):
    _, ours = build("gru", backend)
    inputs = torch.randn(SEQ_LEN, 3, INPUT_SIZE, dtype=torch.float64)
    ys, h_n = ours(inputs, lengths=[SEQ_LEN] * 3)
    ys_ref, h_n_ref = ours(inputs)
    torch.testing.assert_close((ys, h_n), (ys_ref, h_n_ref), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_empty_batch_with_lengths(backend):
    layer = rnnlab.LSTM(3, 4, backend=backend)
    output, (h_n, c_n) = layer(torch.randn(5, 0, 3), lengths=torch.zeros(0, dtype=torch.long))
    assert output.shape == (5, 0, 4) and h_n.shape == (1, 0, 4) and c_n.shape == (1, 0, 4)
