"""The anomaly models: the next-step forecaster is causal and its `step` equals `forward` with the state
carried (float64, to 1e-6), a row reset mid-batch starts a new stream; the autoencoder reads whole
windows and says why it cannot step."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnnlab.tasks.anomaly.model import NextStepForecaster, SequenceAutoencoder

TOL = dict(rtol=0.0, atol=1e-6)
CELLS = ["rnn", "lstm", "gru"]
NUM_STEPS, BATCH_SIZE = 6, 3


def series(n: int = 60, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return np.sin(2 * np.pi * t / 12 + np.arange(channels)) + 0.1 * rng.standard_normal((n, channels))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forecaster_is_causal_and_equals_stepping_with_carried_state(cell):
    torch.manual_seed(0)
    model = NextStepForecaster(2, cell=cell, hidden_size=5, num_layers=2).double().eval()
    xs = torch.as_tensor(series(20))[None]                           # (1, T, C)
    predictions, final = model(xs)
    state, stepped = None, []
    for t in range(xs.shape[1]):
        prediction, state = model(xs[:, t : t + 1], state)
        stepped.append(prediction[:, 0])
    torch.testing.assert_close(torch.stack(stepped, dim=1), predictions)
    changed = xs.clone()
    changed[0, 10] += 5.0                                            # the future must not leak backwards
    later, _ = model(changed)
    torch.testing.assert_close(later[:, :10], predictions[:, :10])
    assert not torch.allclose(later[:, 10], predictions[:, 10])


def test_autoencoder_reconstructs_windows_of_its_shape_and_rejects_others():
    torch.manual_seed(0)
    model = SequenceAutoencoder(3, hidden_size=6, latent_size=2)
    assert model(torch.randn(4, 9, 3)).shape == (4, 9, 3)
    with pytest.raises(ValueError, match=r"windows must have shape \(B, W, 3\)"):
        model(torch.randn(4, 9, 2))
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceAutoencoder(3, cell="transformer")




@pytest.mark.parametrize("cell", CELLS)
def test_step_equals_forward_and_shares_its_state(cell):
    torch.manual_seed(0)
    model = NextStepForecaster(2, cell=cell, hidden_size=5, num_layers=2).double().eval()
    xs = torch.randn(BATCH_SIZE, NUM_STEPS, 2, dtype=torch.float64)
    predictions, final = model(xs)
    _, state = model(xs[:, :2])  # a history read whole, then the stream point by point
    for t in range(2, NUM_STEPS):
        prediction, state = model.step(xs[:, t], state)
        torch.testing.assert_close(prediction, predictions[:, t], **TOL)
    torch.testing.assert_close(tuple(state) if cell == "lstm" else state,
                               tuple(final) if cell == "lstm" else final, **TOL)


def test_reset_starts_a_new_stream_in_one_row():
    torch.manual_seed(0)
    model = NextStepForecaster(2, cell="lstm", hidden_size=5).double().eval()
    carried, first, second = (torch.randn(1, n, 2, dtype=torch.float64) for n in (5, 2, 3))
    xs = torch.cat([carried, torch.cat([first, second], dim=1)])  # (2, 5, 2): row 1 restarts at step 2
    state, outputs = None, []
    for t in range(5):
        prediction, state = model.step(xs[:, t], state, reset=torch.tensor([False, t == 2]))
        outputs.append(prediction)
    outputs = torch.stack(outputs, dim=1)  # (2, 5, C)
    torch.testing.assert_close(outputs[:1], model(carried)[0], **TOL)
    torch.testing.assert_close(outputs[1:, 2:], model(second)[0], **TOL)


def test_step_input_of_the_wrong_shape_is_named():
    model = NextStepForecaster(2, hidden_size=4)
    with pytest.raises(ValueError, match=re.escape("x must have shape (B, 2), one point per stream; received (1, 3)")):
        model.step(torch.randn(1, 3))
    with pytest.raises(ValueError, match=re.escape("xs must have shape (B, T, 2); received (4, 2)")):
        model(torch.randn(4, 2))


def test_the_autoencoder_cannot_step_and_says_what_streams_it():
    model = SequenceAutoencoder(2, hidden_size=4, latent_size=2)
    with pytest.raises(TypeError, match=r"SequenceAutoencoder cannot step.*whole window.*ScoreStream"):
        model.step(torch.randn(1, 2))
