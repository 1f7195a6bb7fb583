"""The forecasting network: shapes, its encoding, parameter count, what the task builds, a short fit, errors."""

import dataclasses

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab.metrics.regression import mae
from rnnlab.tasks.forecast import ForecastConfig, ForecastNetwork, ForecastTask
from rnnlab.tasks.forecast.baselines import naive_forecast


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_output_shape(cell, horizon, bidirectional, num_layers):
    model = ForecastNetwork(2, horizon, cell=cell, hidden_size=5, num_layers=num_layers, bidirectional=bidirectional)
    xs = torch.randn(4, 7, 2)  # (B, T, C)
    assert model(xs).shape == (4, horizon)
    assert model.encode(xs).shape == (4, (2 if bidirectional else 1) * 5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_encoder_is_the_requested_rnnlab_layer(cell):
    model = ForecastNetwork(1, 1, cell=cell, hidden_size=4)
    expected = {"rnn": rnnlab.RNN, "lstm": rnnlab.LSTM, "gru": rnnlab.GRU}[cell]
    assert type(model.encoder) is expected and model.encoder.batch_first


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_bidirectional_encoding_is_last_forward_and_first_backward_output(cell, num_layers):
    torch.manual_seed(0)
    model = ForecastNetwork(3, 2, cell=cell, hidden_size=4, num_layers=num_layers, bidirectional=True)
    xs = torch.randn(2, 6, 3)
    outputs, _ = model.encoder(xs)  # (B, T, 2H): [fwd | bwd] per step
    # forward has read the window when it reaches step T-1; backward when it reaches step 0
    expected = torch.cat([outputs[:, -1, :4], outputs[:, 0, 4:]], dim=-1)
    torch.testing.assert_close(model.encode(xs), expected)


def test_unidirectional_encoding_is_last_output():
    torch.manual_seed(0)
    model = ForecastNetwork(3, 2, cell="lstm", hidden_size=4, num_layers=2)
    xs = torch.randn(2, 6, 3)
    outputs, _ = model.encoder(xs)
    torch.testing.assert_close(model.encode(xs), outputs[:, -1])


def test_num_parameters_counted_by_hand():
    model = ForecastNetwork(1, 3, cell="lstm", hidden_size=8)
    # LSTM: 4 gates x 8 x (1 input + 8 hidden) = 288 weights, plus 2 biases x 4 x 8 = 64 -> 352
    # head: Linear(8 -> 3) = 8 x 3 + 3 = 27 -> 379
    assert model.num_parameters == 379
    bidirectional = ForecastNetwork(1, 3, cell="gru", hidden_size=8, bidirectional=True)
    # GRU per direction: 3 x 8 x (1 + 8) + 2 x 3 x 8 = 216 + 48 = 264; two: 528; head 16 x 3 + 3 = 51
    assert bidirectional.num_parameters == 579


def test_the_task_builds_the_network_its_settings_describe():
    task = ForecastTask(ForecastConfig(model="gru", hidden_size=6, num_layers=2, bidirectional=True, dropout=0.25,
                                       horizon=5))
    task.columns = ["sales", "temperature", "promo"]  # what prepare fits from the data
    model = task.build_model()
    encoder = model.encoder
    assert isinstance(encoder, rnnlab.GRU)
    assert (encoder.input_size, encoder.hidden_size, encoder.num_layers) == (3, 6, 2)
    assert encoder.bidirectional and encoder.dropout == 0.25
    assert model.horizon == 5 and model.head.out_features == 5


def test_the_config_is_frozen_and_checks_its_settings():
    config = ForecastConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden_size = 3
    with pytest.raises(ValueError, match="model must be one of .*'transformer'"):
        ForecastConfig(model="transformer")
    with pytest.raises(TypeError, match="window must be an int; received '12'"):
        ForecastConfig(window="12")
    with pytest.raises(TypeError, match="config must be a ForecastConfig; received dict"):
        ForecastTask({"model": "lstm"})


def test_errors_name_the_argument_and_value():
    with pytest.raises(ValueError, match="cell.*'transformer'"):
        ForecastNetwork(1, 1, cell="transformer")
    with pytest.raises(ValueError, match="horizon.*0"):
        ForecastNetwork(1, 0)
    with pytest.raises(ValueError, match="input_size.*-2"):
        ForecastNetwork(-2, 1)
    with pytest.raises(ValueError, match="hidden_size.*0"):
        ForecastNetwork(1, 1, hidden_size=0)
    model = ForecastNetwork(2, 1, hidden_size=3)
    with pytest.raises(ValueError, match=r"\(B, T, 2\).*\(4, 5, 3\)"):
        model(torch.randn(4, 5, 3))
    with pytest.raises(ValueError, match=r"\(B, T, 2\).*\(5, 2\)"):
        model(torch.randn(5, 2))


def _sine_windows(window: int, horizon: int):
    """Windows of a sine of period 20 and their next `horizon` values, with each target's start."""
    y = np.sin(2 * np.pi * np.arange(300) / 20)
    starts = np.arange(window, len(y) - horizon + 1)
    xs = torch.tensor(np.stack([y[s - window : s] for s in starts]), dtype=torch.float32)[..., None]  # (B, T, 1)
    ys = torch.tensor(np.stack([y[s : s + horizon] for s in starts]), dtype=torch.float32)            # (B, H)
    return y, starts, xs, ys


def test_short_fit_on_a_sine_beats_naive():
    torch.manual_seed(0)
    horizon = 3
    y, starts, xs, ys = _sine_windows(window=16, horizon=horizon)
    train, test = slice(0, 200), slice(200, None)  # test windows come after every training window
    model = ForecastNetwork(1, horizon, cell="lstm", hidden_size=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):  # full-batch Adam: about a second on a laptop CPU
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xs[train]), ys[train])
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        forecast = model(xs[test]).numpy()
    model_error = mae(ys[test].numpy(), forecast)
    naive_error = mae(ys[test].numpy(), naive_forecast(y, starts[test], horizon))  # about 0.39
    assert model_error < 0.25 * naive_error


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_forecasts_what_forward_forecasts_from_the_window_so_far(cell):
    torch.manual_seed(0)
    model = ForecastNetwork(2, horizon=3, cell=cell, hidden_size=5, num_layers=2, dropout=0.5).double().eval()
    xs = torch.randn(3, 6, 2, dtype=torch.float64)
    state = None
    for t in range(6):
        forecast, state = model.step(xs[:, t], state)
        torch.testing.assert_close(forecast, model(xs[:, : t + 1]), rtol=0.0, atol=1e-6)  # (B, horizon)


def test_a_bidirectional_forecaster_cannot_step_and_says_why():
    with pytest.raises(ValueError, match="causal.*received bidirectional=True"):
        ForecastNetwork(2, 1, hidden_size=4, bidirectional=True).step(torch.randn(1, 2))
    with pytest.raises(ValueError, match=r"x.*\(1, 3, 2\)"):
        ForecastNetwork(2, 1, hidden_size=4).step(torch.randn(1, 3, 2))
