"""The translator network and its decoders: pads never matter, training and decoding agree, beam ≥ greedy."""

import pytest
import torch

import rnnlab
from rnnlab.tasks.translate.corpus import make_batch
from rnnlab.tasks.translate.decoding import Hypothesis, beam_search, greedy_decode, max_output_length
from rnnlab.tasks.translate.model import (Memory, TeacherForcedBatch, TranslatorNetwork, sequence_log_probs,
                                          translation_loss)

PAD, BOS, EOS = 0, 2, 3  # target ids as a Vocabulary with specials (<pad>, <unk>, <s>, </s>) gives them


def random_translator(cell="gru", seed=0, *, attention="general", bidirectional=True, num_layers=1,
                      target_vocab=11) -> TranslatorNetwork:
    torch.manual_seed(seed)
    model = TranslatorNetwork(13, target_vocab, pad_id=PAD, bos_id=BOS, cell=cell, embedding_dim=6, hidden_size=7,
                       num_layers=num_layers, bidirectional=bidirectional, attention=attention)
    return model.double().eval()


SOURCES = [[4, 5, 6, 7], [8, 9], [10, 11, 12, 4, 5, 6], [7]]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("attention", ["general", "additive"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_and_the_rnnlab_layers(cell, attention, bidirectional):
    model = random_translator(cell, attention=attention, bidirectional=bidirectional, num_layers=2)
    batch, targets = make_batch([([4, 5, 6], [4, 5, EOS]), ([7], [6, EOS])], pad_id=PAD, bos_id=BOS)
    logits = model(batch._replace(source=batch.source))
    assert logits.shape == (2, 3, 11)
    assert type(model.encoder) is {"rnn": rnnlab.RNN, "lstm": rnnlab.LSTM, "gru": rnnlab.GRU}[cell]
    assert model.encoder.bidirectional is bidirectional and not model.decoder.bidirectional
    # <pad> and <s> are never predicted
    assert torch.isinf(logits[..., [PAD, BOS]]).all() and torch.isfinite(logits[..., EOS:]).all()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("attention", ["general", "additive"])
def test_source_pads_never_matter(cell, attention):
    model = random_translator(cell, attention=attention)
    short = ([7, 8], [4, 5, EOS])
    alone, _ = make_batch([short], pad_id=PAD, bos_id=BOS)
    padded, _ = make_batch([short, ([4, 5, 6, 7, 8, 9], [4, 5, 6, 7, EOS])], pad_id=PAD, bos_id=BOS)
    with torch.no_grad():
        torch.testing.assert_close(model(padded)[0, :3], model(alone)[0])
        memory, state = model.encode(padded.source, padded.source_lengths)
        _, _, weights = model.decode(memory, padded.target_inputs, state)
    assert torch.equal(weights[0, :, 2:], torch.zeros_like(weights[0, :, 2:]))  # pads get no attention
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5, dtype=torch.float64))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_teacher_forcing_equals_stepping_the_decoder(cell):
    """Training runs the decoder over the whole target; decoding steps it one token at a time."""
    model = random_translator(cell, num_layers=2)
    batch, _ = make_batch([([4, 5, 6], [5, 6, 7, EOS]), ([8], [9, EOS])], pad_id=PAD, bos_id=BOS)
    with torch.no_grad():
        whole = model(batch)
        memory, state = model.encode(batch.source, batch.source_lengths)
        steps = []
        for t in range(batch.target_inputs.shape[1]):
            logits, state, _ = model.decode(memory, batch.target_inputs[:, t : t + 1], state)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole)


def test_loss_is_the_mean_over_real_target_tokens():
    model = random_translator()
    batch, targets = make_batch([([4, 5], [5, 6, 7, EOS]), ([8], [9, EOS])], pad_id=PAD, bos_id=BOS)
    logits = model(batch)
    log_probs = torch.log_softmax(logits, -1).gather(-1, targets.clamp(min=0)[..., None]).squeeze(-1)
    expected = -(log_probs[0].sum() + log_probs[1, :2].sum()) / 6  # 4 + 2 real tokens, 2 pads
    torch.testing.assert_close(translation_loss(logits, targets, PAD), expected)


def test_sequence_log_probs_are_the_decoders_scores():
    model = random_translator("lstm")
    hypotheses = greedy_decode(model, SOURCES, [8, 6, 9, 3], eos_id=EOS)
    scores, maps = sequence_log_probs(model, SOURCES, [h.tokens for h in hypotheses], eos_id=EOS)
    torch.testing.assert_close(scores, torch.tensor([h.score for h in hypotheses], dtype=torch.float64))
    assert [tuple(m.shape) for m in maps] == [(len(h.tokens), len(s)) for h, s in zip(hypotheses, SOURCES)]
    with pytest.raises(ValueError, match="</s> before"):
        sequence_log_probs(model, [[4]], [[5, EOS, 6]], eos_id=EOS)


def test_greedy_stops_at_eos_or_the_length_limit():
    model = random_translator(seed=3)
    limits = [5, 1, 7, 2]
    for hypothesis, limit in zip(greedy_decode(model, SOURCES, limits, eos_id=EOS), limits):
        assert 1 <= len(hypothesis.tokens) <= limit
        assert hypothesis.finished == (hypothesis.tokens[-1] == EOS)
        assert hypothesis.finished or len(hypothesis.tokens) == limit
        assert EOS not in hypothesis.tokens[:-1]
    assert max_output_length(10, 2.0) == 25 and max_output_length(3, 0.5, extra=0) == 2
    with pytest.raises(ValueError, match="ratio"):
        max_output_length(3, 0.0)


