"""Dynamic int8 inference (`rnnlab.interop.quantize`): the arithmetic, the layers, the model copy, the errors.

The int8 product is checked against its specification, not against itself: exact where the int8
grid represents the operands exactly, and within the rounding bound everywhere else. Layers are
checked against their float selves within a tolerance derived from that bound, and exactly (to
float rounding) against themselves where quantization must not change a thing: per-row scales
make a sequence's result independent of its batch-mates and of the padding after its end.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab
from rnnlab.interop.quantize import Int8Weight, quantize_dynamic
from rnnlab.tasks.classify_series import SeriesClassifierNetwork

INPUT_SIZE, HIDDEN_SIZE, NUM_STEPS, BATCH_SIZE = 6, 16, 9, 5
# A layer's int8 error, measured over the configurations below and input seeds 0–4: at most 0.004
# for the LSTMs and GRUs (outputs up to 0.3–0.7) and 0.008 for the tanh RNN (outputs up to 0.9).
# Each product errs by at most half a quantum of x times Σ|w| plus half a quantum of w times Σ|x|
# (test_product_error_within_rounding_bound), about 1 % of a pre-activation here; σ and tanh do
# not enlarge it (slopes ≤ 1/4 and ≤ 1) and a contracting recurrence does not let it grow over
# the steps. 0.03 leaves a margin for other seeds while catching any wrong scale, gate or row.
LAYER_TOL = dict(rtol=0.0, atol=0.03)
SAME = dict(rtol=0.0, atol=1e-6)  # what must not change at all, up to float rounding

LAYERS = {
    "lstm": lambda: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, batch_first=True),
    "lstm_proj": lambda: rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=4, batch_first=True),
    "gru": lambda: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, batch_first=True),
    "gru_reset_before": lambda: rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, batch_first=True),
    "rnn": lambda: rnnlab.RNN(INPUT_SIZE, HIDDEN_SIZE, batch_first=True),
}


def build(kind: str) -> nn.Module:
    torch.manual_seed(0)
    return LAYERS[kind]().eval()


def inputs(batch_size: int = BATCH_SIZE, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    xs = torch.randn(batch_size, NUM_STEPS, INPUT_SIZE, generator=generator)  # (B, T, F)
    lengths = torch.randint(1, NUM_STEPS + 1, (batch_size,), generator=generator)
    lengths[0] = NUM_STEPS
    return xs, lengths


def state_tensors(state) -> tuple[torch.Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def grid_matrix(rows: int, columns: int, seed: int) -> torch.Tensor:
    """Rows of integers in [-127, 127] times a per-row scale, each row reaching ±127: exact in int8."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randint(-127, 128, (rows, columns), generator=generator).double()
    values[:, 0] = 127 * torch.where(torch.rand(rows, generator=generator) < 0.5, -1.0, 1.0)
    scales = torch.rand(rows, 1, generator=generator, dtype=torch.float64) + 0.01
    return (values * scales).float()


# -- the int8 product --------------------------------------------------------------------------------


