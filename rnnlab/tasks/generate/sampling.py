"""Sampling from a language model: temperature, top-k and nucleus (top-p) filters, and text continued.

    filter_logits(logits)     every token outside the top-k and the nucleus set to −inf
    next_token(logits)        one draw from softmax(logits / temperature), filtered; 0 is greedy
    sample(model, ids, n)     n tokens after a prompt, each fed back with the carried state
    continue_text(...)        the same in text: the prompt as given, then the generated tokens

Draws are made in float64 on the CPU from a seeded generator, so a seed gives the same text on
any device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from rnnlab.cells.base import check_positive_int
from rnnlab.data.text import Tokenizer, Vocabulary
from rnnlab.tasks.generate.model import LanguageModel


def filter_logits(logits: Tensor, *, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Logits (…, V) with every token outside the top-k and outside the nucleus set to −inf.

    Top-k keeps the k largest logits (0 disables). Top-p (nucleus) keeps the smallest set of most
    probable tokens whose total probability reaches p (1 disables); the most probable token is
    always kept. Ties at the k-th logit are all kept.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be a non-negative integer (0 disables); received {top_k!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (1 disables); received {top_p!r}")
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (…, 1)
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        outside = probs.cumsum(dim=-1) - probs >= top_p  # the tokens above this one already reach p
        drop = torch.zeros_like(outside).scatter(-1, order, outside)  # back to vocabulary order
        logits = logits.masked_fill(drop, -math.inf)
    return logits


def next_token(logits: Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
               generator: torch.Generator | None = None) -> int:
    """Draws one token id from logits (V,): softmax(logits / temperature), top-k, then top-p.

    temperature = 0 is greedy decoding (argmax), the limit of sampling as the temperature goes to
    0 when the largest logit is unique. Probabilities are computed in float64 on the CPU, so a
    seeded `generator` (a CPU generator) draws the same tokens on any device.
    """
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0: greedy); received {temperature!r}")
    logits = logits.detach().double().cpu()  # (V,)
    if temperature == 0:
        return int(torch.argmax(logits))
    probs = filter_logits(logits / temperature, top_k=top_k, top_p=top_p).softmax(dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def sample(model: LanguageModel, prompt_ids: Sequence[int], length: int, *, temperature: float = 1.0, top_k: int = 0,
           top_p: float = 1.0, generator: torch.Generator | None = None, exclude: Sequence[int] = ()) -> list[int]:
    """Continues a prompt by `length` tokens, feeding each sampled token back with the carried state.

    Args:
        model: the language model (put in eval mode for the duration, then restored).
        prompt_ids: the prompt's token ids (at least one); read in one call.
        length: number of tokens to generate (≥ 1).
        temperature, top_k, top_p: as in `next_token`.
        generator: a seeded CPU `torch.Generator` for reproducible draws (None: torch's global one).
        exclude: ids never generated (e.g. <unk>); their logits are set to −inf.

    Returns:
        The `length` generated ids (the prompt not included).
    """
    check_positive_int("length", length)
    if len(prompt_ids) == 0:
        raise ValueError("prompt_ids must hold at least one token; received an empty prompt")
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    generated, state = [], None
    tokens = torch.as_tensor(list(prompt_ids), dtype=torch.int64, device=device)[None]  # (1, T)
    with torch.no_grad():
        for _ in range(length):
            logits, state = model(tokens, state)  # (1, T, V)
            last = logits[0, -1].index_fill(0, torch.as_tensor(list(exclude), dtype=torch.int64, device=device),
                                            -math.inf) if exclude else logits[0, -1]
            generated.append(next_token(last, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator))
            tokens = torch.tensor([[generated[-1]]], dtype=torch.int64, device=device)  # (1, 1)
    model.train(was_training)
    return generated


def encode_prompt(prompt: str, tokenizer: Tokenizer, vocab: Vocabulary) -> list[int]:
    """The prompt's ids; tokens never seen in training become <unk>, or (without <unk>) a ValueError naming them."""
    tokens = tokenizer(prompt)
    if not tokens:
        raise ValueError(f"prompt must hold at least one {tokenizer.kind} token; received {prompt!r}")
    unseen = sorted({token for token in tokens if token not in vocab})
    if unseen and vocab.unk_id is None:
        raise ValueError(f"prompt {prompt!r} has {tokenizer.kind}s never seen in training: {unseen}")
    return vocab.encode(tokens)


def continue_text(model: LanguageModel, tokenizer: Tokenizer, vocab: Vocabulary, prompt: str, *, length: int,
                  temperature: float, top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
    """The prompt as given followed by `length` generated tokens (never <unk>), deterministic given `seed`."""
    prompt_ids = encode_prompt(prompt, tokenizer, vocab)
    generator = torch.Generator().manual_seed(seed)
    exclude = [vocab.unk_id] if vocab.unk_id is not None else []
    new = vocab.decode(sample(model, prompt_ids, length, temperature=temperature, top_k=top_k, top_p=top_p,
                              generator=generator, exclude=exclude))
    read = vocab.decode(prompt_ids)
    # detokenize joins left to right, so the text of the prompt's tokens is a prefix of the whole
    return prompt + tokenizer.detokenize(read + new)[len(tokenizer.detokenize(read)):]
