"""Keras 3 ⇄ rnnlab (rnnlab.interop.keras): copied weights give the same function both ways.

Keras is the oracle: a Keras layer or stack with random weights (biases included: Keras starts
them at zero) goes through `from_keras`, and the rnnlab layer's output sequence and every final
state equal Keras's to 1e-5 in float32; an rnnlab layer goes through `to_keras` and Keras's
outputs equal rnnlab's; Keras → rnnlab → Keras gives Keras's weights back bit for bit. The grid
is cell (SimpleRNN tanh/relu, LSTM, GRU in both reset_after forms) × bias × (one layer,
Bidirectional, two stacked, two stacked Bidirectional). Then the promised errors.
"""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported: rnnlab's parity claim is on torch

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras", reason="keras is an optional dependency: pip install 'keras>=3' to run "
                                            "the Keras parity tests")

import rnnlab  # noqa: E402
from rnnlab.interop import from_keras, to_keras  # noqa: E402

# Keras's own variables warn on NumPy 2's copy keyword; nothing of rnnlab's
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

B, T, F, H = 3, 6, 4, 5
FLOAT32 = dict(atol=1e-5, rtol=1e-5)
KINDS = {  # name: (Keras layer factory, rnnlab layer factory)
    "rnn_tanh": (lambda **kw: keras.layers.SimpleRNN(H, **kw), lambda **kw: rnnlab.RNN(F, H, **kw)),
    "rnn_relu": (lambda **kw: keras.layers.SimpleRNN(H, activation="relu", **kw),
                 lambda **kw: rnnlab.RNN(F, H, nonlinearity="relu", **kw)),
    "lstm": (lambda **kw: keras.layers.LSTM(H, **kw), lambda **kw: rnnlab.LSTM(F, H, **kw)),
    "gru": (lambda **kw: keras.layers.GRU(H, **kw), lambda **kw: rnnlab.GRU(F, H, **kw)),
    "gru_reset_before": (lambda **kw: keras.layers.GRU(H, reset_after=False, **kw),
                         lambda **kw: rnnlab.GRU(F, H, reset_after=False, **kw)),
}
STRUCTURES = {"one": (1, False), "bidirectional": (1, True), "stacked": (2, False), "stacked_bidirectional": (2, True)}
GRID = pytest.mark.parametrize("structure", list(STRUCTURES))
BIAS = pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
KIND = pytest.mark.parametrize("kind", list(KINDS))


def keras_recurrent(kind: str, bias: bool, bidirectional: bool, dtype: str = "float32"):
    layer = KINDS[kind][0](use_bias=bias, return_sequences=True, return_state=True, dtype=dtype)
    # the wrapper's own dtype would cast the outputs to float32 unless given
    return keras.layers.Bidirectional(layer, dtype=dtype) if bidirectional else layer


def built(layer, shape=(None, None, F)):
    layer.build(shape)
    return layer


