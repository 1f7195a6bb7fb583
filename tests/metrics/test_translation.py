"""Corpus BLEU and chrF on hand-worked examples, and the unknown-word replacement."""

import math

import pytest
import torch

from rnnlab.metrics.translation import chrf, corpus_bleu, ngrams
from rnnlab.tasks.translate.decoding import replace_unknowns

CAT = "the cat sat on the mat".split()
REF = "the cat is on the mat".split()


def test_ngrams_are_a_multiset():
    assert ngrams(["a", "b", "a", "b"], 2) == {("a", "b"): 2, ("b", "a"): 1}
    assert ngrams(["a"], 2) == {}


def test_bleu_identical_is_100_and_disjoint_is_0():
    assert corpus_bleu([CAT, REF], [CAT, REF]) == pytest.approx(100.0)
    assert corpus_bleu([["x", "y", "z", "w"]], [CAT]) == 0.0
    assert corpus_bleu([["x", "y", "z", "w"]], [CAT], smooth=True) == 0.0  # no unigram match: still 0


def test_bleu_by_hand():
    # unigrams 5/6 (the×2, cat, on, mat), bigrams 3/5 (the cat, on the, the mat), trigrams 1/4 (on the mat),
    # 4-grams 0/3: unsmoothed BLEU is 0; add-one on n ≥ 2 gives 5/6, 4/6, 2/5, 1/4; equal lengths: BP = 1
    assert corpus_bleu([CAT], [REF]) == 0.0
    expected = 100 * (5 / 6 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25
    assert corpus_bleu([CAT], [REF], smooth=True) == pytest.approx(expected)
    # a hypothesis of 4 that matches everywhere but is shorter than its reference of 6: BP = e^(1 - 6/4)
    assert corpus_bleu([CAT[:4]], [CAT]) == pytest.approx(100 * math.exp(1 - 6 / 4))
    # clipping: 4 × "the" against a reference with 2 matches only 2 of 4 unigrams; BP = e^(1 - 6/4)
    assert corpus_bleu([["the"] * 4], [CAT], max_order=1) == pytest.approx(100 * 2 / 4 * math.exp(1 - 6 / 4))


def test_bleu_sums_counts_over_the_corpus():
    # sentence 1 matches all 4 unigrams, sentence 2 none of 2: corpus unigram precision 4/6, not (1 + 0) / 2
    hyps, refs = [["a", "b", "c", "d"], ["x", "y"]], [["a", "b", "c", "d"], ["p", "q"]]
    assert corpus_bleu(hyps, refs, max_order=1) == pytest.approx(100 * 4 / 6)


def test_chrf_identical_is_100_and_disjoint_is_0():
    assert chrf(["la casa", "el perro"], ["la casa", "el perro"]) == pytest.approx(100.0)
    assert chrf(["la casa"], ["lacasa"]) == pytest.approx(100.0)  # whitespace is ignored
    assert chrf(["xyz"], ["abc"]) == 0.0


def test_chrf_by_hand():
    # "ab" vs "abc": orders 1 and 2 only (the hypothesis has no 3-gram); P = (1 + 1)/2, R = (2/3 + 1/2)/2 = 7/12
    # chrF2 = 5 P R / (4 P + R) = (35/12) / (55/12) = 7/11
    assert chrf(["ab"], ["abc"]) == pytest.approx(100 * 7 / 11)
    # recall weighs more than precision: a too-long hypothesis loses less than a too-short one
    assert chrf(["abcd"], ["abc"]) > chrf(["ab"], ["abc"])


def test_metrics_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="equal length; received 1 and 2"):
        corpus_bleu([CAT], [CAT, REF])
    with pytest.raises(ValueError, match="non-empty"):
        chrf([], [])
    with pytest.raises(ValueError, match="max_order"):
        corpus_bleu([CAT], [REF], max_order=0)


def test_unknown_words_become_the_most_attended_source_word():
    weights = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]])
    assert replace_unknowns(["y", "<unk>", "<unk>"], ["and", "jacob", "david"], weights, "<unk>") == \
        ["y", "david", "jacob"]
    with pytest.raises(ValueError, match="weights must have shape"):
        replace_unknowns(["<unk>"], ["a", "b"], torch.ones(1, 3), "<unk>")
