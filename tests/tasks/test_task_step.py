"""`step` on the task models: after t steps of a stream, what a model returns equals its `forward`
on the first t steps read whole (float64, to 1e-6); a row reset mid-batch starts a new stream; and
the models that cannot stream (bidirectional ones, the reconstruction autoencoder) say why.
"""

from __future__ import annotations

import re

import pytest
import torch

from rnnlab.layers.streaming import PooledStream
from rnnlab.tasks.anomaly import NextStepForecaster, SequenceAutoencoder
from rnnlab.tasks.classify import TextClassifier
from rnnlab.tasks.classify_series import SeriesClassifier
from rnnlab.tasks.forecast import Forecaster
from rnnlab.tasks.generate import LanguageModel
from rnnlab.tasks.tag import Tagger, TaggerInputs

TOL = dict(rtol=0.0, atol=1e-6)
CELLS = ["rnn", "lstm", "gru"]
NUM_STEPS, BATCH_SIZE = 6, 3


def ready(model):
    """The model in float64 and eval mode (dropout off), with fixed weights."""
    return model.double().eval()


@pytest.mark.parametrize("cell", CELLS)
def test_forecaster_step_forecasts_what_forward_forecasts_from_the_window_so_far(cell):
    torch.manual_seed(0)
    model = ready(Forecaster(2, horizon=3, cell=cell, hidden_size=5, num_layers=2, dropout=0.5))
    xs = torch.randn(BATCH_SIZE, NUM_STEPS, 2, dtype=torch.float64)
    state = None
    for t in range(NUM_STEPS):
        forecast, state = model.step(xs[:, t], state)
        torch.testing.assert_close(forecast, model(xs[:, : t + 1]), **TOL)  # (B, horizon)


@pytest.mark.parametrize("cell", CELLS)
def test_next_step_forecaster_step_equals_forward_and_shares_its_state(cell):
    torch.manual_seed(0)
    model = ready(NextStepForecaster(2, cell=cell, hidden_size=5, num_layers=2))
    xs = torch.randn(BATCH_SIZE, NUM_STEPS, 2, dtype=torch.float64)
    predictions, final = model(xs)
    _, state = model(xs[:, :2])  # a history read whole, then the stream point by point
    for t in range(2, NUM_STEPS):
        prediction, state = model.step(xs[:, t], state)
        torch.testing.assert_close(prediction, predictions[:, t], **TOL)
    torch.testing.assert_close(tuple(state) if cell == "lstm" else state,
                               tuple(final) if cell == "lstm" else final, **TOL)


def test_next_step_forecaster_reset_starts_a_new_stream_in_one_row():
    torch.manual_seed(0)
    model = ready(NextStepForecaster(2, cell="lstm", hidden_size=5))
    carried, first, second = (torch.randn(1, n, 2, dtype=torch.float64) for n in (5, 2, 3))
    xs = torch.cat([carried, torch.cat([first, second], dim=1)])  # (2, 5, 2): row 1 restarts at step 2
    state, outputs = None, []
    for t in range(5):
        prediction, state = model.step(xs[:, t], state, reset=torch.tensor([False, t == 2]))
        outputs.append(prediction)
    outputs = torch.stack(outputs, dim=1)  # (2, 5, C)
    torch.testing.assert_close(outputs[:1], model(carried)[0], **TOL)
    torch.testing.assert_close(outputs[1:, 2:], model(second)[0], **TOL)


def test_sequence_autoencoder_cannot_step_and_says_what_streams_it():
    model = SequenceAutoencoder(2, hidden_size=4, latent_size=2)
    with pytest.raises(TypeError, match=r"SequenceAutoencoder cannot step.*whole window.*ScoreStream"):
        model.step(torch.randn(1, 2))


@pytest.mark.parametrize("cell", CELLS)
def test_language_model_step_gives_forward_logits_after_a_prompt(cell):
    torch.manual_seed(0)
    model = ready(LanguageModel(11, cell=cell, embedding_dim=4, hidden_size=6, num_layers=2, dropout=0.3))
    tokens = torch.randint(0, 11, (BATCH_SIZE, NUM_STEPS))
    logits, _ = model(tokens)
    _, state = model(tokens[:, :2])  # the prompt in one call, as `sample` reads it
    for t in range(2, NUM_STEPS):
        step_logits, state = model.step(tokens[:, t], state)
        torch.testing.assert_close(step_logits, logits[:, t], **TOL)


def test_language_model_reset_row_equals_its_new_stream_alone():
    torch.manual_seed(0)
    model = ready(LanguageModel(11, cell="gru", embedding_dim=4, hidden_size=6))
    tokens = torch.randint(0, 11, (2, NUM_STEPS))
    state, rows = None, []
    for t in range(NUM_STEPS):
        step_logits, state = model.step(tokens[:, t], state, reset=torch.tensor([t == 3, False]))
        rows.append(step_logits)
    rows = torch.stack(rows, dim=1)  # (2, T, V)
    torch.testing.assert_close(rows[0, 3:], model(tokens[:1, 3:])[0][0], **TOL)
    torch.testing.assert_close(rows[1], model(tokens[1:])[0][0], **TOL)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", CELLS)
