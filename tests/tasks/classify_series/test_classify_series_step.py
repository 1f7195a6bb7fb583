"""The series classifier streams: `step` after each time step gives the logits `forward` gives so far."""

from __future__ import annotations

import re

import pytest
import torch

from rnnlab.tasks.classify_series.model import SeriesClassifierNetwork

TOL = dict(rtol=0.0, atol=1e-6)
NUM_STEPS, BATCH_SIZE = 6, 3


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_a_reset_row_pools_its_new_sequence_only(pooling):
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(2, 3, cell="lstm", hidden_size=5, pooling=pooling).double().eval()
    values = torch.randn(2, NUM_STEPS, 2, dtype=torch.float64)
    state = None
    for t in range(NUM_STEPS):
        logits, state = model.step(values[:, t], state, reset=torch.tensor([False, t == 2]))
        torch.testing.assert_close(logits[0], model(values[:1, : t + 1])[0], **TOL)
        if t >= 2:  # row 1's second sequence began at step 2: its logits are those of that sequence alone
            torch.testing.assert_close(logits[1], model(values[1:, 2 : t + 1])[0], **TOL)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_equals_forward(cell):
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(2, 4, cell=cell, hidden_size=5, num_layers=2, pooling="mean").double().eval()
    values = torch.randn(BATCH_SIZE, NUM_STEPS, 2, dtype=torch.float64)
    state = None
    for t in range(NUM_STEPS):
        logits, state = model.step(values[:, t], state)
    torch.testing.assert_close(logits, model(values), **TOL)


def test_a_bidirectional_classifier_cannot_step_and_says_why():
    with pytest.raises(ValueError, match="causal.*received bidirectional=True"):
        SeriesClassifierNetwork(2, 2, hidden_size=4, bidirectional=True).step(torch.randn(1, 2))


def test_step_input_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=re.escape("x") + ".*" + re.escape("(2,)")):
        SeriesClassifierNetwork(2, 2, hidden_size=4).step(torch.randn(2))


def test_the_state_must_be_the_pooled_stream():
    with pytest.raises(TypeError, match="state.*received Tensor"):
        SeriesClassifierNetwork(2, 2, hidden_size=4).step(torch.randn(1, 2), torch.zeros(1, 1, 4))
