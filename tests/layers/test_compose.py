"""Recurrent, Bidirectional and Stacked: the compositions of cells the drop-in layers are made of.

- Compositions of rnnlab cells equal torch.nn's layers with the same parameters, nested states
  against torch's packed (L*D, B, H) ones.
- A layer equals its cell stepped by hand over T (Flax's numerical-equivalence test), final
  state under `lengths` included.
- A user-defined cell with no hand-written backward runs through the same compositions.
- The drop-in extras: learned initial state, flatten_parameters, dropout placement.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab
from rnnlab.cells import Cell

SEQ_LEN, BATCH_SIZE, INPUT_SIZE, HIDDEN_SIZE = 5, 3, 3, 4
LENGTHS = [5, 2, 3]
ATOL = RTOL = 1e-10

TORCH_LAYERS = {
    "rnn_relu": (lambda **kw: nn.RNN(INPUT_SIZE, HIDDEN_SIZE, nonlinearity="relu", **kw),
                 lambda f, **kw: rnnlab.RNNCell(f, HIDDEN_SIZE, nonlinearity="relu", **kw)),
    "lstm": (lambda **kw: nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, **kw),
             lambda f, **kw: rnnlab.LSTMCell(f, HIDDEN_SIZE, **kw)),
    "lstm_proj": (lambda **kw: nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=2, **kw),
                  lambda f, **kw: rnnlab.LSTMCell(f, HIDDEN_SIZE, proj_size=2, **kw)),
    "gru": (lambda **kw: nn.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw),
            lambda f, **kw: rnnlab.GRUCell(f, HIDDEN_SIZE, **kw)),
}


def as_tuple(state) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def weighted_sum(tensors, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return sum((torch.randn(t.shape, dtype=t.dtype, generator=generator) * t).sum() for t in tensors)


def cells_from_torch(theirs: nn.Module, make_cell) -> dict[tuple[int, int], Cell]:
    """One rnnlab cell per (layer, direction), holding copies of `theirs`'s parameters."""
    num_directions = 2 if theirs.bidirectional else 1
    output_size = theirs.proj_size or theirs.hidden_size if isinstance(theirs, nn.LSTM) else theirs.hidden_size
    cells = {}
    for layer in range(theirs.num_layers):
        for direction in range(num_directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            cell = make_cell(INPUT_SIZE if layer == 0 else num_directions * output_size, dtype=torch.float64)
            cell.load_state_dict({name[: -len(suffix)]: p for name, p in theirs.state_dict().items()
                                  if name.endswith(suffix)}, strict=True)
            cells[layer, direction] = cell
    return cells


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(TORCH_LAYERS))
def test_stacked_composition_equals_torch_layer(kind, bidirectional, with_lengths):
    make_torch, make_cell = TORCH_LAYERS[kind]
    torch.manual_seed(0)
    theirs = make_torch(num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    cells = cells_from_torch(theirs, make_cell)
    layers = [
        rnnlab.Bidirectional(rnnlab.Recurrent(cells[k, 0]), rnnlab.Recurrent(cells[k, 1], reverse=True))
        if bidirectional else rnnlab.Recurrent(cells[k, 0])
        for k in range(2)
    ]
    ours = rnnlab.Stacked(layers)
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))  # the cells are registered submodules

    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    num_directions = 2 if bidirectional else 1
    packed_hx = tuple(torch.randn(2 * num_directions, BATCH_SIZE, size, dtype=torch.float64, requires_grad=True)
                      for size in cells[0, 0].state_sizes())
    # nested: a list over layers of (forward, backward) tuples, or of single states
    per_cell = [cells[0, 0].state_from_tensors(tuple(t[i] for t in packed_hx)) for i in range(2 * num_directions)]
    nested = [tuple(per_cell[2 * k : 2 * k + 2]) if bidirectional else per_cell[k] for k in range(2)]
    hx_arg = packed_hx if len(packed_hx) == 2 else packed_hx[0]

    lengths = torch.tensor(LENGTHS) if with_lengths else None
    ys, final = ours(inputs, nested, lengths)
    if with_lengths:
        ys_ref, state_ref = theirs(pack_padded_sequence(inputs, LENGTHS, enforce_sorted=False), hx_arg)
        ys_ref, _ = pad_packed_sequence(ys_ref, total_length=SEQ_LEN)
    else:
        ys_ref, state_ref = theirs(inputs, hx_arg)

    assert isinstance(final, list) and len(final) == 2
    flat = [s for layer_state in final for s in (layer_state if bidirectional else (layer_state,))]
    if kind.startswith("lstm"):
        assert all(isinstance(s, rnnlab.LSTMState) for s in flat)
    final_packed = tuple(torch.stack(parts) for parts in zip(*(as_tuple(s) for s in flat)))
    torch.testing.assert_close(ys, ys_ref, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(final_packed, as_tuple(state_ref), atol=ATOL, rtol=RTOL)

    names = [name for name, _ in theirs.named_parameters()]
    ours_by_name = {}
    for (layer, direction), cell in cells.items():
        for name, p in cell.named_parameters():
            ours_by_name[name + f"_l{layer}" + ("_reverse" if direction else "")] = p
    wrt = [inputs, *packed_hx, *(ours_by_name[n] for n in names)]
    wrt_ref = [inputs, *packed_hx, *theirs.parameters()]
    keys = ["input", *(f"hx[{i}]" for i in range(len(packed_hx))), *names]
    grads = dict(zip(keys, torch.autograd.grad(weighted_sum([ys, *final_packed]), wrt)))
    grads_ref = dict(zip(keys, torch.autograd.grad(weighted_sum([ys_ref, *as_tuple(state_ref)]), wrt_ref)))
    torch.testing.assert_close(grads, grads_ref, atol=ATOL, rtol=RTOL)


def step_by_hand(cell, inputs: Tensor, state, lengths: list[int], reverse: bool):
    """The cell's forward called once per real step of each sequence, one sequence at a time."""
    outputs, finals = [], []
    for b, length in enumerate(lengths):
        s = cell.state_from_tensors(tuple(t[b : b + 1] for t in as_tuple(state)))
        ys = [None] * length
        for t in (reversed(range(length)) if reverse else range(length)):
            s = cell(inputs[t, b : b + 1], s)
            ys[t] = cell.output(s)[0]
        padding = [inputs.new_zeros(cell.state_sizes()[0])] * (inputs.shape[0] - length)
        outputs.append(torch.stack(ys + padding))
        finals.append(as_tuple(s))
    final = tuple(torch.cat(parts) for parts in zip(*finals))
    return torch.stack(outputs, dim=1), final  # (T, B, P), each (B, ·)


@pytest.mark.parametrize("lengths", [None, LENGTHS, [4, 0, 5]], ids=["full", "lengths", "lengths_with_0"])
@pytest.mark.parametrize(
    ("kind", "backend"),
    [(kind, backend) for kind in ("rnn_tanh", "lstm", "lstm_proj", "gru") for backend in ("reference", "auto")]
    + [("gru_reset_before", "reference")],  # auto is the reference for this form
)
def test_layer_equals_cell_stepped_by_hand(kind, backend, lengths):
    torch.manual_seed(0)
    layer_type, options = {
        "rnn_tanh": (rnnlab.RNN, {}), "lstm": (rnnlab.LSTM, {}), "lstm_proj": (rnnlab.LSTM, dict(proj_size=2)),
        "gru": (rnnlab.GRU, {}), "gru_reset_before": (rnnlab.GRU, dict(reset_after=False)),
    }[kind]
    layer = layer_type(INPUT_SIZE, HIDDEN_SIZE, bidirectional=True, dtype=torch.float64, backend=backend, **options)
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    cells = dict(layer.cells_by_position())  # bound to the layer's own parameters
    sizes = cells[0, 0].state_sizes()
    hx = tuple(torch.randn(2, BATCH_SIZE, size, dtype=torch.float64, requires_grad=True) for size in sizes)

    ys, state = layer(inputs, hx if len(hx) == 2 else hx[0], lengths=lengths)
    per_direction = [step_by_hand(cells[0, d], inputs, tuple(t[d] for t in hx), lengths or [SEQ_LEN] * BATCH_SIZE,
                                  reverse=bool(d)) for d in range(2)]
    ys_hand = torch.cat([per_direction[0][0], per_direction[1][0]], dim=-1)
    state_hand = tuple(torch.stack([f, b]) for f, b in zip(per_direction[0][1], per_direction[1][1]))
    torch.testing.assert_close(ys, ys_hand, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(as_tuple(state), state_hand, atol=ATOL, rtol=RTOL)

    names = [name for name, _ in layer.named_parameters()]
    wrt = [inputs, *hx, *layer.parameters()]
    keys = ["input", *(f"hx[{i}]" for i in range(len(hx))), *names]
    grads = dict(zip(keys, torch.autograd.grad(weighted_sum([ys, *as_tuple(state)]), wrt)))
    grads_hand = dict(zip(keys, torch.autograd.grad(weighted_sum([ys_hand, *state_hand]), wrt)))
    torch.testing.assert_close(grads, grads_hand, atol=ATOL, rtol=RTOL)


class MinimalGatedCell(Cell):
    """A minimal gated unit (Zhou et al. 2016), written by a user: no backward_step.

        f  = σ(W_if x + b_if + W_hf h + b_hf)
        n  = tanh(W_in x + b_in + W_hn (f ⊙ h) + b_hn)
        h' = (1 - f) ⊙ h + f ⊙ n
    """

    num_gates = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)
        self._create_parameters(None, torch.float64)

    def gates_projected(self, xw: Tensor, state: Tensor):
        x_f, x_n = xw.chunk(2, dim=-1)
        W_hf, W_hn = self.weight_hh.chunk(2)
        b_hf, b_hn = self.bias_hh.chunk(2) if self.bias else (None, None)
        f = torch.sigmoid(x_f + F.linear(state, W_hf, b_hf))
        n = torch.tanh(x_n + F.linear(f * state, W_hn, b_hn))
        return f, n

    def update(self, gates, state: Tensor) -> Tensor:
        f, n = gates
        return (1 - f) * state + f * n


def minimal_gated_by_hand(cell: MinimalGatedCell, inputs: Tensor, h0: Tensor, lengths: list[int], reverse: bool):
    """The minimal gated unit's equations in a plain loop, one sequence at a time."""
    W_if, W_in = cell.weight_ih.chunk(2)
    W_hf, W_hn = cell.weight_hh.chunk(2)
    b_if, b_in = cell.bias_ih.chunk(2)
    b_hf, b_hn = cell.bias_hh.chunk(2)
    outputs, finals = [], []
    for b, length in enumerate(lengths):
        h, ys = h0[b], [None] * length
        for t in (reversed(range(length)) if reverse else range(length)):
            x = inputs[t, b]
            f = torch.sigmoid(W_if @ x + b_if + W_hf @ h + b_hf)
            n = torch.tanh(W_in @ x + b_in + W_hn @ (f * h) + b_hn)
            h = (1 - f) * h + f * n
            ys[t] = h
        outputs.append(torch.stack(ys + [h0.new_zeros(h0.shape[1])] * (inputs.shape[0] - length)))
        finals.append(h)
    return torch.stack(outputs, dim=1), torch.stack(finals)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("lengths", [None, [5, 0, 3]], ids=["full", "lengths_with_0"])
def test_user_defined_cell_runs_through_recurrent(lengths, reverse):
    torch.manual_seed(0)
    cell = MinimalGatedCell(INPUT_SIZE, HIDDEN_SIZE)
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(BATCH_SIZE, HIDDEN_SIZE, dtype=torch.float64, requires_grad=True)

    ys, h_n = rnnlab.Recurrent(cell, reverse=reverse)(inputs, h0, None if lengths is None else torch.tensor(lengths))
    ys_hand, h_n_hand = minimal_gated_by_hand(cell, inputs, h0, lengths or [SEQ_LEN] * BATCH_SIZE, reverse)
    torch.testing.assert_close((ys, h_n), (ys_hand, h_n_hand), atol=ATOL, rtol=RTOL)

    wrt = [inputs, h0, *cell.parameters()]
    grads = torch.autograd.grad(weighted_sum([ys, h_n]), wrt)
    grads_hand = torch.autograd.grad(weighted_sum([ys_hand, h_n_hand]), wrt)
    torch.testing.assert_close(grads, grads_hand, atol=ATOL, rtol=RTOL)


def test_user_defined_cell_in_bidirectional_stack():
    torch.manual_seed(0)
    cells = [MinimalGatedCell(INPUT_SIZE, HIDDEN_SIZE), MinimalGatedCell(INPUT_SIZE, HIDDEN_SIZE),
             MinimalGatedCell(2 * HIDDEN_SIZE, HIDDEN_SIZE)]
    model = rnnlab.Stacked([rnnlab.Bidirectional(rnnlab.Recurrent(cells[0]), rnnlab.Recurrent(cells[1], reverse=True)),
                            rnnlab.Recurrent(cells[2])])
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    ys, (first, second) = model(inputs)  # default states from each cell's init_state
    zeros = torch.zeros(BATCH_SIZE, HIDDEN_SIZE, dtype=torch.float64)
    full = [SEQ_LEN] * BATCH_SIZE
    ys_f, h_f = minimal_gated_by_hand(cells[0], inputs, zeros, full, reverse=False)
    ys_b, h_b = minimal_gated_by_hand(cells[1], inputs, zeros, full, reverse=True)
    ys_2, h_2 = minimal_gated_by_hand(cells[2], torch.cat([ys_f, ys_b], dim=-1), zeros, full, reverse=False)
    torch.testing.assert_close((ys, first[0], first[1], second), (ys_2, h_f, h_b, h_2), atol=ATOL, rtol=RTOL)


def test_bidirectional_requires_a_reversed_backward_layer():
    cell = rnnlab.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"backward_layer.*reverse=False"):
        rnnlab.Bidirectional(rnnlab.Recurrent(cell), rnnlab.Recurrent(cell))