def test_text_classifier_step_logits_equal_forward_on_the_text_so_far(cell, pooling):
    torch.manual_seed(0)
    model = ready(TextClassifier(13, 3, cell=cell, embedding_dim=4, hidden_size=5, num_layers=2, dropout=0.2,
                                 pooling=pooling))
    tokens = torch.randint(1, 13, (BATCH_SIZE, NUM_STEPS))
    state = None
    for t in range(NUM_STEPS):
        logits, state = model.step(tokens[:, t], state)
        torch.testing.assert_close(logits, model(tokens[:, : t + 1]), **TOL)
    assert isinstance(state, PooledStream)
    torch.testing.assert_close(state.count, torch.full((BATCH_SIZE, 1), float(NUM_STEPS), dtype=torch.float64))


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_series_classifier_reset_row_pools_its_new_sequence_only(pooling):
    torch.manual_seed(0)
    model = ready(SeriesClassifier(2, 3, cell="lstm", hidden_size=5, pooling=pooling))
    values = torch.randn(2, NUM_STEPS, 2, dtype=torch.float64)
    state = None
    for t in range(NUM_STEPS):
        logits, state = model.step(values[:, t], state, reset=torch.tensor([False, t == 2]))
        torch.testing.assert_close(logits[0], model(values[:1, : t + 1])[0], **TOL)
        if t >= 2:  # row 1's second sequence began at step 2: its logits are those of that sequence alone
            torch.testing.assert_close(logits[1], model(values[1:, 2 : t + 1])[0], **TOL)


@pytest.mark.parametrize("cell", CELLS)
def test_series_classifier_step_equals_forward(cell):
    torch.manual_seed(0)
    model = ready(SeriesClassifier(2, 4, cell=cell, hidden_size=5, num_layers=2, pooling="mean"))
    values = torch.randn(BATCH_SIZE, NUM_STEPS, 2, dtype=torch.float64)
    state = None
    for t in range(NUM_STEPS):
        logits, state = model.step(values[:, t], state)
    torch.testing.assert_close(logits, model(values), **TOL)


@pytest.mark.parametrize("cell", CELLS)
def test_causal_tagger_with_characters_tags_each_word_as_forward(cell):
    torch.manual_seed(0)
    model = ready(Tagger(17, 5, cell=cell, embedding_dim=4, hidden_size=6, num_layers=2, bidirectional=False,
                         num_chars=9, char_embedding_dim=3, char_hidden_size=2))
    words = torch.randint(1, 17, (BATCH_SIZE, NUM_STEPS))
    chars = torch.randint(1, 9, (BATCH_SIZE, NUM_STEPS, 4))
    chars[..., 3] = 0  # a padded character slot, as `collate` writes for shorter words
    lengths = torch.full((BATCH_SIZE,), NUM_STEPS)
    scores = model(TaggerInputs(words, lengths, chars))  # (B, T, K)
    state = None
    for t in range(NUM_STEPS):
        step_scores, state = model.step(words[:, t], state, chars=chars[:, t])
        torch.testing.assert_close(step_scores, scores[:, t], **TOL)


def pattern(name: str, value: str) -> str:
    return re.escape(name) + ".*" + re.escape(value)


BIDIRECTIONAL = {
    "forecaster": (lambda: Forecaster(2, 1, hidden_size=4, bidirectional=True), torch.randn(1, 2)),
    "text_classifier": (lambda: TextClassifier(9, 2, hidden_size=4, bidirectional=True), torch.tensor([1])),
    "series_classifier": (lambda: SeriesClassifier(2, 2, hidden_size=4, bidirectional=True), torch.randn(1, 2)),
    "tagger": (lambda: Tagger(9, 3, hidden_size=4), torch.tensor([1])),  # bidirectional by default
}


@pytest.mark.parametrize("model", list(BIDIRECTIONAL))
def test_bidirectional_models_cannot_step_and_say_why(model):
    make, x = BIDIRECTIONAL[model]
    with pytest.raises(ValueError, match=pattern("causal", "received bidirectional=True")):
        make().step(x)


SHAPE_ERRORS = {
    "forecaster_x": (lambda: Forecaster(2, 1, hidden_size=4).step(torch.randn(1, 3, 2)), "x", "(1, 3, 2)"),
    "next_step_x": (lambda: NextStepForecaster(2, hidden_size=4).step(torch.randn(1, 3)), "x", "(1, 3)"),
    "language_model_tokens": (lambda: LanguageModel(9, hidden_size=4).step(torch.tensor([[1, 2]])), "tokens",
                              "(1, 2)"),
    "text_classifier_tokens": (lambda: TextClassifier(9, 2, hidden_size=4).step(torch.tensor([[1, 2]])), "tokens",
                               "(1, 2)"),
    "series_classifier_x": (lambda: SeriesClassifier(2, 2, hidden_size=4).step(torch.randn(2)), "x", "(2,)"),
    "tagger_words": (lambda: Tagger(9, 3, hidden_size=4, bidirectional=False).step(torch.tensor([[1]])), "words",
                     "(1, 1)"),
}


@pytest.mark.parametrize("case", list(SHAPE_ERRORS))
def test_step_input_of_the_wrong_shape_is_named(case):
    call, name, value = SHAPE_ERRORS[case]
    with pytest.raises(ValueError, match=pattern(name, value)):
        call()


def test_classifier_state_must_be_the_pooled_stream():
    model = SeriesClassifier(2, 2, hidden_size=4)
    with pytest.raises(TypeError, match=pattern("state", "received Tensor")):
        model.step(torch.randn(1, 2), torch.zeros(1, 1, 4))
