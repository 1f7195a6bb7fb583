"""The language model (rnnlab.tasks.generate.model): shapes, the carried state of truncated BPTT, `step`."""

import pytest
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab.tasks.generate.model import (CarriedState, LanguageModel, StreamBatch, lm_loss, stream_batches,
                                         stream_nll)
from rnnlab.train import Trainer, TrainerOptions

TOL = dict(rtol=0.0, atol=1e-6)


def tiny_model(cell="lstm", num_layers=1, vocab_size=7, dtype=torch.float64) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(vocab_size, cell=cell, embedding_dim=4, hidden_size=5, num_layers=num_layers).to(dtype)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_forward_shapes_and_state_continues_a_sequence(cell, num_layers):
    model = tiny_model(cell, num_layers).eval()
    tokens = torch.randint(0, 7, (3, 10))
    logits, state = model(tokens)
    assert logits.shape == (3, 10, 7)
    assert type(model.encoder) is {"rnn": rnnlab.RNN, "lstm": rnnlab.LSTM, "gru": rnnlab.GRU}[cell]
    first, state = model(tokens[:, :4])
    second, _ = model(tokens[:, 4:], state)  # the returned state starts the next call where the last ended
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)


def test_model_rejects_bad_arguments():
    with pytest.raises(ValueError, match="cell must be one of"):
        LanguageModel(5, cell="transformer")
    with pytest.raises(ValueError, match="dropout must be in"):
        LanguageModel(5, dropout=1.0)
    with pytest.raises(ValueError, match=r"tokens must have shape \(B, T\); received \(4,\)"):
        LanguageModel(5)(torch.zeros(4, dtype=torch.int64))


def test_stream_batches_cut_rows_into_chunks_with_shifted_targets():
    ids = torch.arange(23)
    batches = list(stream_batches(ids, batch_size=2, bptt=4, offset=1))  # rows 1..11 and 12..22
    rows = torch.stack([torch.arange(1, 12), torch.arange(12, 23)])
    assert [batch.first for batch, _ in batches] == [True, False, False]
    assert [batch.tokens.shape[1] for batch, _ in batches] == [4, 4, 2]  # 10 predicted steps per row
    torch.testing.assert_close(torch.cat([b.tokens for b, _ in batches], dim=1), rows[:, :-1])
    torch.testing.assert_close(torch.cat([t for _, t in batches], dim=1), rows[:, 1:])
    with pytest.raises(ValueError, match="too short for batch_size=8"):
        list(stream_batches(torch.arange(10), batch_size=8, bptt=4))


def test_carried_state_equals_running_the_concatenated_stream():
    model = tiny_model("lstm", 2).eval()
    ids = torch.randint(0, 7, (61,))
    batches = list(stream_batches(ids, batch_size=3, bptt=4))
    carried = CarriedState(model)
    chunked = torch.cat([carried(batch) for batch, _ in batches], dim=1)  # (B, T, V)
    whole, _ = model(torch.cat([batch.tokens for batch, _ in batches], dim=1))
    torch.testing.assert_close(chunked, whole)

    # the same batches, each flagged as a start: the state is reset and the later chunks differ
    reset = torch.cat([CarriedState(model)(StreamBatch(b.tokens, True)) for b, _ in batches], dim=1)
    torch.testing.assert_close(reset[:, :4], whole[:, :4])
    assert not torch.allclose(reset[:, 4:], whole[:, 4:])
    targets = torch.cat([t for _, t in batches], dim=1)
    assert abs(float(lm_loss(reset, targets).detach()) - float(lm_loss(chunked, targets).detach())) > 1e-6


def test_carried_state_is_detached_and_reset_by_first_flag_or_batch_size():
    model = tiny_model().train()
    carried = CarriedState(model)
    tokens = torch.randint(0, 7, (2, 5))
    carried(StreamBatch(tokens, True))
    assert all(not t.requires_grad for t in carried.state)  # the truncation
    fresh = CarriedState(model)(StreamBatch(tokens[:1], False))
    torch.testing.assert_close(carried(StreamBatch(tokens[:1], False)), fresh)  # B changed 2 → 1: zeros
    torch.testing.assert_close(carried(StreamBatch(tokens[:1], True)), fresh)


def test_trainer_with_carried_state_learns_a_periodic_stream():
    torch.manual_seed(0)
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6] * 40)  # each next token is determined by the previous one
    model = LanguageModel(7, embedding_dim=8, hidden_size=16)
    options = TrainerOptions(epochs=4, learning_rate=0.03, early_stopping_patience=0, seed=0)
    Trainer(CarriedState(model), lm_loss, options, run_dir=None, quiet=True).fit(
        lambda epoch, generator: stream_batches(ids, 4, 10))
    nats, tokens = stream_nll(model, ids, bptt=50)
    assert nats / tokens < 0.2  # far below the uniform model's log 7 ≈ 1.95


def test_stream_nll_is_the_cross_entropy_of_one_pass():
    model = tiny_model("gru").eval()
    ids = torch.randint(0, 7, (40,))
    logits, _ = model(ids[None, :-1])
    expected = F.cross_entropy(logits[0], ids[1:], reduction="sum").detach()
    nats, tokens = stream_nll(model, ids, bptt=7)
    assert tokens == 39 and nats == pytest.approx(float(expected), rel=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_gives_forward_logits_after_a_prompt(cell):
    torch.manual_seed(0)
    model = LanguageModel(11, cell=cell, embedding_dim=4, hidden_size=6, num_layers=2, dropout=0.3).double().eval()
    tokens = torch.randint(0, 11, (3, 6))
    logits, _ = model(tokens)
    _, state = model(tokens[:, :2])  # the prompt in one call, as `sample` reads it
    for t in range(2, 6):
        step_logits, state = model.step(tokens[:, t], state)
        torch.testing.assert_close(step_logits, logits[:, t], **TOL)


def test_a_reset_row_equals_its_new_stream_alone():
    torch.manual_seed(0)
    model = LanguageModel(11, cell="gru", embedding_dim=4, hidden_size=6).double().eval()
    tokens = torch.randint(0, 11, (2, 6))
    state, rows = None, []
    for t in range(6):
        step_logits, state = model.step(tokens[:, t], state, reset=torch.tensor([t == 3, False]))
        rows.append(step_logits)
    rows = torch.stack(rows, dim=1)  # (2, T, V)
    torch.testing.assert_close(rows[0, 3:], model(tokens[:1, 3:])[0][0], **TOL)
    torch.testing.assert_close(rows[1], model(tokens[1:])[0][0], **TOL)


def test_step_names_tokens_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"tokens must have shape \(B,\).*received \(1, 2\)"):
        LanguageModel(9, hidden_size=4).step(torch.tensor([[1, 2]]))