def randomize(model, seed: int = 0) -> None:
    """Every weight drawn anew, so that the biases (zeros from Keras's initializer) matter too."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype(w.dtype) for w in model.get_weights()])


def keras_model(kind: str, bias: bool, structure: str, dtype: str = "float32"):
    """One built Keras layer, or a functional chain whose outputs are [output, *every layer's states]."""
    num_layers, bidirectional = STRUCTURES[structure]
    if num_layers == 1:
        model = keras_recurrent(kind, bias, bidirectional, dtype=dtype)
        model.build((None, None, F))
    else:
        inputs = keras.Input((None, F), dtype=dtype)
        ys, states = inputs, []
        for _ in range(num_layers):
            ys, *state = keras_recurrent(kind, bias, bidirectional, dtype=dtype)(ys)
            states += state
        model = keras.Model(inputs, [ys, *states])
    randomize(model)
    return model


def run_keras(model, xs: np.ndarray) -> list[np.ndarray]:
    outputs = model(xs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]  # return_state=False: one tensor
    return [np.asarray(keras.ops.convert_to_numpy(t)) for t in outputs]


def run_ours(layer, xs: np.ndarray) -> list[np.ndarray]:
    """rnnlab's output, then its final states in Keras's order: layer, direction, then h before c."""
    with torch.no_grad():
        ys, final = layer(torch.from_numpy(xs))
    tensors = tuple(final) if isinstance(final, tuple) else (final,)
    states = [t[row] for row in range(tensors[0].shape[0]) for t in tensors]  # row l*D + d
    return [ys.numpy(), *(s.numpy() for s in states)]


def assert_all_close(ours: list[np.ndarray], theirs: list[np.ndarray], **tolerance) -> None:
    assert len(ours) == len(theirs)
    for index, (a, b) in enumerate(zip(ours, theirs)):
        torch.testing.assert_close(torch.from_numpy(a), torch.from_numpy(b), **tolerance, msg=f"output {index}")


def inputs(dtype=np.float32, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(B, T, F)).astype(dtype)


# -- Keras → rnnlab → Keras -----------------------------------------------------------------------


@GRID
@BIAS
@KIND
def test_from_keras_equals_keras_and_converts_back(kind, bias, structure):
    model = keras_model(kind, bias, structure)
    xs = inputs()
    ours = from_keras(model)
    num_layers, bidirectional = STRUCTURES[structure]
    expected = KINDS[kind][1](num_layers=num_layers, bias=bias, bidirectional=bidirectional, batch_first=True)
    assert repr(ours) == repr(expected)  # the repr names every constructor argument off its default
    assert_all_close(run_ours(ours, xs), run_keras(model, xs), **FLOAT32)

    back = to_keras(ours)
    restored, original = back.get_weights(), model.get_weights()
    assert [w.shape for w in restored] == [w.shape for w in original]
    for w_back, w in zip(restored, original):
        np.testing.assert_array_equal(w_back, w)  # exact: the only arithmetic is b + 0


# Keras's generic cell loop (SimpleRNN, GRU reset_after=False) is not float64 on the torch backend:
# keras.ops.matmul of two float64 tensors returns float32 there (Keras 3.15), 6e-8 from a float64
# NumPy loop that rnnlab's RNN matches to 2e-16. Its fused LSTM and GRU paths are float64 throughout.
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float64_both_ways(kind):
    model = keras_model(kind, True, "stacked_bidirectional", dtype="float64")
    xs = inputs(np.float64)
    ours = from_keras(model)
    assert ours.weight_ih_l0.dtype == torch.float64
    expected = run_keras(model, xs)
    assert all(array.dtype == np.float64 for array in expected)
    assert_all_close(run_ours(ours, xs), expected, atol=1e-12, rtol=1e-12)
    assert_all_close(run_keras(to_keras(ours), xs), expected, atol=1e-12, rtol=1e-12)


def test_from_keras_sequential_with_dropout_between_layers():
    """A Sequential converts as the functional chain does; Dropout between layers is rnnlab's dropout."""
    stack = keras.Sequential([keras.Input((None, F)), keras.layers.LSTM(H, return_sequences=True),
                              keras.layers.Dropout(0.25), keras.layers.LSTM(H, return_sequences=True),
                              keras.layers.Dropout(0.25), keras.layers.LSTM(H, return_sequences=True)])
    randomize(stack)
    ours = from_keras(stack).eval()  # eval: Keras's call defaults to inference
    assert (ours.num_layers, ours.dropout) == (3, 0.25)
    xs = inputs()
    assert_all_close(run_ours(ours, xs)[:1], run_keras(stack, xs), **FLOAT32)

    back = to_keras(ours, return_state=False)
    assert isinstance(back, keras.Sequential)
    assert [type(layer).__name__ for layer in back.layers] == ["LSTM", "Dropout", "LSTM", "Dropout", "LSTM"]
    assert back.layers[1].rate == 0.25
    for w_back, w in zip(back.get_weights(), stack.get_weights(), strict=True):
        np.testing.assert_array_equal(w_back, w)


def test_from_keras_generic_rnn_over_a_cell():
    layer = keras.layers.RNN(keras.layers.GRUCell(H, reset_after=False), return_sequences=True, return_state=True)
    layer.build((None, None, F))
    randomize(layer)
    ours = from_keras(layer)
    assert isinstance(ours, rnnlab.GRU) and ours.reset_after is False
    xs = inputs()
    assert_all_close(run_ours(ours, xs), run_keras(layer, xs), **FLOAT32)


def test_keras_output_without_sequences_is_the_final_state():
    """return_sequences=False gives h_n's directions side by side (not output[:, -1], for the backward half)."""
    layer = built(keras.layers.Bidirectional(keras.layers.GRU(H)))
    randomize(layer)
    xs = inputs()
    with torch.no_grad():
        _, h_n = from_keras(layer)(torch.from_numpy(xs))  # (2, B, H)
    assert_all_close([torch.cat([h_n[0], h_n[1]], dim=-1).numpy()], run_keras(layer, xs), **FLOAT32)


def test_from_keras_accepts_options_that_change_no_math():
    """unroll and use_cudnn choose how Keras runs the loop, not what it computes."""
    layer = keras.layers.LSTM(H, unroll=True, use_cudnn=False, return_sequences=True, return_state=True)
    layer.build((None, T, F))  # unroll needs the number of steps
    randomize(layer)
    xs = inputs()
    assert_all_close(run_ours(from_keras(layer), xs), run_keras(layer, xs), **FLOAT32)


def test_from_keras_warns_that_cell_dropout_is_dropped_and_agrees_at_inference():
    layer = keras.layers.GRU(H, dropout=0.3, recurrent_dropout=0.2, return_sequences=True, return_state=True)
    layer.build((None, None, F))
    randomize(layer)
    with pytest.warns(UserWarning, match=r"dropout=0\.3, recurrent_dropout=0\.2"):
        ours = from_keras(layer)
    xs = inputs()
    assert_all_close(run_ours(ours, xs), run_keras(layer, xs), **FLOAT32)


# -- rnnlab → Keras -------------------------------------------------------------------------------


@GRID
@BIAS
@KIND
def test_to_keras_equals_rnnlab(kind, bias, structure):
    num_layers, bidirectional = STRUCTURES[structure]
    torch.manual_seed(0)  # rnnlab's init draws every bias too, U(±1/√H)
    ours = KINDS[kind][1](num_layers=num_layers, bias=bias, bidirectional=bidirectional, batch_first=True)
    theirs = to_keras(ours)
    xs = inputs()
    assert_all_close(run_keras(theirs, xs), run_ours(ours, xs), **FLOAT32)


def test_to_keras_time_major_layer_still_gives_batch_first_keras():
    torch.manual_seed(0)
    ours = rnnlab.LSTM(F, H, num_layers=2, dropout=0.5).eval()  # batch_first=False
    theirs = to_keras(ours)
    assert [type(layer).__name__ for layer in theirs.layers] == ["InputLayer", "LSTM", "Dropout", "LSTM"]
    xs = inputs()
    ys, (h, c) = ours(torch.from_numpy(xs).transpose(0, 1))
    expected = [ys.transpose(0, 1), h[0], c[0], h[1], c[1]]
    assert_all_close(run_keras(theirs, xs), [t.detach().numpy() for t in expected], **FLOAT32)


def test_to_keras_without_state_returns_the_output_only():
    torch.manual_seed(0)
    ours = rnnlab.GRU(F, H, bidirectional=True, batch_first=True)
    theirs = to_keras(ours, return_state=False)
    assert isinstance(theirs, keras.layers.Bidirectional) and not theirs.return_state
    xs = inputs()
    assert_all_close(run_keras(theirs, xs), run_ours(ours, xs)[:1], **FLOAT32)


# -- errors ---------------------------------------------------------------------------------------


def two_branches():
    inputs = keras.Input((None, F))
    left = keras.layers.LSTM(H, return_sequences=True, name="left")(inputs)
    right = keras.layers.LSTM(H, return_sequences=True, name="right")(inputs)
    return keras.Model(inputs, keras.layers.Concatenate()([left, right]))


BAD_KERAS = {
    "sigmoid_rnn": (lambda: built(keras.layers.SimpleRNN(H, activation="sigmoid")), ValueError,
                    r"activation='sigmoid'"),
    "linear_rnn": (lambda: built(keras.layers.SimpleRNN(H, activation=None)), ValueError, r"activation='linear'"),
    "relu_lstm": (lambda: built(keras.layers.LSTM(H, activation="relu")), ValueError, r"activation='relu'"),
    "hard_sigmoid_gru": (lambda: built(keras.layers.GRU(H, recurrent_activation="hard_sigmoid")), ValueError,
                         r"recurrent_activation='hard_sigmoid'"),
    "stateful": (lambda: built(keras.layers.LSTM(H, stateful=True), (B, None, F)), ValueError, r"stateful=True"),
    "go_backwards": (lambda: built(keras.layers.GRU(H, go_backwards=True)), ValueError, r"go_backwards=True"),
    "merge_sum": (lambda: built(keras.layers.Bidirectional(keras.layers.LSTM(H), merge_mode="sum")), ValueError,
                  r"merge_mode='sum'"),
    "unlike_directions": (lambda: built(keras.layers.Bidirectional(
        keras.layers.LSTM(H), backward_layer=keras.layers.LSTM(H + 1, go_backwards=True))), ValueError,
        r"directions are alike.*5 units.*6 units"),
    "unbuilt": (lambda: keras.layers.LSTM(H), ValueError, r"built=False"),
    "mixed_stack": (lambda: keras.Sequential([keras.Input((None, F)), keras.layers.LSTM(H, return_sequences=True),
                                              keras.layers.GRU(H)]), ValueError, r"alike layers.*LSTM.*GRU"),
    "units_stack": (lambda: keras.Sequential([keras.Input((None, F)), keras.layers.GRU(H, return_sequences=True),
                                              keras.layers.GRU(H + 1)]), ValueError, r"5 units.*6 units"),
    "dense_in_stack": (lambda: keras.Sequential([keras.Input((None, F)), keras.layers.LSTM(H),
                                                 keras.layers.Dense(1)]), TypeError, r"is a Dense"),
    "dropout_first": (lambda: keras.Sequential([keras.Input((None, F)), keras.layers.Dropout(0.1),
                                                keras.layers.LSTM(H)]), ValueError, r"between recurrent layers"),
    "dropout_rates": (lambda: keras.Sequential([keras.Input((None, F))] + [
        layer for rate in (0.1, 0.2) for layer in (keras.layers.LSTM(H, return_sequences=True),
                                                   keras.layers.Dropout(rate))] + [keras.layers.LSTM(H)]),
        ValueError, r"received rates \[0\.1, 0\.2\]"),
    "branches": (two_branches, ValueError, r"not a chain"),
    "stacked_cells": (lambda: built(keras.layers.RNN([keras.layers.LSTMCell(H), keras.layers.LSTMCell(H)])),
                      TypeError, r"steps a StackedRNNCells"),
    "not_keras": (lambda: torch.nn.LSTM(F, H), TypeError, r"received LSTM"),
}


@pytest.mark.parametrize("case", list(BAD_KERAS))
def test_from_keras_rejects_what_rnnlab_cannot_follow(case):
    make, error, match = BAD_KERAS[case]
    with pytest.raises(error, match=match):
        from_keras(make())


@pytest.mark.parametrize("layer, error, match", [
    (lambda: rnnlab.LSTM(F, H, proj_size=2), ValueError, r"proj_size=2"),
    (lambda: rnnlab.GRU(F, H, learn_initial_state=True), ValueError, r"learn_initial_state=True"),
    (lambda: torch.nn.GRU(F, H), TypeError, r"received GRU"),
    (lambda: rnnlab.LSTMCell(F, H), TypeError, r"received LSTMCell"),
], ids=["proj_size", "learned_state", "torch_gru", "cell"])
def test_to_keras_rejects_what_keras_cannot_hold(layer, error, match):
    with pytest.raises(error, match=match):
        to_keras(layer())


# -- keras stays optional -------------------------------------------------------------------------


def test_importing_rnnlab_does_not_import_keras():
    code = "import sys, rnnlab, rnnlab.interop.keras; assert 'keras' not in sys.modules, 'keras was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("direction", ["from_keras", "to_keras"])
def test_missing_keras_says_how_to_install(monkeypatch, direction):
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` then fails as if it were not installed
    with pytest.raises(ImportError, match=rf"{direction} needs Keras 3.*pip install 'keras>=3'"):
        from_keras(object()) if direction == "from_keras" else to_keras(rnnlab.LSTM(F, H))
