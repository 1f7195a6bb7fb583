"""The long-memory problems and their model: layouts, targets, determinism, baselines, shapes, errors."""

from __future__ import annotations

import math

import pytest
import torch

from rnnlab.layers.base import RecurrentLayer
from rnnlab.tasks.memory import AddingConfig, AddingTask, CopyConfig, MemoryModel
from rnnlab.tasks.memory.model import set_forget_bias
from rnnlab.tasks.memory.problems import (adding_metrics, adding_problem, copy_metrics, copy_task,
                                          memoryless_copy_metrics)
from rnnlab.tasks.memory.task import FreshBatches, data_generator


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("length", [2, 3, 10, 11])
def test_adding_problem_marks_one_step_in_each_half_and_targets_their_sum(length):
    inputs, targets = adding_problem(500, length, generator=generator())
    assert inputs.shape == (500, length, 2) and targets.shape == (500, 1)
    assert inputs.dtype == targets.dtype == torch.float32
    values, markers = inputs[..., 0], inputs[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0} and (markers.sum(dim=1) == 2).all()
    half = length // 2
    assert (markers[:, :half].sum(dim=1) == 1).all() and (markers[:, half:].sum(dim=1) == 1).all()
    for row in range(500):
        first, second = markers[row].nonzero().flatten().tolist()
        assert targets[row, 0] == values[row, first] + values[row, second]  # float32 sum, exactly
    if length == 10:  # every step of each half gets marked somewhere in 500 draws
        assert (markers.sum(dim=0) > 0).all()


def test_adding_problem_is_a_function_of_the_generator():
    first = adding_problem(8, 20, generator=generator(3))
    again = adding_problem(8, 20, generator=generator(3))
    other = adding_problem(8, 20, generator=generator(4))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])


def test_mean_predictor_scores_a_sixth_on_a_large_sample():
    _, targets = adding_problem(200_000, 4, generator=generator(1))
    baseline = adding_metrics(torch.ones_like(targets), targets)
    assert baseline["mse"] == pytest.approx(1 / 6, abs=0.002)  # Var(u_a + u_b) = 2/12; SE ≈ 0.0004
    assert baseline["mae"] == pytest.approx(1 / 3, abs=0.002)   # E|u_a + u_b - 1| for a triangle on [0, 2]
    assert adding_metrics(targets, targets) == {"mse": 0.0, "mae": 0.0, "within_0.04": 1.0}


def test_copy_task_layout():
    inputs, targets = copy_task(50, 6, symbols=5, copy_length=3, generator=generator())
    assert inputs.shape == (50, 6 + 2 * 3, 7) and targets.shape == (50, 12) and targets.dtype == torch.long
    assert (inputs.sum(dim=-1) == 1).all()  # one-hot
    tokens = inputs.argmax(dim=-1)
    message = tokens[:, :3]
    assert ((message >= 1) & (message <= 5)).all()
    assert (tokens[:, 3:8] == 0).all()        # T - 1 = 5 blanks
    assert (tokens[:, 8] == 6).all()          # the delimiter at the last of the T delay steps
    assert (tokens[:, 9:] == 0).all()         # K blanks while the model answers
    assert (targets[:, :9] == 0).all() and torch.equal(targets[:, 9:], message)
    again = copy_task(50, 6, symbols=5, copy_length=3, generator=generator())
    assert torch.equal(again[0], inputs) and torch.equal(again[1], targets)


def test_copy_metrics_and_the_memoryless_strategy():
    symbols, copy_length, length = 8, 10, 30
    _, targets = copy_task(400, length, symbols=symbols, copy_length=copy_length, generator=generator())
    steps = length + 2 * copy_length
    # the memoryless strategy as logits: certain blank before the answer, uniform over the symbols during it
    logits = torch.full((400, steps, symbols + 1), -1e9, dtype=torch.float64)
    logits[:, : steps - copy_length, 0] = 0.0
    logits[:, steps - copy_length :, 1:] = 0.0
    measured = copy_metrics(logits, targets, copy_length)
    expected = memoryless_copy_metrics(length, symbols, copy_length)
    assert measured["cross_entropy"] == pytest.approx(expected["cross_entropy"], rel=1e-9)
    assert expected["cross_entropy"] == pytest.approx(10 * math.log(8) / 50)
    assert expected["accuracy"] == 1 / 8
    perfect = torch.nn.functional.one_hot(targets, symbols + 1).double() * 50
    assert copy_metrics(perfect, targets, copy_length)["accuracy"] == 1.0
    assert copy_metrics(perfect, targets, copy_length)["sequence_accuracy"] == 1.0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_shapes_and_its_recurrent_layer(cell):
    torch.manual_seed(0)
    many_to_one = MemoryModel(cell, 2, 5, 2, 1)
    assert isinstance(many_to_one.recurrent, RecurrentLayer) and many_to_one.recurrent.backend == "auto"
    assert many_to_one(torch.rand(3, 7, 2)).shape == (3, 1)
    many_to_many = MemoryModel(cell, 4, 5, 1, 3, every_step=True)
    xs = torch.rand(3, 7, 4, dtype=torch.float64)
    ys = many_to_many.double()(xs)
    assert ys.shape == (3, 7, 3)
    # causal: the answer at step t reads only steps ≤ t
    changed = xs.clone()
    changed[:, 5:] += 1.0
    torch.testing.assert_close(many_to_many(changed)[:, :5], ys[:, :5])


