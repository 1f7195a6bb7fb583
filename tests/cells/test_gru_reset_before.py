"""The GRU of Cho et al. 2014 (reset_after=False), which torch lacks, against its equations and Keras.

With no torch oracle, the oracle is a direct transcription of the equations, written here with
plain tensor operations and differentiated by autograd:

    r  = σ(W_ir x + b_ir + W_hr h + b_hr)
    z  = σ(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
    h' = (1 - z) ⊙ n + z ⊙ h

The layer is transcribed one sequence at a time (each truncated to its own length, the reverse
direction reading it backwards), so no masking logic is shared with the library.

Keras is a second, independent oracle where it is installed (compared at float32 precision, which is
what Keras computes in). Keras's GRU (reset_after=False)
stores `kernel` (F, 3H) and `recurrent_kernel` (H, 3H) with column blocks in the order [z | r | h]
(ours: row blocks [r | z | n] of W_ih (3H, F) and W_hh (3H, H)), and one `bias` (3H,), also
[z | r | h], added to the input projection. Its candidate is hh = tanh(x W_h + b_h + (r ⊙ h) U_h),
(keras/src/layers/rnn/gru.py, GRUCell.call, `ops.matmul(r * h_tm1, recurrent_kernel[:, 2 * units:])`),
and its update h' = z ⊙ h + (1 - z) ⊙ hh, the same as ours. In this form every bias is purely
additive, so b_ih + b_hh (reordered) is exactly Keras's bias:

    kernel           = [W_iz | W_ir | W_in]ᵀ
    recurrent_kernel = [W_hz | W_hr | W_hn]ᵀ
    bias             = [b_iz + b_hz | b_ir + b_hr | b_in + b_hn]
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any import of keras: no JAX/TensorFlow needed

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

import rnnlab  # noqa: E402

ATOL = RTOL = 1e-10


def step(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    """One step of the GRU of Cho et al., transcribed from the equations above."""
    W_ir, W_iz, W_in = w_ih.chunk(3)
    W_hr, W_hz, W_hn = w_hh.chunk(3)
    zeros = torch.zeros(w_hh.shape[1], dtype=x.dtype)
    b_ir, b_iz, b_in = b_ih.chunk(3) if b_ih is not None else (zeros,) * 3
    b_hr, b_hz, b_hn = b_hh.chunk(3) if b_hh is not None else (zeros,) * 3
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h


def layer_by_hand(layer: rnnlab.GRU, inputs: Tensor, h0: Tensor, lengths: list[int]):
    """The layer on time-major inputs (T, B, F), each sequence run alone over its real steps."""
    num_steps, num_directions = inputs.shape[0], 2 if layer.bidirectional else 1
    outputs, final_per_sequence = [], []
    for b, length in enumerate(lengths):
        xs = inputs[:length, b]  # (length, F): this sequence alone, no padding
        final = []
        for layer_index in range(layer.num_layers):
            per_direction = []
            for direction in range(num_directions):
                suffix = f"_l{layer_index}" + ("_reverse" if direction else "")
                weights = [getattr(layer, name + suffix, None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                h = h0[layer_index * num_directions + direction, b]
                ys = [None] * length
                for t in (reversed(range(length)) if direction else range(length)):
                    h = step(xs[t], h, *weights)
                    ys[t] = h
                per_direction.append(torch.stack(ys) if length else xs.new_zeros(0, h.shape[0]))
                final.append(h)
            xs = torch.cat(per_direction, dim=-1)  # (length, D*H), the next layer's input
        padding = xs.new_zeros(num_steps - length, xs.shape[1])
        outputs.append(torch.cat([xs, padding]))
        final_per_sequence.append(torch.stack(final))  # (L*D, H)
    return torch.stack(outputs, dim=1), torch.stack(final_per_sequence, dim=1)  # (T, B, D*H), (L*D, B, H)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_cell_equals_transcription(bias, batched):
    torch.manual_seed(0)
    cell = rnnlab.GRUCell(3, 4, bias=bias, reset_after=False, dtype=torch.float64)
    batch = (2,) if batched else ()
    x = torch.randn(*batch, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(*batch, 4, dtype=torch.float64, requires_grad=True)

    h_next = cell(x, h)
    h_expected = step(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    torch.testing.assert_close(h_next, h_expected, atol=ATOL, rtol=RTOL)

    weights = torch.randn(h_next.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    wrt = [x, h, *cell.parameters()]
    grads = torch.autograd.grad((weights * h_next).sum(), wrt)
    grads_expected = torch.autograd.grad((weights * h_expected).sum(), wrt)
    torch.testing.assert_close(grads, grads_expected, atol=ATOL, rtol=RTOL)


def test_cell_differs_from_reset_after():
    """The two forms really are different functions of the same weights (else the tests above prove little)."""
    torch.manual_seed(0)
    before = rnnlab.GRUCell(3, 4, reset_after=False, dtype=torch.float64)
    after = rnnlab.GRUCell(3, 4, reset_after=True, dtype=torch.float64)
    after.load_state_dict(before.state_dict())
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    assert (before(x, h) - after(x, h)).abs().max() > 1e-3


@pytest.mark.parametrize(
    ("num_layers", "bidirectional", "bias", "lengths"),
    [
        (1, False, True, None),
        (2, True, True, [5, 3, 1]),
        (3, True, False, [2, 5, 0]),
        (2, False, True, [4, 0, 5]),
    ],
    ids=["L1", "L2-bi-lengths", "L3-bi-nobias-lengths-0", "L2-lengths-0"],
)
def test_layer_equals_transcription(num_layers, bidirectional, bias, lengths):
    torch.manual_seed(0)
    seq_len, batch_size = 5, 3
    layer = rnnlab.GRU(2, 3, num_layers, bias=bias, bidirectional=bidirectional, reset_after=False,
                       dtype=torch.float64)
    assert layer.backend == "auto"  # must fall back to the reference: native cannot run this form
    inputs = torch.randn(seq_len, batch_size, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(num_layers * (2 if bidirectional else 1), batch_size, 3, dtype=torch.float64, requires_grad=True)

    ys, h_n = layer(inputs, h0, lengths=None if lengths is None else torch.tensor(lengths))
    ys_expected, h_n_expected = layer_by_hand(layer, inputs, h0, lengths or [seq_len] * batch_size)
    torch.testing.assert_close(ys, ys_expected, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(h_n, h_n_expected, atol=ATOL, rtol=RTOL)

    generator = torch.Generator().manual_seed(1)
    w_out = torch.randn(ys.shape, dtype=torch.float64, generator=generator)
    w_state = torch.randn(h_n.shape, dtype=torch.float64, generator=generator)
    names = [name for name, _ in layer.named_parameters()]
    wrt = [inputs, h0, *layer.parameters()]
    keys = ["input", "h0", *names]
    grads = torch.autograd.grad((w_out * ys).sum() + (w_state * h_n).sum(), wrt)
    grads_expected = torch.autograd.grad((w_out * ys_expected).sum() + (w_state * h_n_expected).sum(), wrt)
    torch.testing.assert_close(dict(zip(keys, grads)), dict(zip(keys, grads_expected)), atol=ATOL, rtol=RTOL)


def keras_weights(layer: rnnlab.GRU):
    """Our layer-0 parameters in Keras's layout (see the module docstring)."""
    H = layer.hidden_size
    def reorder(t: Tensor) -> Tensor:  # row blocks [r|z|n] -> [z|r|n]
        return torch.cat([t[H : 2 * H], t[:H], t[2 * H :]])
    weights = [reorder(layer.weight_ih_l0).T, reorder(layer.weight_hh_l0).T]
    if layer.bias:
        weights.append(reorder(layer.bias_ih_l0 + layer.bias_hh_l0))
    return [w.detach().numpy() for w in weights]


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_layer_equals_keras(bias):
    """Keras computes in float32 even with float64 weights (its type promotion maps 64-bit results to
    32-bit, as JAX does by default), so ours runs in float64 and the comparison allows float32 error."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras runs on {keras.backend.backend()!r} here; this test needs KERAS_BACKEND=torch")
    torch.manual_seed(0)
    batch_size, seq_len, input_size, hidden_size = 3, 6, 4, 5
    ours = rnnlab.GRU(input_size, hidden_size, bias=bias, batch_first=True, reset_after=False, dtype=torch.float64)
    theirs = keras.layers.GRU(hidden_size, use_bias=bias, reset_after=False, return_sequences=True,
                              return_state=True, dtype="float32")
    theirs.build((batch_size, seq_len, input_size))
    theirs.set_weights([w.astype("float32") for w in keras_weights(ours)])

    inputs = torch.randn(batch_size, seq_len, input_size, dtype=torch.float64)
    h0 = torch.randn(1, batch_size, hidden_size, dtype=torch.float64)
    with torch.no_grad():
        ys, h_n = ours(inputs, h0)
    ys_keras, h_keras = theirs(inputs.float().numpy(), initial_state=[h0[0].float().numpy()])
    ys_keras = torch.as_tensor(keras.ops.convert_to_numpy(ys_keras)).double()
    h_keras = torch.as_tensor(keras.ops.convert_to_numpy(h_keras)).double()
    torch.testing.assert_close(ys, ys_keras, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_n[0], h_keras, atol=1e-5, rtol=1e-5)
    # and the form matters at this tolerance: Keras's reset_after=False is not torch's GRU
    reset_after = rnnlab.GRU(input_size, hidden_size, bias=bias, batch_first=True, dtype=torch.float64)
    reset_after.load_state_dict(ours.state_dict())
    with torch.no_grad():
        assert (reset_after(inputs, h0)[0] - ys_keras).abs().max() > 1e-3
