"""How a tagger is scored (rnnlab.metrics.tagging), and the baseline it is scored against (tasks.tag.baselines)."""

from __future__ import annotations

import pytest

from rnnlab.metrics.tagging import per_tag_accuracy, tagging_accuracy
from rnnlab.tasks.tag.baselines import MostFrequentTag


def test_tagging_accuracy_overall_and_on_unknown_words():
    gold = [["DET", "NOUN", "VERB"], ["PROPN"]]
    predicted = [["DET", "VERB", "VERB"], ["NOUN"]]
    known = [[True, False, True], [False]]
    assert tagging_accuracy(gold, predicted, known) == {"accuracy": 0.5, "oov_accuracy": 0.0, "tokens": 4,
                                                        "oov_tokens": 2}
    assert tagging_accuracy(gold, gold, [[True] * 3, [True]])["oov_accuracy"] is None
    with pytest.raises(ValueError, match="one entry per word"):
        tagging_accuracy(gold, [["DET"], ["NOUN"]], known)
    with pytest.raises(ValueError, match="at least one word"):
        tagging_accuracy([[]], [[]], [[]])


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
    with pytest.raises(ValueError, match="at least one tagged word"):
        MostFrequentTag.fit([])
