"""Language-model metrics from a total negative log-likelihood: cross-entropy, perplexity, bits.

    H   = nats / tokens                  cross-entropy, nats per predicted token
    PPL = exp(H)                         perplexity: a uniform model over V tokens has PPL V
    bpt = nats / (tokens · ln 2)         bits per token
    bpc = nats / (characters · ln 2)     bits per character of the text the tokens cover

Bits per character compare models of different tokenizations (characters, words) on one text,
which perplexity cannot: a word-level token covers several characters.
"""

from __future__ import annotations

import math


def language_metrics(nats: float, tokens: int, characters: int) -> dict[str, float]:
    """cross_entropy (nats/token), perplexity exp(H), bits_per_token and bits_per_character.

    Args:
        nats: total negative log-likelihood of the predicted tokens.
        tokens: number of predicted tokens.
        characters: number of characters of text those tokens cover.
    """
    if tokens < 1 or characters < 1:
        raise ValueError(f"tokens and characters must be positive; received {tokens} and {characters}")
    bits = nats / math.log(2)
    return {"cross_entropy": nats / tokens, "perplexity": math.exp(nats / tokens), "bits_per_token": bits / tokens,
            "bits_per_character": bits / characters, "tokens": tokens, "characters": characters}
