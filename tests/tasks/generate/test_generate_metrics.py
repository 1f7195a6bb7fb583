"""The numbers a language model is scored by (rnnlab.metrics.language) and its unigram baseline."""

import math

import pytest
import torch

from rnnlab.metrics.language import language_metrics
from rnnlab.tasks.generate.baselines import unigram_log_probs, unigram_nll


def test_unigram_is_add_one_smoothed():
    log_probs = unigram_log_probs([3, 1, 0])  # N = 4, V = 3: p = (4/7, 2/7, 1/7)
    torch.testing.assert_close(log_probs.exp(), torch.tensor([4 / 7, 2 / 7, 1 / 7], dtype=torch.float64))
    nats, tokens = unigram_nll(log_probs, torch.tensor([0, 2, 2, 1]))  # the first token is not predicted
    assert tokens == 3 and nats == pytest.approx(-2 * math.log(1 / 7) - math.log(2 / 7))
    with pytest.raises(ValueError, match="smoothing must be > 0"):
        unigram_log_probs([1, 0], smoothing=0.0)


def test_language_metrics_of_a_uniform_model():
    metrics = language_metrics(nats=100 * math.log(8), tokens=100, characters=400)
    assert metrics["perplexity"] == pytest.approx(8.0)  # uniform over V tokens: perplexity V
    assert metrics["bits_per_token"] == pytest.approx(3.0)
    assert metrics["bits_per_character"] == pytest.approx(0.75)  # 300 bits over 400 characters
    with pytest.raises(ValueError, match="must be positive"):
        language_metrics(1.0, 0, 1)
