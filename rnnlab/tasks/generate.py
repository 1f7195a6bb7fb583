"""Language models for text generation: the model, stateful truncated BPTT, sampling and metrics.

A character- (or word-) level language model reads tokens x_1 … x_T and predicts each next one:

    e_t = E[x_t]                                   embedding of token x_t, (B, T, E)
    y_t, s_t = RNN(e_t, s_{t-1})                   rnnlab RNN/LSTM/GRU; s is the recurrent state
    p(x_{t+1} | x_1 … x_t) = softmax(W y_t + b)    logits (B, T, V)

Training reads the text as one long stream (stateful truncated BPTT): the stream is cut into
B parallel rows and each row into chunks of `bptt` steps; batch k holds chunk k of every row, and
the state left by batch k starts batch k + 1 (detached, so gradients stop at chunk boundaries).
Generation feeds the prompt, then one sampled token at a time, carrying the state.

Metrics: cross-entropy H in nats per predicted token, perplexity exp(H), and bits per character
(total bits over the predicted tokens / the characters they cover). The baseline is a unigram
model p(w) = (n_w + 1) / (N + V) fitted on the training tokens (add-one smoothing).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.tasks.parts import ENCODERS


class LanguageModel(nn.Module):
    """Embedding → batch-first rnnlab RNN/LSTM/GRU → linear head to next-token logits.

    Dropout (rate `dropout`) acts on the embeddings, between recurrent layers and before the head,
    never on the recurrent connections (Zaremba et al. 2014), so the carried state is untouched.

    Args:
        vocab_size: number of token ids (V).
        cell: "rnn", "lstm" or "gru".
        embedding_dim: features of a token embedding (E).
        hidden_size: features of the recurrent state (H).
        num_layers: stacked recurrent layers (L).
        dropout: dropout rate in [0, 1).

    Shape:
        tokens: (B, T) int64, batch-first. logits: (B, T, V). state: the layer's torch-packed
        state, (L, B, H), or an `LSTMState` of two such tensors for the LSTM; None means zeros.
    """

    def __init__(self, vocab_size: int, *, cell: str = "lstm", embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if cell not in ENCODERS:
            raise ValueError(f"cell must be one of {sorted(ENCODERS)}; received {cell!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received {dropout!r}")
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.embedding = nn.Embedding(vocab_size, check_positive_int("embedding_dim", embedding_dim))
        self.encoder = ENCODERS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Next-token logits at every step, and the state after the last step.

        Args:
            tokens: (B, T) int64 token ids.
            state: the state to start from (the one a previous call returned), or None for zeros.

        Returns:
            (logits (B, T, V), final state).
        """
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (B, T); received {tuple(tokens.shape)}")
        xs = self.dropout(self.embedding(tokens))  # (B, T, E)
        ys, state = self.encoder(xs, state)  # (B, T, H)
        return self.head(self.dropout(ys)), state  # (B, T, V)

    def step(self, tokens: Tensor, state: Any = None, *, reset: Tensor | None = None) -> tuple[Tensor, Any]:
        """Reads one more token of each stream; returns the logits of the token after it.

        Equal to `forward`'s logits at that step of the stream read whole; the state is the one
        `forward` takes and returns, so a prompt can be read in one call and then continued step
        by step.

        Args:
            tokens: (B,) int64, the newest token id of each of B streams.
            state: what the previous call (or `forward`) returned, or None for zeros.
            reset: keyword-only (B,) bool: rows where a new stream starts (see `RecurrentLayer.step`).

        Returns:
            (logits (B, V), state).
        """
        if tokens.dim() != 1:
            raise ValueError(f"tokens must have shape (B,), one token per stream; received {tuple(tokens.shape)}")
        x = self.dropout(self.embedding(tokens))  # (B, E)
        y, state = self.encoder.step(x, state, reset=reset)  # (B, H)
        return self.head(self.dropout(y)), state  # (B, V)