def test_many_to_one_answers_from_the_last_step_of_the_top_layer():
    torch.manual_seed(0)
    model = MemoryModel("gru", 2, 4, 2, 1).double()
    xs = torch.rand(3, 6, 2, dtype=torch.float64)
    outputs, _ = model.recurrent(xs)
    torch.testing.assert_close(model(xs), model.head(outputs[:, -1]))


def test_forget_bias_sets_b_if_and_zeroes_b_hf_in_every_layer():
    torch.manual_seed(0)
    plain = MemoryModel("lstm", 2, 4, 2, 1)
    torch.manual_seed(0)
    biased = MemoryModel("lstm", 2, 4, 2, 1, forget_bias=1.5)
    for name, parameter in biased.recurrent.named_parameters():
        original = dict(plain.recurrent.named_parameters())[name]
        if name.startswith("bias_"):
            forget = parameter[4:8]
            assert torch.equal(forget, torch.full((4,), 1.5 if "_ih_" in name else 0.0))
            # the other gates keep torch's initialisation
            assert torch.equal(parameter[:4], original[:4]) and torch.equal(parameter[8:], original[8:])
        else:
            assert torch.equal(parameter, original)


def test_forget_bias_also_sets_a_torch_lstm_and_needs_biases():
    lstm = torch.nn.LSTM(2, 3)
    set_forget_bias(lstm, 2.0)
    assert torch.equal(lstm.bias_ih_l0[3:6] + lstm.bias_hh_l0[3:6], torch.full((3,), 2.0))
    with pytest.raises(ValueError, match="bias=False"):
        set_forget_bias(torch.nn.LSTM(2, 3, bias=False), 1.0)


def test_model_errors_name_the_argument():
    with pytest.raises(ValueError, match="cell must be one of .*received 'transformer'"):
        MemoryModel("transformer", 2, 4, 1, 1)
    with pytest.raises(ValueError, match="forget_bias applies to the LSTM only; received forget_bias=1.0 with "
                                         "cell='gru'"):
        MemoryModel("gru", 2, 4, 1, 1, forget_bias=1.0)
    with pytest.raises(ValueError, match="output_size must be a positive integer; received 0"):
        MemoryModel("rnn", 2, 4, 1, 0)
    with pytest.raises(ValueError, match=r"xs must have shape \(B, T, 2\); received \(3, 5, 4\)"):
        MemoryModel("rnn", 2, 4, 1, 1)(torch.zeros(3, 5, 4))


def test_generator_errors_name_the_argument():
    with pytest.raises(ValueError, match="length must be at least 2 .*received 1"):
        adding_problem(4, 1, generator=generator())
    with pytest.raises(ValueError, match="num_sequences must be a positive integer; received 0"):
        adding_problem(0, 10, generator=generator())
    with pytest.raises(ValueError, match="symbols must be at least 2 .*received 1"):
        copy_task(4, 10, symbols=1, generator=generator())
    with pytest.raises(ValueError, match="copy_length must be a positive integer; received 0"):
        copy_task(4, 10, copy_length=0, generator=generator())


@pytest.mark.parametrize("config, overrides, message", [
    (AddingConfig, {"length": 0}, "length must be a positive integer; received 0"),
    (AddingConfig, {"train_sequences": -1}, "train_sequences must be a positive integer; received -1"),
    (AddingConfig, {"test_sequences": 2.5}, "test_sequences must be an int; received 2.5"),
    (AddingConfig, {"bidirectional": True}, "received bidirectional=True"),
    (AddingConfig, {"forget_bias": math.inf}, "forget_bias must be a finite number or None; received inf"),
    (CopyConfig, {"symbols": 1}, "symbols must be at least 2 .*received 1"),
    (CopyConfig, {"copy_length": 0}, "copy_length must be a positive integer; received 0"),
])
def test_config_errors_name_the_argument(config, overrides, message):
    with pytest.raises((ValueError, TypeError), match=message):
        config(**overrides)


def test_forget_bias_reaches_the_lstm_only():
    assert AddingConfig(model="lstm", forget_bias=2.0).lstm_forget_bias() == 2.0
    assert AddingConfig(model="gru", forget_bias=2.0).lstm_forget_bias() is None


def test_splits_have_their_own_streams_and_epochs_draw_fresh_sequences():
    draws = {(split, epoch): torch.rand(4, generator=data_generator(0, split, epoch))
             for split, epoch in (("train", 1), ("train", 2), ("val", 0), ("test", 0))}
    values = list(draws.values())
    assert all(not torch.equal(a, b) for i, a in enumerate(values) for b in values[i + 1 :])
    assert torch.equal(torch.rand(4, generator=data_generator(0, "test")), draws["test", 0])
    assert not torch.equal(torch.rand(4, generator=data_generator(1, "test")), draws["test", 0])

    config = AddingConfig(length=6, train_sequences=10, batch_size=4)
    task = AddingTask(config)
    epoch = FreshBatches(task, 1)
    assert len(epoch) == 3 and [len(targets) for _, targets in epoch] == [4, 4, 2]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(epoch, FreshBatches(task, 1)))
    assert not torch.equal(next(iter(epoch))[0], next(iter(FreshBatches(task, 2)))[0])