def _check_beams_against_greedy(model, sources, limits):
    greedy = greedy_decode(model, sources, limits, eos_id=EOS)
    one = beam_search(model, sources, limits, beam_size=1, eos_id=EOS, keep_greedy=False)
    assert [h.tokens for h in one] == [h.tokens for h in greedy]  # beam 1 *is* greedy, without the fallback
    greedy_scores, _ = sequence_log_probs(model, sources, [h.tokens for h in greedy], eos_id=EOS)
    for beam_size in (2, 3, 5):
        found = beam_search(model, sources, limits, beam_size=beam_size, eos_id=EOS)
        scores, _ = sequence_log_probs(model, sources, [h.tokens for h in found], eos_id=EOS)
        torch.testing.assert_close(scores, torch.tensor([h.score for h in found], dtype=scores.dtype))
        assert (scores >= greedy_scores - 1e-9).all(), (beam_size, scores - greedy_scores)
    return greedy_scores, scores


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_one_is_greedy_and_larger_beams_never_score_lower_on_random_models(cell, seed):
    model = random_translator(cell, seed, target_vocab=8)  # few tokens: many ties in rank, short outputs
    _check_beams_against_greedy(model, SOURCES, [6, 4, 9, 3])


class MarkovTranslator(torch.nn.Module):
    """A stand-in translator whose next token depends on the previous token only (a fixed table)."""

    pad_id, bos_id = PAD, BOS

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("blocked", torch.zeros(table.shape[1], dtype=torch.float64))
        self.log_table = table.log()

    def encode(self, source, lengths):
        zeros = torch.zeros(*source.shape, 1, dtype=torch.float64)
        return Memory(zeros, zeros, source != PAD), torch.zeros(1, source.shape[0], 1, dtype=torch.float64)

    def decode(self, memory, target_inputs, state):
        return self.log_table[target_inputs], state, None


def test_plain_beam_search_can_lose_to_greedy_and_the_fallback_prevents_it():
    # tokens: 4 A, 5 B, 6 C, 7 D, 8 E, 9 F, 10..29 twenty fillers; <s> → A .5 | B .3 | C .2
    table = torch.full((30, 30), 1e-12, dtype=torch.float64)
    table[BOS, [4, 5, 6]] = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    table[4, 7], table[4, 10:] = 0.1, 0.9 / 20  # greedy goes A → D → </s>: 0.5 · 0.1 = 0.05
    table[5, [8, 9]] = 0.5  # B → E | F: 0.15 each, which push A D out of a beam of 2
    table[[8, 9], 10:] = 1 / 20  # ... after which nothing is likely: 0.0075 at best
    table[[6, 7, *range(10, 30)], EOS] = 1.0  # C → </s>: 0.2, the most probable output
    model = MarkovTranslator(table / table.sum(dim=1, keepdim=True))
    greedy = greedy_decode(model, [[4]], [3], eos_id=EOS)[0]
    plain = beam_search(model, [[4]], [3], beam_size=2, eos_id=EOS, keep_greedy=False)[0]
    assert greedy.tokens == [4, 7, EOS] and greedy.score == pytest.approx(torch.tensor(0.05).log().item())
    assert plain.score < greedy.score - 1.0 and not plain.finished
    assert beam_search(model, [[4]], [3], beam_size=2, eos_id=EOS)[0] == greedy
    best = beam_search(model, [[4]], [3], beam_size=3, eos_id=EOS)[0]
    assert best.tokens == [6, EOS] and best.score == pytest.approx(torch.tensor(0.2).log().item())


def test_beams_on_the_test_sentences_of_a_trained_model():
    """A small model learns a word-for-word mapping with reordering; then beam 1 = greedy, beam k ≥ greedy."""
    generator = torch.Generator().manual_seed(0)

    def pair():
        words = torch.randint(4, 12, (int(torch.randint(2, 7, (1,), generator=generator)),), generator=generator)
        return words.tolist(), (words.flip(0) - 1).tolist() + [EOS]  # reversed, each id shifted by one

    train, test = [pair() for _ in range(256)], [pair() for _ in range(24)]
    torch.manual_seed(0)
    model = TranslatorNetwork(13, 12, pad_id=PAD, bos_id=BOS, embedding_dim=12, hidden_size=24).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for epoch in range(6):
        for start in range(0, len(train), 32):
            batch, targets = make_batch(train[start : start + 32], pad_id=PAD, bos_id=BOS)
            optimizer.zero_grad()
            loss = translation_loss(model(batch), targets, PAD)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert losses[-1] < losses[0] / 2  # it has learned something
    model.eval()
    sources = [s for s, _ in test]
    greedy_scores, beam_scores = _check_beams_against_greedy(model, sources, [len(s) + 3 for s in sources])
    assert beam_scores.mean() >= greedy_scores.mean()


def test_bad_arguments_are_named():
    model = random_translator()
    with pytest.raises(ValueError, match="beam_size must be a positive integer; received 0"):
        beam_search(model, SOURCES, [5] * 4, beam_size=0, eos_id=EOS)
    with pytest.raises(ValueError, match="max_lengths"):
        greedy_decode(model, SOURCES, [5], eos_id=EOS)
    with pytest.raises(ValueError, match="cell must be one of"):
        TranslatorNetwork(5, 5, pad_id=0, bos_id=2, cell="transformer")
    with pytest.raises(ValueError, match="score must be one of"):
        TranslatorNetwork(5, 5, pad_id=0, bos_id=2, attention="dot")
    with pytest.raises(ValueError, match="source_lengths must all be ≥ 1"):
        model.encode(torch.tensor([[4, 5]]), torch.tensor([0]))
    assert isinstance(greedy_decode(model, [[4]], [2], eos_id=EOS)[0], Hypothesis)
    assert isinstance(TeacherForcedBatch(*make_batch([([4], [5, EOS])], pad_id=PAD, bos_id=BOS)[0]), tuple)
