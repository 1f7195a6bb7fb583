"""rnnlab.RNN / LSTM / GRU against torch.nn.RNN / LSTM / GRU, in float64.

torch.nn is the oracle: each test builds the torch module, copies it with `from_torch`, runs both
on the same input and compares outputs, final states and the gradients of the input, h_0 / c_0 and
every parameter. The loss weights the outputs and each final state with its own fixed random
weights, so every piece reaches the loss through a different, non-trivial path.

Configurations come from a deterministic generator (`random_config(seed)`): the seed fixes the
cell kind and the input mode (so all pairs are covered), and draws the rest. Test ids name the
configuration, so a failure says what it ran.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import rnnlab

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru")
INPUT_MODES = ("plain", "lengths", "packed_sorted", "packed_unsorted", "unbatched")
BACKENDS = ("reference", "auto")
NUM_RANDOM_CONFIGS = 75  # x 2 backends = 150 tests; each (kind, input mode) pair appears 3 times

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout after all but last recurrent layer")


@dataclass(frozen=True)
class Config:
    seed: int
    kind: str
    input_mode: str
    num_layers: int
    bidirectional: bool
    batch_first: bool
    bias: bool
    with_hx: bool
    dropout: float
    seq_len: int
    batch_size: int
    input_size: int
    hidden_size: int
    proj_size: int

    def id(self) -> str:
        parts = [f"s{self.seed}", self.kind, self.input_mode, f"L{self.num_layers}",
                 "bi" if self.bidirectional else "uni", "bf" if self.batch_first else "tm",
                 "bias" if self.bias else "nobias", "hx" if self.with_hx else "nohx",
                 f"drop{self.dropout}", f"T{self.seq_len}B{self.batch_size}F{self.input_size}H{self.hidden_size}"]
        if self.proj_size:
            parts.append(f"P{self.proj_size}")
        return "-".join(parts)


def random_config(seed: int) -> Config:
    rng = random.Random(seed)
    kind = KINDS[seed % len(KINDS)]
    input_mode = INPUT_MODES[(seed // len(KINDS)) % len(INPUT_MODES)]
    hidden_size = rng.randint(2, 5)
    return Config(
        seed=seed,
        kind=kind,
        input_mode=input_mode,
        num_layers=rng.randint(1, 3),
        bidirectional=rng.random() < 0.5,
        batch_first=rng.random() < 0.5,
        bias=rng.random() < 0.75,
        with_hx=rng.random() < 0.5,
        dropout=rng.choice([0.0, 0.0, 0.4]),  # run in eval mode when > 0, where it must do nothing
        seq_len=rng.randint(1, 6),
        batch_size=rng.randint(1, 4),
        input_size=rng.randint(1, 4),
        hidden_size=hidden_size,
        proj_size=rng.randint(1, hidden_size - 1) if kind == "lstm_proj" else 0,
    )


def grid_config(kind: str, num_layers: int, bidirectional: bool, bias: bool) -> Config:
    return Config(seed=0, kind=kind, input_mode="plain", num_layers=num_layers, bidirectional=bidirectional,
                  batch_first=False, bias=bias, with_hx=False, dropout=0.0, seq_len=5, batch_size=3,
                  input_size=3, hidden_size=4, proj_size=2 if kind == "lstm_proj" else 0)


def build_torch_module(config: Config) -> nn.Module:
    common = dict(num_layers=config.num_layers, bias=config.bias, batch_first=config.batch_first,
                  dropout=config.dropout, bidirectional=config.bidirectional, dtype=torch.float64)
    if config.kind.startswith("rnn"):
        module = nn.RNN(config.input_size, config.hidden_size, nonlinearity=config.kind[4:], **common)
    elif config.kind.startswith("lstm"):
        module = nn.LSTM(config.input_size, config.hidden_size, proj_size=config.proj_size, **common)
    else:
        module = nn.GRU(config.input_size, config.hidden_size, **common)
    # dropout only acts in training; with dropout > 0 the layers must agree in eval mode
    return module.train(config.dropout == 0)


def state_tensors(state) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def check_parity(config: Config, backend: str) -> None:
    torch.manual_seed(config.seed)
    reference = build_torch_module(config)
    ours = rnnlab.from_torch(reference, backend=backend)
    assert ours.training == reference.training

    num_stacked = config.num_layers * (2 if config.bidirectional else 1)
    seq_len, batch_size = config.seq_len, config.batch_size
    unbatched = config.input_mode == "unbatched"
    if unbatched:
        input_shape = (seq_len, config.input_size)
    elif config.batch_first:
        input_shape = (batch_size, seq_len, config.input_size)
    else:
        input_shape = (seq_len, batch_size, config.input_size)
    inputs = torch.randn(input_shape, dtype=torch.float64, requires_grad=True)

    hx_sizes = (config.proj_size or config.hidden_size,)
    if config.kind.startswith("lstm"):
        hx_sizes += (config.hidden_size,)
    hx = None
    if config.with_hx:
        batch = () if unbatched else (batch_size,)
        hx = tuple(torch.randn(num_stacked, *batch, size, dtype=torch.float64, requires_grad=True) for size in hx_sizes)
    hx_arg = hx if hx is None or len(hx) == 2 else hx[0]

    rng = random.Random(config.seed)
    lengths = None
    if config.input_mode in ("lengths", "packed_sorted", "packed_unsorted"):
        lengths = [rng.randint(1, seq_len) for _ in range(batch_size)]
        if config.input_mode == "packed_sorted":
            lengths.sort(reverse=True)

    if config.input_mode == "lengths":
        packed = pack_padded_sequence(inputs, lengths, batch_first=config.batch_first, enforce_sorted=False)
        out_packed_ref, state_ref = reference(packed, hx_arg)
        out_ref, _ = pad_packed_sequence(out_packed_ref, batch_first=config.batch_first, total_length=seq_len)
        out, state = ours(inputs, hx_arg, lengths=torch.tensor(lengths))
    elif config.input_mode.startswith("packed"):
        enforce_sorted = config.input_mode == "packed_sorted"
        def pack() -> PackedSequence:  # one per module: each backward pass frees its own packing graph
            return pack_padded_sequence(inputs, lengths, batch_first=config.batch_first, enforce_sorted=enforce_sorted)

        out_ref, state_ref = reference(pack(), hx_arg)
        out, state = ours(pack(), hx_arg)
        assert isinstance(out, PackedSequence)
        assert torch.equal(out.batch_sizes, out_ref.batch_sizes)
        if enforce_sorted:
            assert out.sorted_indices is None and out.unsorted_indices is None
        else:
            assert torch.equal(out.sorted_indices, out_ref.sorted_indices)
            assert torch.equal(out.unsorted_indices, out_ref.unsorted_indices)
        out, out_ref = out.data, out_ref.data
    else:
        out_ref, state_ref = reference(inputs, hx_arg)
        out, state = ours(inputs, hx_arg)

    if config.kind.startswith("lstm"):
        assert isinstance(state, rnnlab.LSTMState)
    else:
        assert isinstance(state, Tensor)
    states, states_ref = state_tensors(state), state_tensors(state_ref)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(states, states_ref, atol=1e-10, rtol=1e-10)

    if config.input_mode == "lengths":  # padding is exactly zero, not merely close to it
        time_major = out.transpose(0, 1) if config.batch_first else out  # (T, B, D*P)
        padding = torch.arange(seq_len).unsqueeze(1) >= torch.tensor(lengths)  # (T, B)
        assert torch.all(time_major[padding] == 0)

    # a loss that gives the outputs and each final state its own fixed random weights
    loss_weights = torch.Generator().manual_seed(1000 + config.seed)
    weights = [torch.randn(t.shape, dtype=torch.float64, generator=loss_weights) for t in (out, *states)]
    loss = sum((w * t).sum() for w, t in zip(weights, (out, *states)))
    loss_ref = sum((w * t).sum() for w, t in zip(weights, (out_ref, *states_ref)))

    names = [name for name, _ in reference.named_parameters()]
    wrt = [inputs, *(hx or ()), *(dict(ours.named_parameters())[name] for name in names)]
    wrt_ref = [inputs, *(hx or ()), *(dict(reference.named_parameters())[name] for name in names)]
    keys = ["input", *(f"hx[{k}]" for k in range(len(hx or ()))), *names]
    grads = dict(zip(keys, torch.autograd.grad(loss, wrt)))
    grads_ref = dict(zip(keys, torch.autograd.grad(loss_ref, wrt_ref)))
    torch.testing.assert_close(grads, grads_ref, atol=1e-10, rtol=1e-10)


RANDOM_CONFIGS = [random_config(seed) for seed in range(NUM_RANDOM_CONFIGS)]


def test_random_configs_cover_every_option():
    """The generator really produces what the random tests claim to cover."""
    seen = {(c.kind, c.input_mode) for c in RANDOM_CONFIGS}
    assert seen == {(k, m) for k in KINDS for m in INPUT_MODES}
    for field, values in (("num_layers", {1, 2, 3}), ("bidirectional", {False, True}), ("batch_first", {False, True}),
                          ("bias", {False, True}), ("with_hx", {False, True}), ("dropout", {0.0, 0.4})):
        assert {getattr(c, field) for c in RANDOM_CONFIGS} == values, field


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", RANDOM_CONFIGS, ids=Config.id)
def test_random_config_matches_torch(config, backend):
    check_parity(config, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["L1", "L2"])
@pytest.mark.parametrize("kind", KINDS)
def test_grid_matches_torch(kind, num_layers, bidirectional, bias, backend):
    check_parity(grid_config(kind, num_layers, bidirectional, bias), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lstm_takes_hx_as_a_list_like_torch(backend):
    torch.manual_seed(0)
    reference = nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    ours = rnnlab.from_torch(reference, backend=backend)
    inputs = torch.randn(5, 2, 3, dtype=torch.float64)
    hx = [torch.randn(2, 2, 4, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64)]
    out, state = ours(inputs, hx)
    out_ref, state_ref = reference(inputs, hx)
    torch.testing.assert_close((out, *state), (out_ref, *state_ref), atol=1e-10, rtol=1e-10)
