"""The tagger, its loss, metrics and baseline (rnnlab.tasks.tag), and the data steps of a tagging run."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.tasks.tag import (IGNORE_INDEX, EncodedSentence, MostFrequentTag, Tagger, TaggerInputs, char_ids, collate,
                              per_tag_accuracy, tagging_accuracy, tagging_loss)
from rnnlab.tasks.tag_run import TagConfig, build_vocabularies, check_tags, encode
from rnnlab.data.splits import split_sentences

VOCAB, TAGS, CHARS = 12, 5, 9


def random_sentence(generator: torch.Generator, length: int) -> EncodedSentence:
    words = torch.randint(2, VOCAB, (length,), generator=generator).tolist()
    chars = torch.randint(2, CHARS, (length, 2 + length % 4), generator=generator)  # padded widths differ
    chars[0, 1:] = 0  # the first word has one character
    return EncodedSentence(words, chars, torch.randint(0, TAGS, (length,), generator=generator).tolist())


def make_tagger(cell: str, chars: bool, bidirectional: bool = True) -> Tagger:
    torch.manual_seed(0)
    return Tagger(VOCAB, TAGS, cell=cell, embedding_dim=6, hidden_size=5, bidirectional=bidirectional,
                  num_chars=CHARS if chars else 0, char_embedding_dim=3, char_hidden_size=4 if chars else 0).double()


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
    model = Tagger(6, 3, cell="lstm", embedding_dim=4, hidden_size=8)
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


def test_tagging_accuracy_overall_and_on_unknown_words():
    gold = [["DET", "NOUN", "VERB"], ["PROPN"]]
    predicted = [["DET", "VERB", "VERB"], ["NOUN"]]
    known = [[True, False, True], [False]]
    assert tagging_accuracy(gold, predicted, known) == {"accuracy": 0.5, "oov_accuracy": 0.0, "tokens": 4,
                                                        "oov_tokens": 2}
    assert tagging_accuracy(gold, gold, [[True] * 3, [True]])["oov_accuracy"] is None
    with pytest.raises(ValueError, match="one entry per word"):
        tagging_accuracy(gold, [["DET"], ["NOUN"]], known)


def test_per_tag_accuracy_is_the_recall_of_each_gold_tag():
    result = per_tag_accuracy([["A", "B", "A", "A"]], [["A", "A", "B", "A"]])
    assert result == {"A": {"tokens": 3, "accuracy": 2 / 3}, "B": {"tokens": 1, "accuracy": 0.0}}
    assert list(result) == ["A", "B"]


def test_most_frequent_tag_baseline():
    baseline = MostFrequentTag.fit([(["o", "casa", "a"], ["DET", "NOUN", "DET"]),
                                    (["a", "casa"], ["ADP", "NOUN"]), (["canta", "casa"], ["VERB", "NOUN"])])
    assert baseline(["a", "casa", "canta", "nunca"]) == ["ADP", "NOUN", "VERB", "NOUN"]  # tie → ADP; unknown → NOUN
    assert "casa" in baseline and "nunca" not in baseline
    again = MostFrequentTag.from_dict(baseline.to_dict())
    assert again.table == baseline.table and again.default == baseline.default


@pytest.mark.parametrize("arguments, message", [
    ({"cell": "lstmx"}, "cell must be one of"),
    ({"num_chars": 5}, "char_hidden_size and num_chars"),
    ({"dropout": 1.0}, "dropout must be in"),
])
def test_tagger_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        Tagger(VOCAB, TAGS, **arguments)


def test_a_tagger_with_a_character_encoder_needs_characters():
    with pytest.raises(ValueError, match="inputs.chars"):
        make_tagger("lstm", chars=True)(TaggerInputs(torch.tensor([[2]]), torch.tensor([1])))


def test_vocabularies_come_from_the_training_sentences_only():
    train = [(["O", "gato", "come"], ["DET", "NOUN", "VERB"]), (["o", "cão"], ["DET", "NOUN"])]
    vocabs = build_vocabularies(train, TagConfig(min_freq=1))
    assert "o" in vocabs.words and "O" not in vocabs.words and "peixe" not in vocabs.words
    assert vocabs.tags == ["DET", "NOUN", "VERB"]
    assert "O" not in vocabs.chars and "o" in vocabs.chars  # characters keep their case; seen once → <unk>
    encoded = encode([(["O", "peixe"], ["DET", "NOUN"])], vocabs, max_chars=8)[0]
    assert encoded.words == [vocabs.words.index("o"), vocabs.words.unk_id] and encoded.tags == [0, 1]
    assert encoded.chars.shape == (2, 5)
    with pytest.raises(DataError, match="sentence 7 has tag 'ADJ'"):
        check_tags([(["belo"], ["ADJ"])], [7], vocabs.tags, "data 'x.conllu'")


@pytest.mark.parametrize("overrides, message", [
    ({"val_fraction": 0.6, "test_fraction": 0.4}, "val_fraction \\+ test_fraction"),
    ({"test_fraction": 0.0}, "test_fraction must be in"),
    ({"char_hidden_size": -1}, "char_hidden_size must be"),
    ({"max_word_chars": 1}, "max_word_chars must be"),
    ({"min_freq": 0}, "min_freq must be"),
])
def test_config_rejects_bad_settings(overrides, message):
    with pytest.raises(ValueError, match=message):
        TagConfig(**overrides)
