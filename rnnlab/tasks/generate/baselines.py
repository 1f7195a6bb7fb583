"""The generation baseline: a unigram model fitted on the training tokens, with add-one smoothing.

    p(w) = (n_w + 1) / (N + V)      n_w: training count of token w; N: training tokens; V: vocabulary size

It predicts every token from its frequency alone, ignoring what came before: the number a
language model must beat to show that it reads context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def unigram_log_probs(counts: Sequence[int], *, smoothing: float = 1.0) -> Tensor:
    """log p(w) = log((n_w + α) / (N + α·V)) for token counts n (V,), add-α smoothing (α = 1: Laplace).

    Smoothing keeps tokens never seen in training (count 0) at a finite cost.
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)  # (V,)
    if smoothing <= 0 and bool((counts == 0).any()):
        raise ValueError(f"smoothing must be > 0 when some count is 0; received {smoothing}")
    return torch.log(counts + smoothing) - math.log(float(counts.sum()) + smoothing * len(counts))


def unigram_nll(log_probs: Tensor, ids: Tensor) -> tuple[float, int]:
    """Total NLL (nats) of ids[1:] under a unigram model, the same tokens `stream_nll` predicts."""
    return float(-log_probs[ids[1:].cpu()].sum()), len(ids) - 1