LEARNED = {
    "rnn": (lambda **kw: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, **kw), nn.RNN, {"initial_h": HIDDEN_SIZE}),
    "gru": (lambda **kw: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, **kw), nn.GRU, {"initial_h": HIDDEN_SIZE}),
    "lstm_proj": (lambda **kw: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=2, **kw), nn.LSTM,
                  {"initial_h": 2, "initial_c": HIDDEN_SIZE}),
}


@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("kind", list(LEARNED))
def test_learned_initial_state(kind, backend):
    make, _, expected = LEARNED[kind]
    torch.manual_seed(0)
    layer = make(num_layers=2, bidirectional=True, learn_initial_state=True, backend=backend, dtype=torch.float64)
    params = dict(layer.named_parameters())
    assert {name: tuple(p.shape) for name, p in params.items() if name.startswith("initial_")} == \
        {name: (4, size) for name, size in expected.items()}  # (L*D, P) and (L*D, H)
    assert all(not params[name].any() for name in expected)  # they start at zero

    with torch.no_grad():
        for name in expected:
            params[name].normal_()
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)

    # used when hx is None: the same as passing it, expanded over the batch, explicitly
    ys, state = layer(inputs)
    explicit = tuple(params[name].detach().unsqueeze(1).expand(-1, BATCH_SIZE, -1).clone().requires_grad_()
                     for name in expected)
    ys_explicit, state_explicit = layer(inputs, explicit if len(explicit) == 2 else explicit[0])
    torch.testing.assert_close((ys, *as_tuple(state)), (ys_explicit, *as_tuple(state_explicit)), atol=ATOL, rtol=RTOL)

    # it receives the gradient of the state it stands for, summed over the batch
    learned_grads = torch.autograd.grad(weighted_sum([ys, *as_tuple(state)]), [params[n] for n in expected])
    explicit_grads = torch.autograd.grad(weighted_sum([ys_explicit, *as_tuple(state_explicit)]), explicit)
    torch.testing.assert_close(learned_grads, tuple(g.sum(1) for g in explicit_grads), atol=ATOL, rtol=RTOL)
    assert all(g.abs().sum() > 0 for g in learned_grads)

    # ignored when hx is given
    given = tuple(torch.randn(4, BATCH_SIZE, size, dtype=torch.float64) for size in expected.values())
    layer.zero_grad(set_to_none=True)
    ys_given, state_given = layer(inputs, given if len(given) == 2 else given[0])
    weighted_sum([ys_given, *as_tuple(state_given)]).backward()
    assert all(params[name].grad is None or not params[name].grad.any() for name in expected)
    assert all(p.grad is not None for name, p in params.items() if name not in expected)  # but the weights learn


