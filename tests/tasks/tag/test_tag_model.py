"""The tagging network (rnnlab.tasks.tag.model): padding, context, the loss, batching, characters, and `step`."""

from __future__ import annotations

import re

import pytest
import torch

from rnnlab.tasks.tag.baselines import MostFrequentTag
from rnnlab.tasks.tag.model import (IGNORE_INDEX, EncodedSentence, TaggerInputs, TaggerNetwork, char_ids, collate,
                                    tagging_loss)

VOCAB, TAGS, CHARS = 12, 5, 9


def random_sentence(generator: torch.Generator, length: int) -> EncodedSentence:
    words = torch.randint(2, VOCAB, (length,), generator=generator).tolist()
    chars = torch.randint(2, CHARS, (length, 2 + length % 4), generator=generator)  # padded widths differ
    chars[0, 1:] = 0  # the first word has one character
    return EncodedSentence(words, chars, torch.randint(0, TAGS, (length,), generator=generator).tolist())


def make_tagger(cell: str, chars: bool, bidirectional: bool = True) -> TaggerNetwork:
    torch.manual_seed(0)
    model = TaggerNetwork(VOCAB, TAGS, cell=cell, embedding_dim=6, hidden_size=5, bidirectional=bidirectional,
                          num_chars=CHARS if chars else 0, char_embedding_dim=3, char_hidden_size=4 if chars else 0)
    return model.double()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("chars", [False, True])
def test_a_sentence_is_tagged_the_same_alone_and_inside_a_padded_batch(cell, chars):
    generator = torch.Generator().manual_seed(1)
    sentences = [random_sentence(generator, length) for length in (3, 7, 1, 5)]
    model = make_tagger(cell, chars).eval()
    batch, _ = collate(sentences, word_padding_idx=0, char_padding_idx=0)
    together = model(batch)  # (4, 7, K)
    assert together.shape == (4, 7, TAGS)
    for b, sentence in enumerate(sentences):
        alone = model(collate([sentence], word_padding_idx=0, char_padding_idx=0)[0])  # (1, T_b, K)
        torch.testing.assert_close(together[b, : len(sentence.words)], alone[0], atol=1e-6, rtol=0)


def test_padding_values_never_reach_real_positions():
    generator = torch.Generator().manual_seed(2)
    model = make_tagger("lstm", chars=True).eval()
    batch, _ = collate([random_sentence(generator, 2), random_sentence(generator, 6)], word_padding_idx=0,
                       char_padding_idx=0)
    garbage_words, garbage_chars = batch.words.clone(), batch.chars.clone()
    garbage_words[0, 2:] = 7
    garbage_chars[0, 2:] = 5  # characters of the padded positions
    changed = model(TaggerInputs(garbage_words, batch.lengths, garbage_chars))
    torch.testing.assert_close(changed[:, :2], model(batch)[:, :2], atol=0, rtol=0)
    torch.testing.assert_close(changed[1], model(batch)[1], atol=0, rtol=0)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_first_tag_sees_the_last_word_only_when_bidirectional(bidirectional):
    model = make_tagger("gru", chars=False, bidirectional=bidirectional).eval()
    words = torch.tensor([[3, 4, 5, 6]])
    lengths = torch.tensor([4])
    other = words.clone()
    other[0, 3] = 9
    first, first_other = model(TaggerInputs(words, lengths))[0, 0], model(TaggerInputs(other, lengths))[0, 0]
    assert (not torch.allclose(first, first_other)) == bidirectional


def test_the_loss_is_the_mean_over_real_words_only():
    scores = torch.randn(2, 3, TAGS, dtype=torch.float64)
    targets = torch.tensor([[1, 2, IGNORE_INDEX], [0, IGNORE_INDEX, IGNORE_INDEX]])
    log_p = scores.log_softmax(-1)
    expected = -(log_p[0, 0, 1] + log_p[0, 1, 2] + log_p[1, 0, 0]) / 3
    torch.testing.assert_close(tagging_loss(scores, targets), expected)


