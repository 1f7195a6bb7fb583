"""The series classifier network and its pieces: padding never matters, the batches (the baselines: test_baselines.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.tasks.classify_series.model import (SeriesBatch, SeriesClassifierNetwork, pad_series, predict_probabilities,
                                                series_batches)
from rnnlab.tasks.parts import POOLINGS


def random_series(lengths, channels=3, seed=0):
    generator = np.random.default_rng(seed)
    return [generator.normal(size=(length, channels)).astype(np.float32) for length in lengths]


def test_pad_series_zero_pads_and_keeps_lengths():
    series = random_series([2, 4, 1])
    batch = pad_series(series)
    assert isinstance(batch, SeriesBatch) and batch.values.shape == (3, 4, 3)
    assert batch.lengths.tolist() == [2, 4, 1] and batch.lengths.dtype == torch.int64
    torch.testing.assert_close(batch.values[0, :2], torch.from_numpy(series[0]))
    assert batch.values[0, 2:].abs().sum() == 0 and batch.values[2, 1:].abs().sum() == 0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_logits_do_not_depend_on_padding_or_batch_mates(cell, pooling, bidirectional):
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(3, 4, cell=cell, hidden_size=5, num_layers=2, bidirectional=bidirectional,
                             pooling=pooling).double().eval()
    series = random_series([3, 7, 5], seed=1)
    batch = pad_series(series)
    together = model(batch.values.double(), batch.lengths)                        # (3, 4)
    for row, values in enumerate(series):
        alone = model(torch.from_numpy(values).double()[None])                    # no padding at all
        torch.testing.assert_close(together[row], alone[0])
    junk = batch.values.double().clone()
    junk[0, 3:] = 100.0                                                           # garbage past the end
    torch.testing.assert_close(model(SeriesBatch(junk, batch.lengths)), together)


def test_classifier_rejects_bad_arguments_and_shapes():
    with pytest.raises(ValueError, match="cell must be one of"):
        SeriesClassifierNetwork(3, 2, cell="transformer")
    with pytest.raises(ValueError, match=r"pooling must be one of \['last', 'mean', 'max'\]; received 'sum'"):
        SeriesClassifierNetwork(3, 2, pooling="sum")
    with pytest.raises(ValueError, match="num_classes must be at least 2; received 1"):
        SeriesClassifierNetwork(3, 1)
    model = SeriesClassifierNetwork(3, 2, hidden_size=4)
    with pytest.raises(ValueError, match=r"values must be \(B, T, 3\) and lengths \(B,\); received \(2, 5, 4\)"):
        model(torch.zeros(2, 5, 4), torch.tensor([5, 5]))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T=5\]; received \[0, 5\]"):
        model(torch.zeros(2, 5, 3), torch.tensor([0, 5]))


def test_series_batches_cover_every_sequence_and_shuffle_reproducibly():
    series, targets = random_series([2, 3, 4, 5, 6]), np.array([0, 1, 0, 1, 1])
    ordered = list(series_batches(series, targets, 2))
    assert [len(t) for _, t in ordered] == [2, 2, 1] and torch.cat([t for _, t in ordered]).tolist() == targets.tolist()
    def shuffled_lengths(seed):
        batches = series_batches(series, targets, 2, generator=torch.Generator().manual_seed(seed))
        return [batch.lengths.tolist() for batch, _ in batches]

    first, again = shuffled_lengths(3), shuffled_lengths(3)
    assert first == again and sorted(sum(first, [])) == [2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="series and targets must have the same length; received 5 and 2"):
        list(series_batches(series, targets[:2], 2))


def test_predict_probabilities_keeps_the_order_and_sums_to_one():
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(3, 3, hidden_size=4)
    series = random_series([4, 2, 6, 3, 5])
    probabilities = predict_probabilities(model, series, batch_size=2)
    assert probabilities.shape == (5, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(series[2])[None]).double(), dim=-1)[0].numpy()
    np.testing.assert_allclose(probabilities[2], expected, rtol=1e-6)


def test_model_learns_a_separable_problem():
    """Rising vs falling sequences of random lengths: a few hundred steps of Adam separate them."""
    generator = np.random.default_rng(0)
    lengths = generator.integers(3, 12, size=64)
    signs = generator.integers(0, 2, size=64)
    series = [((2 * s - 1) * np.linspace(-1, 1, n)[:, None] + 0.1 * generator.normal(size=(n, 2))).astype(np.float32)
              for s, n in zip(signs, lengths)]
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(2, 2, cell="gru", hidden_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(15):
        for batch, targets in series_batches(series, signs, 16, generator=torch.Generator().manual_seed(1)):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), targets).backward()
            optimizer.step()
    accuracy = (predict_probabilities(model, series).argmax(axis=1) == signs).mean()
    assert accuracy > 0.95