@pytest.mark.parametrize("kind", list(LEARNED))
def test_learned_initial_state_at_zero_equals_torch(kind):
    make, torch_type, _ = LEARNED[kind]
    torch.manual_seed(0)
    layer = make(learn_initial_state=True, dtype=torch.float64)
    theirs = torch_type(INPUT_SIZE, HIDDEN_SIZE, dtype=torch.float64, **({"proj_size": 2} if kind == "lstm_proj" else {}))
    theirs.load_state_dict({k: v for k, v in layer.state_dict().items() if not k.startswith("initial_")})
    inputs = torch.randn(SEQ_LEN, 1, INPUT_SIZE, dtype=torch.float64)
    ys, state = layer(inputs)
    ys_ref, state_ref = theirs(inputs)
    torch.testing.assert_close((ys, *as_tuple(state)), (ys_ref, *as_tuple(state_ref)), atol=ATOL, rtol=RTOL)


def test_learned_initial_state_unbatched():
    torch.manual_seed(0)
    layer = rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, learn_initial_state=True, dtype=torch.float64)
    with torch.no_grad():
        layer.initial_h.normal_()
        layer.initial_c.normal_()
    inputs = torch.randn(SEQ_LEN, INPUT_SIZE, dtype=torch.float64)
    ys, state = layer(inputs)
    ys_explicit, state_explicit = layer(inputs, (layer.initial_h.detach(), layer.initial_c.detach()))
    assert ys.shape == (SEQ_LEN, HIDDEN_SIZE) and state.h.shape == (1, HIDDEN_SIZE)
    torch.testing.assert_close((ys, *state), (ys_explicit, *state_explicit), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("backend", ["reference", "native"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_flatten_parameters_puts_the_weights_in_one_buffer(kind, backend):
    """As torch's does for cuDNN: every weight a view of one contiguous buffer in torch's order; the
    parameters stay the same objects with the same values, outputs and gradients are unchanged, and
    an optimizer step and a state_dict round trip still act on them."""
    torch.manual_seed(0)
    layer_type = {"rnn": rnnlab.RNN, "lstm": rnnlab.LSTM, "gru": rnnlab.GRU}[kind]
    layer = layer_type(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, backend=backend, dtype=torch.float64)
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    before = layer(inputs)[0]
    grads_before = torch.autograd.grad(before.sum(), list(layer.parameters()))
    parameters = [(name, p, p.detach().clone()) for name, p in layer.named_parameters()]
    storages = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    assert len(storages) == len(parameters)  # separate before

    assert layer.flatten_parameters() is None
    weights = [p for _, p, _ in parameters]
    assert {p.untyped_storage().data_ptr() for p in weights} == {weights[0].untyped_storage().data_ptr()}
    offsets = [p.storage_offset() for p in weights]
    assert offsets == list(itertools.accumulate([0] + [p.numel() for p in weights[:-1]]))  # torch's order, no gaps
    assert all(p.is_contiguous() for p in weights)
    assert [(name, p) for name, p in layer.named_parameters()] == [(name, p) for name, p, _ in parameters]
    for (_, p, value) in parameters:
        assert torch.equal(p, value)
    after = layer(inputs)[0]
    torch.testing.assert_close(after, before, atol=0, rtol=0)
    torch.testing.assert_close(torch.autograd.grad(after.sum(), weights), grads_before, atol=0, rtol=0)

    optimizer = torch.optim.SGD(weights, lr=0.1)
    layer(inputs)[0].sum().backward()
    optimizer.step()
    assert {p.untyped_storage().data_ptr() for p in weights} == {weights[0].untyped_storage().data_ptr()}
    assert not torch.equal(weights[0], parameters[0][2])  # the step reached the buffer
    copy = layer_type(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, backend=backend, dtype=torch.float64)
    copy.load_state_dict(layer.state_dict())
    torch.testing.assert_close(copy(inputs)[0], layer(inputs)[0], atol=0, rtol=0)


def test_flatten_parameters_leaves_tied_weights_alone():
    """Weights that already share memory (tied by the user) are not separated, as torch leaves them."""
    layer = rnnlab.GRU(INPUT_SIZE, INPUT_SIZE, num_layers=2, dtype=torch.float64)
    layer.weight_hh_l1 = layer.weight_hh_l0
    layer.flatten_parameters()
    assert layer.weight_hh_l1 is layer.weight_hh_l0
    assert layer.weight_ih_l0.untyped_storage().data_ptr() != layer.weight_hh_l0.untyped_storage().data_ptr()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_dropout_between_layers_only_as_torch(kind):
    """dropout=1 zeroes every layer's output but the last, deterministically; so training-mode
    dropout placement can be compared with torch exactly."""
    torch_type = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    torch.manual_seed(0)
    theirs = torch_type(INPUT_SIZE, HIDDEN_SIZE, num_layers=3, dropout=1.0, dtype=torch.float64).train()
    ours = rnnlab.from_torch(theirs, backend="reference")
    assert ours.training
    inputs = torch.randn(SEQ_LEN, BATCH_SIZE, INPUT_SIZE, dtype=torch.float64)
    ys, state = ours(inputs)
    ys_ref, state_ref = theirs(inputs)
    torch.testing.assert_close((ys, *as_tuple(state)), (ys_ref, *as_tuple(state_ref)), atol=ATOL, rtol=RTOL)
    assert ys.abs().sum() > 0  # the last layer's output is not dropped
