"""An encoder–decoder with attention for translation: Luong et al. (2015) global attention.

    ē_1..ē_S      = Encoder(E_src x_1..x_S)                  source annotations, (B, S, D*H)
    s_0           = tanh(W_b [h_S^fwd ; h_1^bwd] + b_b)       decoder state from the encoder's final one
                                                               (LSTM: also c_0 = W_bc [c_S^fwd ; c_1^bwd] + b_bc)
    s_t           = Decoder(E_tgt y_{t-1}, s_{t-1})            y_0 = <s>, (B, H)
    a_ts          = score(s_t, ē_s), masked to −∞ where s is padding
    α_t           = softmax_s(a_t)                             attention weights over the source, (B, S)
    c_t           = Σ_s α_ts ē_s                               context vector, (B, D*H)
    s̃_t           = tanh(W_c [c_t ; s_t])                      attentional state, (B, H)
    p(y_t | y<t, x) = softmax(W_o s̃_t + b_o)                   next-token distribution, (B, V_tgt)

with one of two score functions:

    general  (Luong, multiplicative):  score(s, ē) = s · (W_a ē)
    additive (Bahdanau's score):       score(s, ē) = v · tanh(W_q s + W_k ē + b_k)

The architecture is Luong's "global attention" without input feeding: attention is computed from
the *current* decoder state s_t and does not feed back into the recurrence. So the decoder's
states depend on the previous target tokens only, and teacher-forced training runs the decoder
layer over the whole target at once (one fused kernel), while decoding steps the same layer one
token at a time (T = 1) with the same equations. Bahdanau et al. (2015) instead attend from
s_{t-1} and feed c_t into the recurrence; "additive" here borrows only their score function.

The source and target pads never matter: the encoder reads each source with `lengths=`, pads are
masked out of the attention softmax, and target pads are ignored by the loss. The output
distribution never puts mass on <pad> or <s> (their logits are −∞): they are never targets.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.data.text import pad_batch
from rnnlab.tasks.parts import ENCODERS, check_cell

ATTENTIONS = ("general", "additive")


class Attention(nn.Module):
    """Global attention over a padded source: α = softmax(score(s_t, ē_s)), c = Σ_s α_s ē_s.

    `keys(memory)` holds the part of the score that depends on the source only (W_a ē, or
    W_k ē + b_k); it is computed once per source and reused at every decoding step.

    Args:
        query_size: H, features in a decoder state s_t.
        memory_size: D*H, features in an annotation ē_s.
        score: "general" (s · W_a ē) or "additive" (v · tanh(W_q s + W_k ē + b_k), width H).

    Shape:
        queries: (B, T, H); memory: (B, S, D*H); mask: (B, S), True at real source tokens.
        Returns contexts (B, T, D*H) and weights α (B, T, S), each row summing to 1.
    """

    def __init__(self, query_size: int, memory_size: int, *, score: str = "general") -> None:
        super().__init__()
        if score not in ATTENTIONS:
            raise ValueError(f"score must be one of {list(ATTENTIONS)}; received {score!r}")
        self.score = score
        if score == "general":
            self.key = nn.Linear(memory_size, query_size, bias=False)  # W_a
        else:
            self.key = nn.Linear(memory_size, query_size)  # W_k, b_k
            self.query = nn.Linear(query_size, query_size, bias=False)  # W_q
            self.v = nn.Linear(query_size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        return self.key(memory)  # (B, S, H)

    def forward(self, queries: Tensor, memory: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        if self.score == "general":
            scores = queries @ keys.transpose(1, 2)  # (B, T, S)
        else:
            hidden = torch.tanh(self.query(queries)[:, :, None, :] + keys[:, None, :, :])  # (B, T, S, H)
            scores = self.v(hidden).squeeze(-1)  # (B, T, S)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))  # pads get weight exactly 0
        weights = torch.softmax(scores, dim=-1)  # (B, T, S)
        return weights @ memory, weights  # (B, T, D*H), (B, T, S)


class Memory(NamedTuple):
    """What the decoder reads of an encoded source batch."""

    outputs: Tensor  # (B, S, D*H) the annotations ē
    keys: Tensor  # (B, S, H) Attention.keys(outputs)
    mask: Tensor  # (B, S) True at real source tokens


class TeacherForcedBatch(NamedTuple):
    """A training batch's inputs: padded sources and the targets shifted right behind <s>."""

    source: Tensor  # (B, S) int64 source ids, padded
    source_lengths: Tensor  # (B,) int64, each ≥ 1
    target_inputs: Tensor  # (B, T) int64: <s> y_1 .. y_{n-1} y_n, padded


