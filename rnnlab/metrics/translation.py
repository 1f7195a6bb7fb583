"""Translation metrics written from their definitions: corpus BLEU and chrF, each on a 0–100 scale.

BLEU (Papineni et al. 2002), on token lists (rnnlab scores the tokenizer's lowercased words and
punctuation marks, so BLEU here is "tokenized BLEU"), one reference per hypothesis:

    p_n  = Σ_sentences Σ_g min(count_hyp(g), count_ref(g)) / Σ_sentences (number of hyp n-grams)
    BP   = 1 if c > r else exp(1 − r / c)        c, r: total hypothesis and reference lengths
    BLEU = 100 · BP · exp(Σ_{n=1..N} (1/N) log p_n)          N = 4

Counts are summed over the corpus before dividing (corpus BLEU, not a mean of sentence scores).
Smoothing: none by default, so BLEU is 0 when some order has no matching n-gram (with hundreds
of sentences this only happens to bad hypotheses, e.g. the copy-the-source baseline). With
`smooth=True`, orders n ≥ 2 use (matches + 1) / (total + 1) ("add-one", Lin & Och 2004's BLEU+1),
which keeps a short single sentence's score informative.

chrF (Popović 2015), on strings: character n-grams of orders 1..6 of each sentence with its
whitespace removed, matches clipped as in BLEU and summed over the corpus. A sentence whose
reference is shorter than n characters adds none of its hypothesis's n-grams to order n's counts
(as Popović's chrF++.py and sacrebleu: an empty reference leaves its hypothesis out altogether). Then

    P_n = matches_n / hyp_n-grams_n,   R_n = matches_n / ref_n-grams_n
    P, R = the means of P_n and R_n over the orders that both sides have n-grams of
    chrF = 100 · (1 + β²) P R / (β² P + R)        β = 2: recall weighs twice as much as precision

rnnlab passes chrF the detokenized, lowercased sentences (whitespace is dropped anyway).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def ngrams(items: Sequence, n: int) -> Counter:
    """The multiset of n-grams (tuples of n consecutive items) of `items`."""
    return Counter(tuple(items[i : i + n]) for i in range(len(items) - n + 1))


def _check_pairs(hypotheses: Sequence, references: Sequence) -> None:
    if len(hypotheses) != len(references) or len(hypotheses) == 0:
        raise ValueError(f"hypotheses and references must be non-empty and of equal length; received "
                         f"{len(hypotheses)} and {len(references)}")


def corpus_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], *,
                max_order: int = 4, smooth: bool = False) -> float:
    """Corpus BLEU of token lists against one reference each, 0 to 100 (see the module docstring).

    Args:
        hypotheses: N token lists (the translations).
        references: N token lists (one reference translation each).
        max_order: N, the largest n-gram order (4 is standard).
        smooth: add-one smoothing for orders n ≥ 2.

    Returns:
        The score; 100 for hypotheses identical to their references (and as long as max_order),
        0 when no hypothesis shares a token with its reference.
    """
    _check_pairs(hypotheses, references)
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive integer; received {max_order!r}")
    matches, totals = [0] * max_order, [0] * max_order
    hyp_length = ref_length = 0
    for hyp, ref in zip(hypotheses, references):
        hyp_length, ref_length = hyp_length + len(hyp), ref_length + len(ref)
        for n in range(1, max_order + 1):
            hyp_grams, ref_grams = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(count, ref_grams[gram]) for gram, count in hyp_grams.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if smooth:
        matches = matches[:1] + [m + 1 for m in matches[1:]]
        totals = totals[:1] + [t + 1 for t in totals[1:]]
    if hyp_length == 0 or any(m == 0 or t == 0 for m, t in zip(matches, totals)):
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_order
    brevity = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)
    return 100.0 * brevity * math.exp(log_precision)


def chrf(hypotheses: Sequence[str], references: Sequence[str], *, max_order: int = 6, beta: float = 2.0) -> float:
    """Corpus chrF of strings against one reference each, 0 to 100 (see the module docstring).

    Args:
        hypotheses: N strings (the translations).
        references: N strings (one reference each).
        max_order: the largest character n-gram order (6 is standard).
        beta: recall's weight relative to precision (2 is standard).

    Returns:
        The score; 100 for hypotheses identical to their references up to whitespace, 0 when
        no hypothesis shares a character with its reference.
    """
    _check_pairs(hypotheses, references)
    if not beta > 0:
        raise ValueError(f"beta must be > 0; received {beta!r}")
    matches, hyp_counts, ref_counts = [0] * max_order, [0] * max_order, [0] * max_order
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = "".join(hyp.split()), "".join(ref.split())
        for n in range(1, max_order + 1):
            hyp_grams, ref_grams = ngrams(hyp, n), ngrams(ref, n)
            if not ref_grams:  # a reference shorter than n: the hypothesis's n-grams are not counted either
                continue
            matches[n - 1] += sum(min(count, ref_grams[gram]) for gram, count in hyp_grams.items())
            hyp_counts[n - 1] += sum(hyp_grams.values())
            ref_counts[n - 1] += sum(ref_grams.values())
    orders = [n for n in range(max_order) if hyp_counts[n] and ref_counts[n]]
    if not orders:
        return 0.0
    precision = sum(matches[n] / hyp_counts[n] for n in orders) / len(orders)
    recall = sum(matches[n] / ref_counts[n] for n in orders) / len(orders)
    if precision == 0 and recall == 0:
        return 0.0
    return 100.0 * (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


__all__ = ["chrf", "corpus_bleu", "ngrams"]
