"""The autoregressive decoder: recursion equals teacher forcing on its own values, causality, sample
paths, gradients, a tiny training run, and its argument errors."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from rnnlab.tasks.forecast.decoder import AutoregressiveNetwork
from rnnlab.tasks.forecast.outputs import QuantileOutput
from rnnlab.tasks.forecast.panel import PanelInputs, PanelModel

HORIZON, WINDOW, BATCH = 5, 9, 4
CELLS = ["rnn", "lstm", "gru"]


def network(cell="lstm", num_layers=1, future_features=0, statics=0, embedding_dim=0, outputs=3, seed=0,
            dtype=torch.float32, **options):
    torch.manual_seed(seed)
    model = AutoregressiveNetwork(HORIZON, outputs, cell=cell, hidden_size=8, num_layers=num_layers,
                                  past_features=3, future_features=future_features, statics=statics,
                                  embedding_dim=embedding_dim, **options)
    return model.to(dtype).eval()


def batch(model, dtype=torch.float32, seed=1):
    """(inputs, future, static) for `model`, with the features its constructor asked for."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(BATCH, WINDOW, model.past_features, generator=generator, dtype=dtype)
    future = None
    if model.future_features:
        future = torch.randn(BATCH, HORIZON, model.future_features, generator=generator, dtype=dtype)
    static = torch.arange(BATCH) % 3 if model.embedding is not None else None
    return inputs, future, static


def recording(choose):
    """A feedback that returns choose(raw) and keeps every value it returned, in `.values`."""
    def feedback(raw):
        value = choose(raw)
        feedback.values.append(value)
        return value
    feedback.values = []
    return feedback