class TranslatorNetwork(nn.Module):
    """The encoder–decoder of the module docstring, on rnnlab's RNN/LSTM/GRU layers.

    Args:
        source_vocab_size, target_vocab_size: V_src and V_tgt.
        pad_id, bos_id: the ids of <pad> (in both vocabularies) and of the target's <s>.
        cell: "rnn", "lstm" or "gru", for the encoder and the decoder.
        embedding_dim: E, features of each token embedding.
        hidden_size: H, of the encoder (per direction) and of the decoder.
        num_layers: L, stacked layers in the encoder and in the decoder.
        bidirectional: the encoder reads the source both ways (D = 2); the decoder is one-way.
        dropout: on the embeddings and on s̃_t, and between stacked recurrent layers.
        attention: the score function, "general" or "additive".

    Shape:
        forward(batch) takes a `TeacherForcedBatch` and returns logits (B, T, V_tgt).
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, *, pad_id: int, bos_id: int,
                 cell: str = "gru", embedding_dim: int = 128, hidden_size: int = 256, num_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.0, attention: str = "general") -> None:
        super().__init__()
        check_cell(cell)
        for name, value in (("source_vocab_size", source_vocab_size), ("target_vocab_size", target_vocab_size),
                            ("embedding_dim", embedding_dim), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            check_positive_int(name, value)
        self.cell, self.pad_id, self.bos_id = cell, pad_id, bos_id
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.num_directions = 2 if bidirectional else 1
        between = dropout if num_layers > 1 else 0.0  # the layers' dropout acts between layers only
        layer = ENCODERS[cell]
        self.source_embedding = nn.Embedding(source_vocab_size, embedding_dim, padding_idx=pad_id)
        self.target_embedding = nn.Embedding(target_vocab_size, embedding_dim, padding_idx=pad_id)
        self.encoder = layer(embedding_dim, hidden_size, num_layers, batch_first=True, dropout=between,
                             bidirectional=bidirectional)
        self.decoder = layer(embedding_dim, hidden_size, num_layers, batch_first=True, dropout=between)
        memory_size = self.num_directions * hidden_size
        self.bridge = nn.Linear(memory_size, num_layers * hidden_size)  # W_b: s_0 of every decoder layer
        if cell == "lstm":
            self.bridge_c = nn.Linear(memory_size, num_layers * hidden_size)  # the decoder's initial c
        self.attention = Attention(hidden_size, memory_size, score=attention)
        self.combine = nn.Linear(memory_size + hidden_size, hidden_size, bias=False)  # W_c
        self.output = nn.Linear(hidden_size, target_vocab_size)  # W_o, b_o
        self.dropout = nn.Dropout(dropout)
        blocked = torch.zeros(target_vocab_size)
        blocked[[pad_id, bos_id]] = float("-inf")  # never targets, so never predicted
        self.register_buffer("blocked", blocked, persistent=False)

    def encode(self, source: Tensor, source_lengths: Tensor) -> tuple[Memory, Any]:
        """Encodes a padded source batch.

        Args:
            source: (B, S) int64 ids; source_lengths: (B,) int64, each in [1, S].

        Returns:
            The `Memory` for attention, and the decoder's initial state s_0: (L, B, H), or an
            `LSTMState` of two such tensors for the LSTM.
        """
        if bool((source_lengths < 1).any()):
            raise ValueError(f"source_lengths must all be ≥ 1; received {source_lengths.tolist()}")
        embedded = self.dropout(self.source_embedding(source))  # (B, S, E)
        outputs, final = self.encoder(embedded, lengths=source_lengths)  # (B, S, D*H)
        h_n = final.h if isinstance(final, LSTMState) else final  # (L*D, B, H)
        positions = torch.arange(source.shape[1], device=source.device)
        mask = positions[None, :] < source_lengths.to(source.device)[:, None]  # (B, S)
        memory = Memory(outputs, self.attention.keys(outputs), mask)
        state = self._bridge(self.bridge, h_n, torch.tanh)
        if isinstance(final, LSTMState):
            state = LSTMState(state, self._bridge(self.bridge_c, final.c, lambda c: c))
        return memory, state

    def _bridge(self, linear: nn.Linear, finals: Tensor, activation) -> Tensor:
        top = finals[-self.num_directions:].transpose(0, 1).reshape(finals.shape[1], -1)  # (B, D*H), [fwd | bwd]
        state = activation(linear(top)).view(-1, self.num_layers, self.hidden_size)  # (B, L, H)
        return state.transpose(0, 1).contiguous()  # (L, B, H)

    def decode(self, memory: Memory, target_inputs: Tensor, state: Any) -> tuple[Tensor, Any, Tensor]:
        """Runs the decoder over `target_inputs` from `state`: all of a target, or one token.

        Args:
            memory: the encoded sources, as `encode` returns.
            target_inputs: (B, T) int64, <s> then the previous tokens.
            state: the decoder state before the first of them.

        Returns:
            logits (B, T, V_tgt), the state after the last input, and the attention weights α
            (B, T, S).
        """
        embedded = self.dropout(self.target_embedding(target_inputs))  # (B, T, E)
        states, state = self.decoder(embedded, state)  # (B, T, H)
        contexts, weights = self.attention(states, memory.outputs, memory.keys, memory.mask)
        attentional = torch.tanh(self.combine(torch.cat([contexts, states], dim=-1)))  # (B, T, H) s̃
        logits = self.output(self.dropout(attentional)) + self.blocked  # (B, T, V)
        return logits, state, weights

    def forward(self, batch: TeacherForcedBatch) -> Tensor:
        """Teacher-forced logits (B, T, V_tgt) of a `TeacherForcedBatch`."""
        memory, state = self.encode(batch.source, batch.source_lengths)
        return self.decode(memory, batch.target_inputs, state)[0]


def translation_loss(logits: Tensor, targets: Tensor, pad_id: int) -> Tensor:
    """Mean cross-entropy per real target token: −(1/N) Σ log p(y_t | y<t, x), pads ignored.

    Args:
        logits: (B, T, V) from `TranslatorNetwork.forward`; targets: (B, T) int64, y_1 .. y_n </s> then pads.
    """
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


def log_softmax(logits: Tensor) -> Tensor:
    """log p over the last dimension, in float32 at least (bfloat16 logits under amp are upcast)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return torch.log_softmax(logits, dim=-1)


