"""The text classifier streams: `step` after each token gives the logits `forward` gives on the text so far."""

from __future__ import annotations

import re

import pytest
import torch

from rnnlab.layers.streaming import PooledStream
from rnnlab.tasks.classify_text.model import TextClassifierNetwork

TOL = dict(rtol=0.0, atol=1e-6)
NUM_STEPS, BATCH_SIZE = 6, 3


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_logits_equal_forward_on_the_text_so_far(cell, pooling):
    torch.manual_seed(0)
    model = TextClassifierNetwork(13, 3, cell=cell, embedding_dim=4, hidden_size=5, num_layers=2, dropout=0.2,
                                  pooling=pooling).double().eval()
    tokens = torch.randint(1, 13, (BATCH_SIZE, NUM_STEPS))
    state = None
    for t in range(NUM_STEPS):
        logits, state = model.step(tokens[:, t], state)
        torch.testing.assert_close(logits, model(tokens[:, : t + 1]), **TOL)
    assert isinstance(state, PooledStream)
    torch.testing.assert_close(state.count, torch.full((BATCH_SIZE, 1), float(NUM_STEPS), dtype=torch.float64))


def test_a_bidirectional_classifier_cannot_step_and_says_why():
    with pytest.raises(ValueError, match="causal.*received bidirectional=True"):
        TextClassifierNetwork(9, 2, hidden_size=4, bidirectional=True).step(torch.tensor([1]))


def test_tokens_of_the_wrong_shape_are_named():
    with pytest.raises(ValueError, match=re.escape("tokens") + ".*" + re.escape("(1, 2)")):
        TextClassifierNetwork(9, 2, hidden_size=4).step(torch.tensor([[1, 2]]))