def test_product_is_exact_on_the_int8_grid():
    weight, x = grid_matrix(7, 11, seed=0), grid_matrix(4, 11, seed=1)  # W (N, K), x (M, K)
    bias = torch.randn(7)
    expected = x.double() @ weight.double().t() + bias.double()
    quantized = Int8Weight.quantize(weight)
    torch.testing.assert_close(quantized.dequantize(), weight, rtol=1e-6, atol=0.0)
    # the int32 sums are exact; what is left is float32 rounding of the scaling (relative ~1e-7)
    torch.testing.assert_close(F.linear(x, quantized, bias).double(), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(torch.addmm(bias.expand(4, 7), x, quantized.t()).double(), expected,
                               rtol=1e-5, atol=1e-4)


def test_product_error_within_rounding_bound():
    torch.manual_seed(0)
    x, weight = torch.randn(3, 8, 40), torch.randn(24, 40) * 0.2  # x (..., K) with leading dims, W (N, K)
    quantized = Int8Weight.quantize(weight)
    out = F.linear(x, quantized)  # (3, 8, 24)
    exact = x.double() @ weight.double().t()
    # x = x̂ + e_x with |e_x| ≤ s_x / 2 per row; W likewise: |x Wᵀ - x̂ Ŵᵀ| ≤ s_x/2 Σ|w| + s_w/2 Σ|x̂|
    s_x = x.double().abs().amax(-1, keepdim=True) / 127  # (3, 8, 1)
    s_w = weight.double().abs().amax(-1) / 127  # (N,)
    bound = s_x / 2 * weight.double().abs().sum(-1) + s_w / 2 * (x.double().abs() + s_x / 2).sum(-1, keepdim=True)
    error = (out.double() - exact).abs()
    assert out.shape == (3, 8, 24)
    assert bool((error <= bound * (1 + 1e-5) + 1e-6).all()), float((error - bound).max())
    assert float(error.max()) > 1e-4  # the int8 path ran, not a float product


def test_all_zero_rows_quantize_to_zeros():
    weight = torch.randn(5, 4)
    weight[2] = 0.0
    quantized = Int8Weight.quantize(weight)
    x = torch.randn(3, 4)
    x[1] = 0.0
    out = F.linear(x, quantized, torch.ones(5))
    assert bool(torch.isfinite(out).all())
    torch.testing.assert_close(out[1], torch.ones(5))
    torch.testing.assert_close(out[:, 2], torch.ones(3))


def test_int8_weight_refuses_other_uses():
    quantized = Int8Weight.quantize(torch.randn(6, 4))
    with pytest.raises(TypeError, match="matmul is not supported on an Int8Weight"):
        torch.matmul(torch.randn(2, 6), quantized)
    with pytest.raises(TypeError, match="slice of its rows"):
        quantized[0]
    with pytest.raises(TypeError, match="must be torch.float32 on cpu; received torch.float64"):
        F.linear(torch.randn(2, 4, dtype=torch.float64), quantized)
    with pytest.raises(RuntimeError, match="not differentiable"):
        F.linear(torch.randn(2, 4, requires_grad=True), quantized)


# -- quantized layers --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_close_to_float(kind):
    layer = build(kind)
    quantized = quantize_dynamic(layer)
    xs, lengths = inputs()
    with torch.no_grad():
        ys, final = layer(xs, lengths=lengths)
        ys_q, final_q = quantized(xs, lengths=lengths)
    torch.testing.assert_close(ys_q, ys, **LAYER_TOL)
    for h_q, h in zip(state_tensors(final_q), state_tensors(final), strict=True):
        torch.testing.assert_close(h_q, h, **LAYER_TOL)
    assert float((ys_q - ys).abs().max()) > 1e-5  # int8, not float, computed it
    padding = torch.arange(NUM_STEPS)[None, :] >= lengths[:, None]  # (B, T)
    assert bool((ys_q[padding] == 0).all())  # outputs past a sequence's end stay exact zeros


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequences_independent_of_batch_and_padding(kind):
    """Per-row scales: a sequence alone and unpadded gives what it gives inside a padded batch."""
    quantized = quantize_dynamic(build(kind))
    xs, lengths = inputs()
    with torch.no_grad():
        ys, final = quantized(xs, lengths=lengths)
        h_n = final.h if isinstance(final, rnnlab.LSTMState) else final  # (L*D, B, H)
        for row, length in enumerate(lengths.tolist()):
            ys_alone, final_alone = quantized(xs[row : row + 1, :length])
            h_alone = final_alone.h if isinstance(final_alone, rnnlab.LSTMState) else final_alone
            torch.testing.assert_close(ys[row : row + 1, :length], ys_alone, **SAME)
            torch.testing.assert_close(h_n[:, row : row + 1], h_alone, **SAME)


@pytest.mark.parametrize("cell_type", [rnnlab.LSTMCell, rnnlab.GRUCell])
def test_cell_close_to_float(cell_type):
    torch.manual_seed(0)
    cell = cell_type(INPUT_SIZE, HIDDEN_SIZE)
    quantized = quantize_dynamic(cell)
    x = torch.randn(BATCH_SIZE, INPUT_SIZE)
    with torch.no_grad():
        state, state_q = cell(x), quantized(x)
        state, state_q = cell(x, state), quantized(x, state_q)  # a second step, from a non-zero state
    for a_q, a in zip(state_tensors(state_q), state_tensors(state), strict=True):
        torch.testing.assert_close(a_q, a, **LAYER_TOL)
        assert float((a_q - a).abs().max()) > 1e-6


def test_packed_input_hx_and_learned_initial_state():
    """What the layer offers beyond a padded batch works on the int8 copy as in float."""
    torch.manual_seed(0)
    layer = rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, batch_first=True, learn_initial_state=True)
    with torch.no_grad():
        layer.initial_h.normal_()
        layer.initial_c.normal_()
    quantized = quantize_dynamic(layer)
    xs, lengths = inputs()
    hx = (torch.randn(2, BATCH_SIZE, HIDDEN_SIZE), torch.randn(2, BATCH_SIZE, HIDDEN_SIZE))
    with torch.no_grad():
        ys, final = quantized(xs, lengths=lengths)  # from the learned initial state
        packed = pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        ys_packed, final_packed = quantized(packed)
        ys_packed, _ = pad_packed_sequence(ys_packed, batch_first=True, total_length=NUM_STEPS)
        torch.testing.assert_close(ys_packed, ys, **SAME)
        torch.testing.assert_close(tuple(final_packed), tuple(final), **SAME)
        torch.testing.assert_close(ys, layer(xs, lengths=lengths)[0], **LAYER_TOL)
        torch.testing.assert_close(quantized(xs, hx)[0], layer(xs, hx)[0], **LAYER_TOL)