def test_a_tagger_uses_context_where_the_baseline_cannot():
    # word 2 is tagged 1 after word 3 and 2 after word 4: only the context tells them apart
    torch.manual_seed(0)
    sentences = [EncodedSentence([first, 2], torch.ones(2, 1, dtype=torch.int64), [0, 1 if first == 3 else 2])
                 for first in (3, 4) * 8]
    inputs, targets = collate(sentences, word_padding_idx=0, char_padding_idx=0)
    model = TaggerNetwork(6, 3, cell="lstm", embedding_dim=4, hidden_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        tagging_loss(model(inputs), targets).backward()
        optimizer.step()
    predicted = model.eval()(inputs).argmax(-1)
    assert torch.equal(predicted, targets)
    baseline = MostFrequentTag.fit(([str(w) for w in s.words], [str(t) for t in s.tags]) for s in sentences)
    assert baseline(["3", "2"])[1] == baseline(["4", "2"])[1]  # one tag for word 2 whatever precedes it


def test_collate_pads_words_characters_and_targets():
    sentences = [EncodedSentence([5, 6], torch.tensor([[1, 2, 3], [4, 0, 0]]), [1, 2]),
                 EncodedSentence([7], torch.tensor([[8]]), [])]
    inputs, targets = collate(sentences, word_padding_idx=0, char_padding_idx=0)
    assert inputs.words.tolist() == [[5, 6], [7, 0]] and inputs.lengths.tolist() == [2, 1]
    assert inputs.chars.tolist() == [[[1, 2, 3], [4, 0, 0]], [[8, 0, 0], [0, 0, 0]]]
    assert targets.tolist() == [[1, 2], [IGNORE_INDEX, IGNORE_INDEX]]


def test_char_ids_keeps_both_ends_of_a_long_word_and_marks_unknown_characters():
    ids = {c: i for i, c in enumerate("abcdefghij", start=2)}
    assert char_ids("abc", ids, 1, 4) == [2, 3, 4]
    assert char_ids("abcdefghij", ids, 1, 5) == [2, 3, 9, 10, 11]  # "ab" + "hij"
    assert char_ids("aZ", ids, 1, 4) == [2, 1]


@pytest.mark.parametrize("arguments, message", [
    ({"cell": "lstmx"}, "cell must be one of"),
    ({"num_chars": 5}, "char_hidden_size and num_chars"),
    ({"dropout": 1.0}, "dropout must be in"),
])
def test_tagger_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        TaggerNetwork(VOCAB, TAGS, **arguments)


def test_a_tagger_with_a_character_encoder_needs_characters():
    with pytest.raises(ValueError, match="inputs.chars"):
        make_tagger("lstm", chars=True)(TaggerInputs(torch.tensor([[2]]), torch.tensor([1])))


# --- step: a causal tagger streams, word by word -------------------------------------------------

TOL = dict(rtol=0.0, atol=1e-6)
NUM_STEPS, BATCH_SIZE = 6, 3


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_causal_tagger_with_characters_tags_each_word_as_forward(cell):
    torch.manual_seed(0)
    model = TaggerNetwork(17, 5, cell=cell, embedding_dim=4, hidden_size=6, num_layers=2, bidirectional=False,
                          num_chars=9, char_embedding_dim=3, char_hidden_size=2).double().eval()
    words = torch.randint(1, 17, (BATCH_SIZE, NUM_STEPS))
    chars = torch.randint(1, 9, (BATCH_SIZE, NUM_STEPS, 4))
    chars[..., 3] = 0  # a padded character slot, as `collate` writes for shorter words
    lengths = torch.full((BATCH_SIZE,), NUM_STEPS)
    scores = model(TaggerInputs(words, lengths, chars))  # (B, T, K)
    state = None
    for t in range(NUM_STEPS):
        step_scores, state = model.step(words[:, t], state, chars=chars[:, t])
        torch.testing.assert_close(step_scores, scores[:, t], **TOL)


def test_a_bidirectional_tagger_cannot_step_and_says_why():
    with pytest.raises(ValueError, match="causal.*received bidirectional=True"):
        TaggerNetwork(9, 3, hidden_size=4).step(torch.tensor([1]))  # bidirectional by default


def test_step_names_words_of_the_wrong_shape():
    with pytest.raises(ValueError, match=re.escape("words") + ".*" + re.escape("(1, 1)")):
        TaggerNetwork(9, 3, hidden_size=4, bidirectional=False).step(torch.tensor([[1]]))
