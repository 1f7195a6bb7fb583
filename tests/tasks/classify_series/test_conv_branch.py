"""LSTM-FCN's convolutional branch: batch norm over real steps equals torch's on full rows, padding never
matters, it trains and saves through the task, and it refuses to step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.tasks.classify_series.model import MaskedBatchNorm1d, SeriesBatch, SeriesClassifierNetwork, pad_series


def full_mask(batch, steps):
    return torch.ones(batch, 1, steps, dtype=torch.bool)


def test_masked_batch_norm_equals_torch_on_full_length_rows_in_training_and_eval():
    torch.manual_seed(0)
    ours, theirs = MaskedBatchNorm1d(4).double(), nn.BatchNorm1d(4).double()
    with torch.no_grad():
        for module in (ours, theirs):
            module.weight.copy_(torch.tensor([0.5, 1.0, 2.0, -1.0]))
            module.bias.copy_(torch.tensor([0.1, 0.0, -0.3, 0.2]))
    for _ in range(3):                                                   # running estimates move the same way
        values = (torch.randn(5, 4, 7, dtype=torch.float64) * 3 + 1).requires_grad_()
        mine, reference = ours(values, full_mask(5, 7)), theirs(values)
        torch.testing.assert_close(mine, reference)
        grads = torch.autograd.grad((mine * torch.cos(mine)).sum(), [values, ours.weight, ours.bias])
        expected = torch.autograd.grad((reference * torch.cos(reference)).sum(), [values, theirs.weight, theirs.bias])
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got, want)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    ours.eval(), theirs.eval()
    values = torch.randn(2, 4, 6, dtype=torch.float64)
    torch.testing.assert_close(ours(values, full_mask(2, 6)), theirs(values))


def test_masked_batch_norm_counts_real_steps_only():
    torch.manual_seed(1)
    norm = MaskedBatchNorm1d(3, affine=False).double()
    real = [torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)]
    padded = torch.full((2, 3, 4), 50.0, dtype=torch.float64)           # junk past the second row's end
    padded[0], padded[1, :, :2] = real[0], real[1]
    mask = torch.tensor([[True] * 4, [True, True, False, False]])[:, None, :]
    out = norm(padded, mask)
    joined = torch.cat(real, dim=1)                                      # (3, 6) the six real steps
    expected = (joined - joined.mean(1, keepdim=True)) / torch.sqrt(joined.var(1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(torch.cat([out[0], out[1, :, :2]], dim=1), expected)
    assert out[1, :, 2:].abs().sum() == 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_conv_branch_logits_do_not_depend_on_padding_or_junk(cell):
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(3, 4, cell=cell, hidden_size=5, bidirectional=True, pooling="max",
                                    conv_branch=True).double()
    model.train()
    model(torch.randn(4, 9, 3, dtype=torch.float64), torch.tensor([9, 4, 6, 2]))  # move the running estimates
    model.eval()
    generator = np.random.default_rng(2)
    series = [generator.normal(size=(length, 3)) for length in (3, 9, 5)]
    batch = pad_series(series)
    together = model(batch.values.double(), batch.lengths)
    for row, values in enumerate(series):
        torch.testing.assert_close(together[row], model(torch.from_numpy(values)[None])[0])
    junk = batch.values.double().clone()
    junk[0, 3:] = 100.0
    torch.testing.assert_close(model(SeriesBatch(junk, batch.lengths)), together)
    assert model.head.in_features == 2 * 5 + 128


def test_conv_branch_training_ignores_padding_in_its_statistics():
    torch.manual_seed(0)
    model = SeriesClassifierNetwork(2, 3, hidden_size=4, conv_branch=True).double().train()
    values = torch.randn(2, 6, 2, dtype=torch.float64)
    lengths = torch.tensor([6, 3])
    junk = values.clone()
    junk[1, 3:] = -40.0
    torch.testing.assert_close(model(values, lengths), model(junk, lengths))


def test_a_conv_branch_classifier_cannot_step_and_says_why():
    model = SeriesClassifierNetwork(3, 2, hidden_size=4, conv_branch=True)
    with pytest.raises(ValueError, match="conv_branch=True cannot step"):
        model.step(torch.zeros(2, 3))


def test_the_estimator_trains_saves_and_reloads_with_the_conv_branch(tmp_path):
    generator = np.random.default_rng(0)
    labels = np.array([0, 1] * 12)
    series = [generator.normal(size=(int(generator.integers(8, 14)), 2)) + 2.0 * label for label in labels]
    fitted = rnnlab.SeriesClassifier(conv_branch=True, epochs=2, hidden_size=4, batch_size=8, seed=0)
    fitted.fit(series, labels)
    path = tmp_path / "run"
    fitted.save(path)
    loaded = rnnlab.SeriesClassifier.load(path)
    assert loaded.get_params()["conv_branch"] is True
    np.testing.assert_allclose(loaded.predict_proba(series), fitted.predict_proba(series), rtol=1e-6)