# -- the key property: the recursion is teacher forcing on the values it fed itself --------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("future_features", [0, 2])
@pytest.mark.parametrize("embedding_dim", [0, 3])
@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_recursion_equals_teacher_forcing_on_its_own_values(cell, num_layers, future_features, embedding_dim,
                                                            dtype, tolerance):
    model = network(cell, num_layers, future_features, statics=3, embedding_dim=embedding_dim, dtype=dtype)
    inputs, future, static = batch(model, dtype)
    feedback = recording(lambda raw: raw[..., 0])
    with torch.no_grad():
        recursive = model(inputs, future, static, feedback=feedback)
        teacher = torch.cat(feedback.values, dim=1)  # (B, h): the values fed back (the last one unread)
        forced = model(inputs, future, static, teacher=teacher)
    assert recursive.shape == (BATCH, HORIZON, 3)
    assert len(feedback.values) == HORIZON
    torch.testing.assert_close(forced, recursive, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_recursion_on_the_quantile_median_equals_teacher_forcing(dtype, tolerance):
    output = QuantileOutput((0.1, 0.5, 0.9))
    model = network("lstm", 2, future_features=2, statics=3, embedding_dim=2, outputs=output.outputs, dtype=dtype)
    inputs, future, static = batch(model, dtype)
    feedback = recording(lambda raw: output.point(raw, None))
    with torch.no_grad():
        recursive = model(inputs, future, static, feedback=feedback)
        forced = model(inputs, future, static, teacher=torch.cat(feedback.values, dim=1))
    torch.testing.assert_close(forced, recursive, rtol=0, atol=tolerance)
    # and the values fed back are the medians the network predicted, step by step
    torch.testing.assert_close(torch.cat(feedback.values, dim=1), output.point(recursive, None), rtol=0, atol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_teacher_forcing_equals_the_decoder_stepped_by_hand(cell):
    """The module docstring's recursion written out with the layers' own `step`: v_0 = z_W, then
    d_k = [v_{k-1}, future_k, e] from the encoder's final state."""
    model = network(cell, 2, future_features=2, statics=3, embedding_dim=2, dtype=torch.float64)
    inputs, future, static = batch(model, torch.float64)
    teacher = torch.randn(BATCH, HORIZON, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        forced = model(inputs, future, static, teacher=teacher)
        _, state = model.encoder(inputs)
        embedding = model.embedding(static)  # (B, E)
        previous = torch.cat([inputs[:, -1:, 0], teacher[:, :-1]], dim=1)  # (B, h)
        raws = []
        for k in range(HORIZON):
            y, state = model.decoder.step(torch.cat([previous[:, k:k + 1], future[:, k], embedding], dim=-1), state)
            raws.append(model.head(y))
    torch.testing.assert_close(forced, torch.stack(raws, dim=1), rtol=0, atol=1e-12)


# -- causality of teacher forcing ----------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_teacher_forcing_is_causal(cell):
    model = network(cell, 2, future_features=1, statics=3, embedding_dim=2, dtype=torch.float64)
    inputs, future, static = batch(model, torch.float64)
    teacher = torch.randn(BATCH, HORIZON, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        raw = model(inputs, future, static, teacher=teacher)
        for k in range(HORIZON):
            later = teacher.clone()
            later[:, k:] += 10.0  # the true values from step k on
            moved = model(inputs, future, static, teacher=later)
            torch.testing.assert_close(moved[:, :k + 1], raw[:, :k + 1], rtol=0, atol=0)  # no step ≤ k reads them
            if k >= 1:
                previous = teacher.clone()
                previous[:, k - 1] += 1.0  # the value just before step k
                assert (model(inputs, future, static, teacher=previous)[:, k] - raw[:, k]).abs().max() > 1e-6


# -- sample paths --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_sample_paths_with_a_deterministic_draw_are_the_recursive_forecast(cell):
    model = network(cell, 2, future_features=2, statics=3, embedding_dim=2)
    inputs, future, static = batch(model)
    with torch.no_grad():
        recursive = model(inputs, future, static, feedback=lambda raw: raw[..., 0])[..., 0]  # (B, h)
        paths = model.sample_paths(inputs, future, static, lambda raw: raw[..., 0], 3)
    assert paths.shape == (3, BATCH, HORIZON)
    for path in paths:  # path i of window b is paths[i, b]
        torch.testing.assert_close(path, recursive, rtol=0, atol=1e-6)


def test_sample_paths_with_a_random_draw_differ_and_repeat_with_the_seed():
    output = QuantileOutput((0.1, 0.5, 0.9))
    model = network("lstm", future_features=2, outputs=output.outputs)
    inputs, future, static = batch(model)

    def paths(seed):
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return model.sample_paths(inputs, future, static, lambda raw: output.sample(raw, 1, generator, None)[0], 4)

    first = paths(0)
    assert first.shape == (4, BATCH, HORIZON)
    assert torch.isfinite(first).all()
    assert (first[1:] - first[:1]).abs().amin(dim=0).gt(0).all()  # every path of every window differs from path 0
    torch.testing.assert_close(paths(0), first, rtol=0, atol=0)
    assert not torch.equal(paths(1), first)


def test_sample_paths_feed_each_draw_back_in_path_first_order():
    """A draw that adds each window's own offset (B, 1), repeated path first as the docstring says:
    path i of window b equals the recursion fed raw[..., 0] + offset[b]."""
    model = network("rnn", 2)
    inputs, future, static = batch(model)
    offset = torch.arange(1.0, BATCH + 1)[:, None]  # (B, 1)
    with torch.no_grad():
        recursive = model(inputs, future, static, feedback=lambda raw: raw[..., 0] + offset)[..., 0] + offset
        paths = model.sample_paths(inputs, future, static, lambda raw: raw[..., 0] + offset.repeat(2, 1), 2)
    torch.testing.assert_close(paths[0], recursive, rtol=0, atol=1e-6)
    torch.testing.assert_close(paths[1], recursive, rtol=0, atol=1e-6)


# -- gradients, dropout, training ----------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_gradients_reach_every_parameter_under_teacher_forcing(cell):
    model = network(cell, 2, future_features=2, statics=3, embedding_dim=2).train()
    inputs, future, static = batch(model)
    teacher = torch.randn(BATCH, HORIZON)
    raw = model(inputs, future, static, teacher=teacher)
    ((raw[..., 0] - teacher) ** 2).mean().add(raw[..., 1:].square().mean()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().max() > 0, name


def test_dropout_acts_between_stacked_layers_only():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one layer: no "dropout has no effect" warning either
        single = AutoregressiveNetwork(HORIZON, 1, num_layers=1, dropout=0.5)
    assert single.encoder.dropout == single.decoder.dropout == 0.0
    stacked = AutoregressiveNetwork(HORIZON, 1, num_layers=2, dropout=0.5)
    assert stacked.encoder.dropout == stacked.decoder.dropout == 0.5


def sine_panel(count, generator):
    """Windows of z_t = a · sin(2π t / p + φ): random amplitude, period and phase per window.
    Returns inputs (B, 24, 2) [z, known] and targets (B, 6)."""
    steps = torch.arange(24 + 6, dtype=torch.float32)
    amplitude = 0.5 + torch.rand(count, 1, generator=generator)
    period = 8.0 + 8.0 * torch.rand(count, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(count, 1, generator=generator)
    z = amplitude * torch.sin(2 * math.pi * steps / period + phase)  # (B, 30)
    inputs = torch.stack([z[:, :24], torch.ones(count, 24)], dim=-1)  # (B, 24, 2)
    return inputs, z[:, 24:]


def test_a_tiny_training_run_learns_to_forecast_sine_waves():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = AutoregressiveNetwork(6, 1, cell="lstm", hidden_size=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        inputs, targets = sine_panel(32, generator)
        raw = model(inputs, teacher=targets)
        loss = ((raw[..., 0] - targets) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    inputs, targets = sine_panel(256, torch.Generator().manual_seed(99))
    with torch.no_grad():
        forecast = model.eval()(inputs, feedback=lambda raw: raw[..., 0])[..., 0]
    error = ((forecast - targets) ** 2).mean()
    zeros = (targets ** 2).mean()
    assert error < 0.1 * zeros, (error.item(), zeros.item())


def test_panel_model_drives_the_decoder_by_teacher_and_by_its_point():
    output = QuantileOutput((0.1, 0.5, 0.9))
    member = network("gru", future_features=2, statics=3, embedding_dim=2, outputs=output.outputs)
    model = PanelModel([member], output, autoregressive=True)
    inputs, future, static = batch(member)
    level = torch.ones(BATCH)
    with torch.no_grad():
        recursive = model(PanelInputs(inputs, future, static, None, level))  # (M, B, h, K)
        forced = model(PanelInputs(inputs, future, static, output.point(recursive[0], None), level))
    assert recursive.shape == (1, BATCH, HORIZON, output.outputs)
    torch.testing.assert_close(forced, recursive, rtol=0, atol=1e-6)


# -- errors --------------------------------------------------------------------------------------------

def test_argument_errors_name_the_argument_and_what_was_received():
    model = network("lstm", future_features=2, statics=3, embedding_dim=2)
    inputs, future, static = batch(model)
    teacher = torch.zeros(BATCH, HORIZON)
    cases = [
        (lambda: model(inputs[..., 0], future, static, teacher=teacher), r"inputs .*received \(4, 9\)"),
        (lambda: model(inputs[..., :2], future, static, teacher=teacher), r"inputs .*past_features=3.*\(4, 9, 2\)"),
        (lambda: model(inputs, None, static, teacher=teacher), r"future .*received None"),
        (lambda: model(inputs, future[..., :1], static, teacher=teacher), r"future .*\(4, 5, 2\).*\(4, 5, 1\)"),
        (lambda: model(inputs, future[:, :3], static, teacher=teacher), r"future .*received \(4, 3, 2\)"),
        (lambda: model(inputs, future[0], static, teacher=teacher), r"future .*received \(5, 2\)"),
        (lambda: model(inputs, future, None, teacher=teacher), r"static .*received None"),
        (lambda: model(inputs, future, static.float(), teacher=teacher), r"static .*torch.float32"),
        (lambda: model(inputs, future, static[:2], teacher=teacher), r"static .*shape \(2,\)"),
        (lambda: model(inputs, future, static, teacher=teacher[:, :-1]), r"teacher .*\(4, 5\); received \(4, 4\)"),
        (lambda: model(inputs, future, static, teacher=teacher[0]), r"teacher .*received \(5,\)"),
        (lambda: model(inputs, future, static), r"teacher .*feedback.*received neither"),
        (lambda: model(inputs, future, static, teacher=teacher, feedback=lambda raw: raw[..., 0]),
         r"teacher .*feedback.*received both"),
        (lambda: model(inputs, future, static, feedback=lambda raw: raw), r"feedback .*received \(4, 1, 3\)"),
        (lambda: model.sample_paths(inputs, future, static, lambda raw: raw[:, 0], 2), r"draw .*\(8, 1\).*\(8, 3\)"),
        (lambda: model.sample_paths(inputs, future, static, lambda raw: raw[..., 0], 0), r"n .*received 0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_future_is_refused_when_the_constructor_has_none():
    model = network("rnn")
    inputs, _, _ = batch(model)
    with pytest.raises(ValueError, match=r"future .*\(4, 5, 0\); received \(4, 5, 2\)"):
        model(inputs, torch.zeros(BATCH, HORIZON, 2), teacher=torch.zeros(BATCH, HORIZON))
    # None and a zero-width future are the same
    with torch.no_grad():
        teacher = torch.zeros(BATCH, HORIZON)
        torch.testing.assert_close(model(inputs, torch.zeros(BATCH, HORIZON, 0), teacher=teacher),
                                   model(inputs, None, teacher=teacher), rtol=0, atol=0)


@pytest.mark.parametrize("options, message", [
    (dict(cell="transformer"), r"cell .*'transformer'"),
    (dict(dropout=1.0), r"dropout .*received 1.0"),
    (dict(future_features=-1), r"future_features .*received -1"),
    (dict(embedding_dim=1.5), r"embedding_dim .*received 1.5"),
])
def test_constructor_errors(options, message):
    with pytest.raises(ValueError, match=message):
        AutoregressiveNetwork(HORIZON, 2, **options)


def test_static_columns_reach_every_decoder_step_and_recursion_still_equals_teacher_forcing():
    torch.manual_seed(0)
    model = AutoregressiveNetwork(HORIZON, 3, hidden_size=8, past_features=3, statics=3, embedding_dim=2,
                                  categories=(2, 3), category_dim=2).double().eval()
    inputs = torch.randn(BATCH, WINDOW, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    static = torch.tensor([[0, 1, 2], [1, 0, 0], [2, 1, 1], [0, 0, 2]])  # the id, then each column's category
    feedback = recording(lambda raw: raw[..., 0])
    with torch.no_grad():
        recursive = model(inputs, None, static, feedback=feedback)
        forced = model(inputs, None, static, teacher=torch.cat(feedback.values, dim=1))
        other = model(inputs, None, static.index_fill(1, torch.tensor([2]), 0), feedback=lambda raw: raw[..., 0])
    torch.testing.assert_close(forced, recursive, rtol=0, atol=1e-12)
    changed = (other - recursive).abs().amax(dim=(1, 2))
    assert (changed[static[:, 2] != 0] > 0).all() and (changed[static[:, 2] == 0] == 0).all()
    with pytest.raises(ValueError, match=r"static must be \(4, 3\) integer indices \(the series, then each "
                                         r"category\); received shape \(4,\), dtype torch.int64"):
        model(inputs, None, static[:, 0], feedback=lambda raw: raw[..., 0])
