"""The data splits: each is seeded (or fixed), disjoint and complete, and refuses what it cannot split."""

import numpy as np
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.splits import split_indices, split_sentences, split_text, stratified_split


def test_stratified_split_keeps_class_shares_and_is_fixed_by_the_seed():
    labels = ["a"] * 60 + ["b"] * 40
    train, val, test = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=7)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    names = np.array(labels)
    assert (names[test] == "a").sum() == 12 and (names[test] == "b").sum() == 8
    assert (names[val] == "a").sum() == 6 and (names[val] == "b").sum() == 4
    again = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip((train, val, test), again))
    assert not np.array_equal(test, stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=8)[2])


@pytest.mark.parametrize("val_fraction, test_fraction", [(-0.1, 0.2), (0.1, 1.0), (0.5, 0.5)])
def test_stratified_split_rejects_bad_fractions(val_fraction, test_fraction):
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(["a", "b"], val_fraction=val_fraction, test_fraction=test_fraction, seed=0)


def test_split_sentences_is_seeded_disjoint_and_complete():
    first, again, other = (split_sentences(50, 0.2, 0.1, seed) for seed in (3, 3, 4))
    assert all(first[k].tolist() == again[k].tolist() for k in first)
    assert first["test"].tolist() != other["test"].tolist()
    assert sorted(sum((first[k].tolist() for k in first), [])) == list(range(50))
    assert (len(first["train"]), len(first["val"]), len(first["test"])) == (35, 10, 5)
    with pytest.raises(DataError, match="3 sentences"):
        split_sentences(3, 0.1, 0.1, 0)


def test_split_text_is_contiguous_and_cuts_at_line_starts():
    text = "".join(f"line {i:02d}\n" for i in range(20))  # 20 lines of 8 characters
    train, val, test = split_text(text, 0.1, 0.2)
    assert train + val + test == text
    # cuts at characters 112 and 128 move forward to the next line starts, 120 and 136
    assert [len(part) for part in (train, val, test)] == [120, 16, 24]
    assert all(part.startswith("line") and part.endswith("\n") for part in (train, val, test))
    assert split_text("abcdefghij", 0.2, 0.2) == ("abcdef", "gh", "ij")  # no newline: cut where the share ends


def test_split_indices_is_seeded_disjoint_and_complete():
    split = split_indices(100, val_fraction=0.1, test_fraction=0.15, seed=3)
    assert (len(split.train), len(split.val), len(split.test)) == (75, 10, 15)
    assert sorted(split.train + split.val + split.test) == list(range(100))
    assert split == split_indices(100, val_fraction=0.1, test_fraction=0.15, seed=3)
    assert split.test != split_indices(100, val_fraction=0.1, test_fraction=0.15, seed=4).test
    assert split.test != sorted(split.test)  # a random sample first: evaluation may be capped to it


def test_split_indices_errors():
    with pytest.raises(DataError, match="2 sentence pairs are too few"):
        split_indices(2, val_fraction=0.2, test_fraction=0.2, seed=0)
    with pytest.raises(ValueError, match="val_fraction must be in \\(0, 1\\); received 0"):
        split_indices(10, val_fraction=0, test_fraction=0.2, seed=0)
    with pytest.raises(ValueError, match="must be < 1"):
        split_indices(10, val_fraction=0.5, test_fraction=0.5, seed=0)