class StreamBatch(NamedTuple):
    """One batch of a token stream: `tokens` (B, T) and whether it is the stream's first chunk."""

    tokens: Tensor
    first: bool


def stream_batches(ids: Tensor, batch_size: int, bptt: int, *, offset: int = 0) -> Iterator[tuple[StreamBatch, Tensor]]:
    """Cuts a token stream into B parallel rows and yields their chunks in order, with targets.

    Row b is ids[offset + b·n : offset + (b + 1)·n] with n = (len(ids) − offset) // B (the tail
    that does not fill a row is dropped). Batch k is (inputs, targets) = (row[:, k·bptt : k·bptt + bptt],
    the same shifted by one); the last chunk may be shorter.

    Args:
        ids: (N,) int64 token ids.
        batch_size: number of rows B.
        bptt: steps per chunk.
        offset: tokens skipped at the start (training varies it per epoch to move the chunk cuts).

    Yields:
        (StreamBatch(tokens (B, T), first), targets (B, T)), T ≤ bptt; `first` on the first batch only.
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("bptt", bptt)
    length = (len(ids) - offset) // batch_size
    if length < 2:
        raise ValueError(f"a stream of {len(ids)} tokens (offset {offset}) is too short for batch_size={batch_size}: "
                         "each row needs at least 2 tokens")
    rows = ids[offset: offset + batch_size * length].view(batch_size, length)  # (B, n)
    for start in range(0, length - 1, bptt):
        stop = min(start + bptt, length - 1)
        yield StreamBatch(rows[:, start:stop], start == 0), rows[:, start + 1: stop + 1]


def detach_state(state: Any) -> Any:
    """The state with every tensor detached (named tuples keep their type)."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple):
        items = tuple(detach_state(item) for item in state)
        return type(state)(*items) if hasattr(state, "_fields") else items
    return state


class CarriedState(nn.Module):
    """Wraps a `LanguageModel` so the shared Trainer runs stateful truncated BPTT.

    The Trainer calls `wrapper(inputs)` once per batch and keeps no state; this module keeps it.
    Each call starts from the state the previous call left (detached: the truncation), or from
    zeros when the batch is flagged `first` (the start of every epoch and every evaluation pass)
    or when the batch size changed. Chunk after chunk, the outputs therefore equal one call of
    the model over the concatenated rows.

    On `resume` mid-epoch, the Trainer skips the batches it had trained, so the first batch
    trained after resuming starts from zeros rather than from the state of the interruption; from
    the next epoch on, training is as without the interruption.

    Args:
        model: the language model (`forward(tokens, state) -> (logits, state)`).
    """

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model
        self.state: Any = None  # a plain attribute, not a buffer: never saved with the weights

    def forward(self, batch: StreamBatch) -> Tensor:
        state = None if batch.first else self.state
        if state is not None and _state_batch_size(state) != batch.tokens.shape[0]:
            state = None
        logits, state = self.model(batch.tokens, state)  # (B, T, V)
        self.state = detach_state(state)
        return logits


def _state_batch_size(state: Any) -> int:
    return int((state[0] if isinstance(state, tuple) else state).shape[1])  # (L, B, H)


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats per token) of logits (B, T, V) against target ids (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def stream_nll(model: LanguageModel, ids: Tensor, *, bptt: int = 256) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of ids[1:] given what precedes them, from a zero state.

    The stream is read as one row, chunk by chunk with the state carried, so every token after
    the first is predicted from all the tokens before it.

    Returns:
        (total nats, number of predicted tokens = len(ids) − 1).
    """
    was_training, device = model.training, next(model.parameters()).device
    wrapper, total = CarriedState(model).eval(), 0.0
    with torch.no_grad():
        for batch, targets in stream_batches(ids.to(device), 1, bptt):
            logits = wrapper(batch)
            total += float(F.cross_entropy(logits[0].double(), targets[0], reduction="sum"))
    model.train(was_training)
    return total, len(ids) - 1


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
