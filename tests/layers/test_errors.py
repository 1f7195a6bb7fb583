"""Bad arguments raise ValueError or TypeError whose message names the argument and the value received.

Each case gives the exception type and two fragments that must both appear in the message, the
argument's name and the value received, in that order (checked by one `match` pattern).
"""

from __future__ import annotations

import re

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnlab


def pattern(name: str, value: str) -> str:
    """A `match` pattern: `name`, then later `value`, both literal."""
    return re.escape(name) + ".*" + re.escape(value)


CONSTRUCTION_CASES = {
    "hidden_size_0": (lambda: rnnlab.LSTM(3, 0), ValueError, "hidden_size", "received 0"),
    "hidden_size_negative": (lambda: rnnlab.GRU(3, -2), ValueError, "hidden_size", "received -2"),
    "hidden_size_float": (lambda: rnnlab.RNN(3, 2.5), TypeError, "hidden_size", "2.5"),
    "hidden_size_bool": (lambda: rnnlab.RNN(3, True), TypeError, "hidden_size", "True"),
    "input_size_0": (lambda: rnnlab.GRU(0, 4), ValueError, "input_size", "received 0"),
    "input_size_negative": (lambda: rnnlab.LSTM(-3, 4), ValueError, "input_size", "received -3"),
    "num_layers_0": (lambda: rnnlab.LSTM(3, 4, 0), ValueError, "num_layers", "received 0"),
    "dropout_1.5": (lambda: rnnlab.GRU(3, 4, dropout=1.5), ValueError, "dropout", "1.5"),
    "dropout_negative": (lambda: rnnlab.RNN(3, 4, dropout=-0.1), ValueError, "dropout", "-0.1"),
    "proj_size_equal_hidden": (lambda: rnnlab.LSTM(3, 4, proj_size=4), ValueError, "proj_size", "received 4"),
    "proj_size_above_hidden": (lambda: rnnlab.LSTM(3, 4, proj_size=9), ValueError, "proj_size", "received 9"),
    "proj_size_negative": (lambda: rnnlab.LSTM(3, 4, proj_size=-1), ValueError, "proj_size", "received -1"),
    "nonlinearity_sigmoid": (lambda: rnnlab.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity", "'sigmoid'"),
    "bias_not_bool": (lambda: rnnlab.GRU(3, 4, bias=1), TypeError, "bias", "received 1"),
    "backend_unknown": (lambda: rnnlab.LSTM(3, 4, backend="cudnn"), ValueError, "backend", "'cudnn'"),
    "cell_hidden_size_0": (lambda: rnnlab.GRUCell(3, 0), ValueError, "hidden_size", "received 0"),
    "cell_input_size_float": (lambda: rnnlab.RNNCell(1.0, 4), TypeError, "input_size", "1.0"),
    "cell_nonlinearity": (lambda: rnnlab.RNNCell(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity", "'sigmoid'"),
    "cell_proj_size": (lambda: rnnlab.LSTMCell(3, 4, proj_size=5), ValueError, "proj_size", "received 5"),
    "cell_reset_after": (lambda: rnnlab.GRUCell(3, 4, reset_after="no"), TypeError, "reset_after", "'no'"),
}


@pytest.mark.parametrize("case", list(CONSTRUCTION_CASES))
def test_bad_constructor_argument(case):
    make, error, name, value = CONSTRUCTION_CASES[case]
    with pytest.raises(error, match=pattern(name, value)):
        make()


def lstm():
    return rnnlab.LSTM(3, 4)


def gru():
    return rnnlab.GRU(3, 4, num_layers=2)


def inputs(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


def packed():
    return pack_padded_sequence(inputs(5, 2, 3), [5, 3])


FORWARD_CASES = {
    "input_1d": (lambda: lstm()(inputs(5)), ValueError, "input", "(5,)"),
    "input_4d": (lambda: lstm()(inputs(5, 2, 3, 1)), ValueError, "input", "(5, 2, 3, 1)"),
    "input_features": (lambda: lstm()(inputs(5, 2, 7)), ValueError, "input_size=3", "7"),
    "input_features_unbatched": (lambda: gru()(inputs(5, 2)), ValueError, "input_size=3", "(5, 2)"),
    "input_empty_time": (lambda: gru()(inputs(0, 2, 3)), ValueError, "input", "length 0"),
    "input_dtype": (lambda: lstm()(inputs(5, 2, 3, dtype=torch.float64)), TypeError, "input", "torch.float64"),
    "input_not_tensor": (lambda: lstm()([[1.0, 2.0, 3.0]]), TypeError, "input", "list"),
    "lengths_too_long": (lambda: lstm()(inputs(5, 2, 3), lengths=torch.tensor([6, 2])), ValueError, "lengths", "6"),
    "lengths_negative": (lambda: gru()(inputs(5, 2, 3), lengths=torch.tensor([-1, 2])), ValueError, "lengths", "-1"),
    "lengths_float": (lambda: lstm()(inputs(5, 2, 3), lengths=torch.tensor([1.0, 2.0])), TypeError, "lengths",
                      "torch.float32"),
    "lengths_float_list": (lambda: lstm()(inputs(5, 2, 3), lengths=[1.5, 2.0]), TypeError, "lengths", "float"),
    "lengths_device": (lambda: lstm()(inputs(5, 2, 3), lengths=torch.tensor([1, 2], device="meta")), ValueError,
                       "lengths", "meta"),
    "lengths_batch_size": (lambda: gru()(inputs(5, 2, 3), lengths=torch.tensor([1, 2, 3])), ValueError, "lengths",
                           "(3,)"),
    "lengths_2d": (lambda: gru()(inputs(5, 2, 3), lengths=torch.tensor([[1, 2]])), ValueError, "lengths", "(1, 2)"),
    "lengths_with_packed": (lambda: lstm()(packed(), lengths=torch.tensor([5, 3])), ValueError, "lengths", "(2,)"),
    "hx_shape": (lambda: gru()(inputs(5, 2, 3), torch.zeros(2, 3, 4)), ValueError, "hx", "(2, 3, 4)"),
    "hx_layers": (lambda: gru()(inputs(5, 2, 3), torch.zeros(1, 2, 4)), ValueError, "hx", "(1, 2, 4)"),
    "hx_unbatched_shape": (lambda: rnnlab.RNN(3, 4)(inputs(5, 3), torch.zeros(1, 2, 4)), ValueError, "hx",
                           "(1, 2, 4)"),
    "hx_not_tensor": (lambda: gru()(inputs(5, 2, 3), (torch.zeros(2, 2, 4),)), TypeError, "hx", "tuple"),
    "hx_dtype": (lambda: gru()(inputs(5, 2, 3), torch.zeros(2, 2, 4, dtype=torch.float64)), TypeError, "hx",
                 "torch.float64"),
    "lstm_h0_shape": (lambda: lstm()(inputs(5, 2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4))), ValueError,
                      "hx[0]", "(1, 3, 4)"),
    "lstm_c0_shape": (lambda: lstm()(inputs(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 5))), ValueError,
                      "hx[1]", "(1, 2, 5)"),
    "lstm_proj_h0_size": (lambda: rnnlab.LSTM(3, 4, proj_size=2)(inputs(5, 2, 3), (torch.zeros(1, 2, 4),
                                                                                    torch.zeros(1, 2, 4))),
                          ValueError, "hx[0]", "(1, 2, 4)"),
    "lstm_hx_tensor": (lambda: lstm()(inputs(5, 2, 3), torch.zeros(1, 2, 4)), TypeError, "hx", "Tensor"),
    "lstm_hx_1_tuple": (lambda: lstm()(inputs(5, 2, 3), (torch.zeros(1, 2, 4),)), TypeError, "hx", "length 1"),
    "forced_native_reset_before": (lambda: rnnlab.GRU(3, 4, reset_after=False, backend="native")(inputs(5, 2, 3)),
                                   ValueError, "backend='native'", "reset_after=False"),
    "forced_native_dtype": (lambda: rnnlab.LSTM(3, 4, backend="native", dtype=torch.float16)(
        inputs(5, 2, 3, dtype=torch.float16)), ValueError, "backend='native'", "torch.float16"),
    "cell_input_3d": (lambda: rnnlab.LSTMCell(3, 4)(inputs(2, 2, 3)), ValueError, "input", "(2, 2, 3)"),
    "cell_input_features": (lambda: rnnlab.GRUCell(3, 4)(inputs(2, 5)), ValueError, "input", "(2, 5)"),
    "cell_hx_shape": (lambda: rnnlab.GRUCell(3, 4)(inputs(2, 3), torch.zeros(2, 5)), ValueError, "hx", "(2, 5)"),
    "cell_lstm_c_shape": (lambda: rnnlab.LSTMCell(3, 4)(inputs(2, 3), (torch.zeros(2, 4), torch.zeros(3, 4))),
                          ValueError, "hx", "(3, 4)"),
}


@pytest.mark.parametrize("case", list(FORWARD_CASES))
def test_bad_forward_argument(case):
    call, error, name, value = FORWARD_CASES[case]
    with pytest.raises(error, match=pattern(name, value)):
        call()


def test_unknown_backend_on_assignment_names_it():
    layer = rnnlab.GRU(3, 4)
    with pytest.raises(ValueError, match=pattern("backend", "'cudnn'")):
        layer.backend = "cudnn"


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match=r"dropout=0\.5 has no effect with num_layers=1"):
        rnnlab.GRU(3, 4, dropout=0.5)
