"""Splits of a data set into training, validation and test parts, one function per kind of data.

    stratified_split   labelled examples: each class keeps its share in every part (seeded)
    split_sentences    sentences: a seeded shuffle, cut by the fractions
    split_indices      sentence pairs: a seeded shuffle whose test part keeps the shuffled order
    split_text         one text: contiguous parts by character share, cut at line starts
    time_split         a series: in time order (`rnnlab.data.series.time_split`)

Each is a pure function of its arguments: the same data and seed always give the same parts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.series import time_split

__all__ = ["Split", "split_indices", "split_sentences", "split_text", "stratified_split", "time_split"]


def stratified_split(labels: Sequence, *, val_fraction: float, test_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a train/validation/test split that keeps each class's share in every part.

    Each class's examples are shuffled by a generator seeded with `seed`; the first
    round(n_k · test_fraction) go to test, the next round(n_k · val_fraction) to validation and the
    rest to training. The same labels and seed always give the same split.

    Args:
        labels: (N,) the class of each example.
        val_fraction, test_fraction: shares of each class, each in [0, 1), summing below 1.
        seed: the split's seed.

    Returns:
        (train, val, test): sorted int64 index arrays that partition range(N).
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1); received {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be below 1; received {val_fraction} + {test_fraction}")
    labels = np.asarray(labels)
    generator = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in sorted(set(labels.tolist())):
        members = generator.permutation(np.flatnonzero(labels == label))
        num_test = int(round(len(members) * test_fraction))
        num_val = int(round(len(members) * val_fraction))
        parts[2].extend(members[:num_test])
        parts[1].extend(members[num_test:num_test + num_val])
        parts[0].extend(members[num_test + num_val:])
    return tuple(np.sort(np.asarray(part, dtype=np.int64)) for part in parts)


def split_sentences(count: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Sentence indices of the train, val and test sets: a seeded shuffle, cut by the fractions."""
    num_val, num_test = round(count * val_fraction), round(count * test_fraction)
    if min(num_val, num_test, count - num_val - num_test) < 1:
        raise DataError(f"the data has {count} sentences: too few to give training, validation "
                        f"({val_fraction}) and test ({test_fraction}) sentences at least one each")
    order = np.random.default_rng(seed).permutation(count)
    return {"train": np.sort(order[num_val + num_test:]), "val": np.sort(order[:num_val]),
            "test": np.sort(order[num_val:num_val + num_test])}


class Split(NamedTuple):
    """Indices into the pairs, per part; disjoint, and together all of them."""

    train: list[int]
    val: list[int]
    test: list[int]


def split_indices(num_pairs: int, *, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """A seeded random split: the same (num_pairs, fractions, seed) always gives the same parts.

    The pairs are shuffled with a generator seeded by `seed`; the first ⌈test_fraction · N⌉
    shuffled indices are the test part, the next ⌈val_fraction · N⌉ the validation part, the rest
    training. Training and validation keep file order; the test part keeps the shuffled order, so
    that its first pairs are a random sample (evaluation may be capped to them).

    Raises:
        ValueError: if a fraction is outside (0, 1) or they sum to 1 or more.
        DataError: if some part would be empty (too few pairs for these fractions).
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1); received {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1; received {val_fraction} + {test_fraction}")
    num_test, num_val = (math.ceil(round(f * num_pairs, 6)) for f in (test_fraction, val_fraction))
    if num_pairs - num_test - num_val < 1:
        raise DataError(f"{num_pairs} sentence pairs are too few to split into training, validation "
                        f"({val_fraction}) and test ({test_fraction}) parts; at least 3 are needed")
    order = torch.randperm(num_pairs, generator=torch.Generator().manual_seed(seed)).tolist()
    test, val = order[:num_test], order[num_test : num_test + num_val]
    return Split(sorted(order[num_test + num_val :]), sorted(val), test)


def split_text(text: str, val_fraction: float, test_fraction: float) -> tuple[str, str, str]:
    """(train, val, test): contiguous parts by character share, each cut moved to the next line start."""
    def cut(share: float) -> int:
        at = int(len(text) * share)
        newline = text.find("\n", at)
        return newline + 1 if newline != -1 else at

    val_start, test_start = cut(1.0 - val_fraction - test_fraction), cut(1.0 - test_fraction)
    return text[:val_start], text[val_start:test_start], text[test_start:]
