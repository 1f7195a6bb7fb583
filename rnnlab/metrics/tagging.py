"""Tagging metrics: per-token accuracy, overall and on out-of-vocabulary words, and per gold tag.

    accuracy        = (words tagged right) / (words)
    oov_accuracy    = the same over the words never seen in training (None when there are none)
    per-tag accuracy of tag k = (words of gold tag k tagged k) / (words of gold tag k), its recall

Every sentence is a list of tags, one per word; the predicted and gold lists must align.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def tagging_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                     known: Sequence[Sequence[bool]]) -> dict:
    """Per-token accuracy, overall and on out-of-vocabulary words.

    Args:
        gold, predicted: the tags of each sentence.
        known: for each word, whether it was seen in training; the others are out of vocabulary.

    Returns:
        {"accuracy", "oov_accuracy" (None without OOV words), "tokens", "oov_tokens"}.

    Raises:
        ValueError: if the three do not have the same shape, or there are no words.
    """
    if not len(gold) == len(predicted) == len(known) or any(
            not len(g) == len(p) == len(k) for g, p, k in zip(gold, predicted, known)):
        raise ValueError("gold, predicted and known must have one entry per word of each sentence; "
                         f"received {len(gold)}, {len(predicted)} and {len(known)} sentences of unequal shape")
    pairs = [(g == p, k) for gs, ps, ks in zip(gold, predicted, known) for g, p, k in zip(gs, ps, ks)]
    if not pairs:
        raise ValueError("gold must hold at least one word; received none")
    oov = [right for right, seen in pairs if not seen]
    return {"accuracy": sum(right for right, _ in pairs) / len(pairs),
            "oov_accuracy": sum(oov) / len(oov) if oov else None,
            "tokens": len(pairs), "oov_tokens": len(oov)}


def per_tag_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, dict]:
    """For each gold tag, its number of words and the share of them tagged right (its recall).

    Returns:
        {tag: {"tokens": n, "accuracy": a}}, the tags in descending order of n.
    """
    counts, right = Counter(), Counter()
    for gs, ps in zip(gold, predicted, strict=True):
        for g, p in zip(gs, ps, strict=True):
            counts[g] += 1
            right[g] += g == p
    return {tag: {"tokens": n, "accuracy": right[tag] / n}
            for tag, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))}