def test_streaming_steps_equal_forward():
    quantized = quantize_dynamic(rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, batch_first=True))
    xs, _ = inputs()
    with torch.no_grad():
        ys, final = quantized(xs)
        state = None
        for t in range(NUM_STEPS):
            y, state = quantized.step(xs[:, t], state)
            torch.testing.assert_close(y, ys[:, t], **SAME)
    torch.testing.assert_close(tuple(state), tuple(final), **SAME)


def test_task_model_close_to_float():
    """A series classifier (bidirectional GRU with lengths, max pooling, linear head), end to end."""
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(INPUT_SIZE, 4, cell="gru", hidden_size=HIDDEN_SIZE, bidirectional=True,
                             pooling="max").eval()
    quantized = quantize_dynamic(model)
    xs, lengths = inputs(batch_size=8)
    with torch.no_grad():
        logits, logits_q = model(xs, lengths), quantized(xs, lengths)
    torch.testing.assert_close(logits_q, logits, **LAYER_TOL)
    assert isinstance(quantized.head.weight, Int8Weight)
    assert isinstance(quantized.encoder.weight_hh_l0_reverse, Int8Weight)


# -- the copy and the original -----------------------------------------------------------------------


def test_original_untouched_and_copy_frozen():
    model = nn.ModuleDict({"encoder": rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, batch_first=True, backend="native"),
                           "head": nn.Linear(HIDDEN_SIZE, 3)}).train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    quantized = quantize_dynamic(model)

    assert model.training and model["encoder"].backend == "native"
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert set(model.state_dict()) == set(before)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name

    assert not quantized.training and quantized["encoder"].backend == "reference"
    assert not any(p.requires_grad for p in quantized.parameters())
    assert sorted(quantized.state_dict()) == ["encoder.bias_hh_l0", "encoder.bias_ih_l0", "head.bias"]
    assert isinstance(quantized["head"].weight, Int8Weight)


# -- what it refuses ---------------------------------------------------------------------------------


def test_refuses_torch_recurrent_modules():
    model = nn.ModuleDict({"encoder": nn.LSTM(INPUT_SIZE, HIDDEN_SIZE), "head": nn.Linear(HIDDEN_SIZE, 2)})
    with pytest.raises(TypeError, match=re.escape("model.encoder is a torch.nn.LSTM") + ".*rnnlab.from_torch"):
        quantize_dynamic(model)


def test_refuses_models_without_anything_to_quantize():
    with pytest.raises(ValueError, match="no rnnlab RNN, LSTM or GRU layer or cell and no nn.Linear"):
        quantize_dynamic(nn.Sequential(nn.Embedding(10, 4), nn.ReLU()))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module; received dict"):
        quantize_dynamic({"encoder": rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE)})


def test_refuses_float64_and_twice_quantized_models():
    message = "float32 weights on the CPU; received model.weight_ih_l0 as torch.float64"
    with pytest.raises(ValueError, match=re.escape(message)):
        quantize_dynamic(rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE, dtype=torch.float64))
    quantized = quantize_dynamic(rnnlab.GRU(INPUT_SIZE, HIDDEN_SIZE))
    with pytest.raises(ValueError, match="holds int8 weights already"):
        quantize_dynamic(quantized)


def test_quantized_model_refuses_gradients():
    quantized = quantize_dynamic(rnnlab.LSTM(INPUT_SIZE, HIDDEN_SIZE, batch_first=True))
    xs = torch.randn(2, 3, INPUT_SIZE, requires_grad=True)
    with pytest.raises(RuntimeError, match="int8 products are not differentiable"):
        quantized(xs)
    with pytest.raises(RuntimeError, match="int8 products are not differentiable"):
        quantized.step(xs[:, 0])
    with torch.no_grad():
        assert quantized(xs)[0].shape == (2, 3, HIDDEN_SIZE)

