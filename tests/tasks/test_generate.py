"""The language model, stateful truncated BPTT over a stream, sampling, and the metrics and baseline."""

import math

import pytest
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab.tasks.generate import (CarriedState, LanguageModel, StreamBatch, filter_logits, language_metrics, lm_loss,
                                   next_token, sample, stream_batches, stream_nll, unigram_log_probs, unigram_nll)
from rnnlab.data.text import UNK, Tokenizer, Vocabulary
from rnnlab.tasks.generate_run import Corpus, characters_covered, encode_prompt
from rnnlab.data.splits import split_text
from rnnlab.train import Trainer, TrainerOptions


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


def test_top_k_keeps_the_k_largest_logits():
    logits = torch.tensor([1.0, 4.0, 3.0, 2.0])
    kept = filter_logits(logits, top_k=2)
    assert torch.isinf(kept).tolist() == [True, False, False, True]
    assert torch.equal(filter_logits(logits, top_k=0), logits) and torch.equal(filter_logits(logits, top_k=9), logits)


@pytest.mark.parametrize("top_p, kept", [(0.45, [3]), (0.75, [3, 0]), (0.85, [3, 0, 1]), (1.0, [3, 0, 1, 2])])
def test_top_p_keeps_the_smallest_nucleus_reaching_p(top_p, kept):
    logits = torch.tensor([0.3, 0.15, 0.05, 0.5], dtype=torch.float64).log()  # most probable: 3, 0, 1, 2
    finite = ~torch.isinf(filter_logits(logits, top_p=top_p))
    assert [i for i in range(4) if finite[i]] == sorted(kept)


def test_filters_reject_bad_arguments():
    with pytest.raises(ValueError, match="top_k must be a non-negative integer"):
        filter_logits(torch.zeros(3), top_k=-1)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        filter_logits(torch.zeros(3), top_p=0.0)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        next_token(torch.zeros(3), temperature=-1.0)


def test_next_token_draws_from_the_filtered_distribution():
    logits = torch.tensor([0.0, 2.0, 1.0, -1.0])
    generator = torch.Generator().manual_seed(0)
    draws = [next_token(logits, top_k=2, generator=generator) for _ in range(400)]
    assert set(draws) == {1, 2}
    share = draws.count(1) / len(draws)  # p(1 | top-2) = e² / (e² + e) ≈ 0.731
    assert abs(share - math.e / (math.e + 1)) < 0.07
    assert next_token(logits, temperature=0.0) == 1


def test_sampling_is_deterministic_given_a_seed_and_tends_to_greedy():
    model = tiny_model("lstm", vocab_size=11)
    prompt = [1, 2, 3]

    def draw(temperature, seed):
        return sample(model, prompt, 40, temperature=temperature, generator=torch.Generator().manual_seed(seed))

    assert draw(1.0, 5) == draw(1.0, 5)
    assert draw(1.0, 5) != draw(1.0, 6)
    greedy = draw(0.0, 0)
    assert len(greedy) == 40 and draw(1e-6, 0) == greedy and draw(1e-6, 123) == greedy
    assert draw(1.0, 0) != greedy  # a real temperature does sample


def test_sample_never_emits_excluded_ids_and_checks_its_arguments():
    model = tiny_model(vocab_size=5)
    generated = sample(model, [0], 200, temperature=3.0, exclude=[1, 3], generator=torch.Generator().manual_seed(0))
    assert set(generated) <= {0, 2, 4}
    with pytest.raises(ValueError, match="empty prompt"):
        sample(model, [], 5)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        sample(model, [0], 0)


def test_prompt_tokens_never_seen_map_to_unk_or_are_named():
    tokenizer = Tokenizer(kind="char", lowercase=False)
    with_unk = Vocabulary.build([list("to be")], specials=(UNK,))
    assert encode_prompt("tox", tokenizer, with_unk) == [with_unk.index("t"), with_unk.index("o"), with_unk.unk_id]
    without_unk = Vocabulary(list("tobe "))
    with pytest.raises(ValueError, match=r"chars never seen in training: \['x', 'z'\]"):
        encode_prompt("zetox", tokenizer, without_unk)
    with pytest.raises(ValueError, match="prompt must hold at least one word token"):
        encode_prompt("  ", Tokenizer(kind="word"), with_unk)


def test_bits_per_character_of_words_count_the_text_after_the_first_word():
    tokenizer = Tokenizer(kind="word")
    text = "  To be, or not\n"
    corpus = Corpus(tokenizer, None, {"test": text}, {"test": torch.zeros(5, dtype=torch.int64)})
    assert characters_covered(corpus, "test") == len(" be, or not")  # 5 tokens, 4 predicted
    chars = Corpus(Tokenizer(kind="char"), None, {"test": text}, {"test": torch.zeros(len(text), dtype=torch.int64)})
    assert characters_covered(chars, "test") == len(text) - 1