def sequence_log_probs(model: TranslatorNetwork, sources: list[list[int]], outputs: list[list[int]],
                       *, eos_id: int) -> tuple[Tensor, list[Tensor]]:
    """The model's total log-probability log p(y | x) = Σ_t log p(y_t | y<t, x) of each output.

    This is the score greedy and beam search maximise, computed teacher-forced in one batch: an
    independent check of the scores the decoders report. An output that ends in `eos_id` has
    the </s> term in its sum; one cut at a length limit has not.

    Args:
        model: the translator (its mode is left as found; use eval mode for decoding scores).
        sources: N source id sequences, each non-empty; outputs: N output id sequences.
        eos_id: the target's </s> id (only used to check the outputs: none may hold it before its end).

    Returns:
        (N,) float tensor of log-probabilities, and the N attention maps α, each (len(y), len(x)).
    """
    if len(sources) != len(outputs) or not sources:
        raise ValueError(f"sources and outputs must be non-empty and of equal length; received "
                         f"{len(sources)} and {len(outputs)}")
    if any(eos_id in output[:-1] for output in outputs):
        raise ValueError("outputs must not hold </s> before their last token")
    device = model.blocked.device
    source, source_lengths = pad_batch(sources, model.pad_id)
    inputs, lengths = pad_batch([[model.bos_id, *output[:-1]] if output else [model.bos_id] for output in outputs],
                                model.pad_id)
    targets, _ = pad_batch([output or [model.pad_id] for output in outputs], model.pad_id)
    with torch.no_grad():
        memory, state = model.encode(source.to(device), source_lengths.to(device))
        logits, _, weights = model.decode(memory, inputs.to(device), state)
    log_probs = log_softmax(logits).gather(-1, targets.to(device)[..., None]).squeeze(-1)  # (N, T)
    real = torch.arange(targets.shape[1], device=device)[None, :] < lengths.to(device)[:, None]  # (N, T)
    real &= torch.tensor([bool(output) for output in outputs], device=device)[:, None]
    totals = torch.where(real, log_probs, torch.zeros((), device=device)).sum(dim=1)  # (N,)
    maps = [weights[n, : len(outputs[n]), : len(sources[n])].cpu() for n in range(len(outputs))]
    return totals.cpu(), maps


__all__ = ["ATTENTIONS", "Attention", "Memory", "TeacherForcedBatch", "TranslatorNetwork", "log_softmax",
           "sequence_log_probs", "translation_loss"]
