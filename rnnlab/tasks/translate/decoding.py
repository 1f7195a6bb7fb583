"""Greedy and beam-search decoding of a `TranslatorNetwork`, scored by the model's total log-probability.

A hypothesis y = y_1 .. y_n is scored by log p(y | x) = Σ_t log p(y_t | y<t, x), with no length
normalisation: that is the quantity both decoders maximise and the one the guarantee below is
about. A hypothesis is finished when it emits </s> (counted in its score and its length) or when
it reaches its source's length limit (then it has no </s> and no </s> term).

Guarantee, by construction: `beam_search` never returns a hypothesis with a lower score than
greedy decoding's. Plain beam search does not promise this (greedy's path can fall out of a beam
early, and the beam can end on worse hypotheses), so `beam_search` also decodes greedily and
returns the better of that hypothesis and the beam's best (the greedy one on a tie). Besides,
with `beam_size=1` the beam itself follows greedy's path step for step (its top candidate is the
argmax, and it stops as soon as a finished hypothesis scores at least as well as every live one),
so a beam of 1 equals greedy decoding even without that fallback (`keep_greedy=False`).

The beam keeps `beam_size` live hypotheses at every step (expansions ending in </s> leave the
beam as finished ones if they rank in the top `beam_size`) and stops when no live hypothesis can
beat the best finished one: scores only fall as tokens are added, so the search is then over.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from rnnlab.cells.lstm import LSTMState
from rnnlab.data.text import EOS, UNK, Vocabulary, pad_batch
from rnnlab.tasks.translate.model import Memory, TranslatorNetwork, log_softmax, sequence_log_probs

DECODE_BATCH = 64  # sources decoded together by `translate`


class Hypothesis(NamedTuple):
    """One decoded output."""

    tokens: list[int]  # the output ids, </s> included when finished
    score: float  # log p(tokens | source) under the model
    finished: bool  # True if it ends in </s>, False if cut at the length limit


def max_output_length(source_length: int, ratio: float, extra: int = 5) -> int:
    """The most output tokens (</s> included) decoded for a source of `source_length` tokens.

    Returns ⌈ratio · source_length⌉ + extra, at least 1.
    """
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0; received {ratio!r}")
    return max(1, math.ceil(ratio * source_length) + extra)


def replace_unknowns(tokens: list[str], source: list[str], weights: Tensor, unknown: str) -> list[str]:
    """Each `unknown` output token replaced by the source token it attends to most.

    The unknown-word replacement of Luong et al. (2015, "Addressing the rare word problem"):
    names and rare words, which the vocabularies map to <unk>, are mostly carried over as they
    are in translation (Jacob → Jacob), and attention says which source word an output stands for.
    (Dropping the <unk>s that attend to a common source word instead was tried, and scored lower
    chrF on kjv_rv: chrF weighs recall, and English words share many characters with Spanish.)

    Args:
        tokens: the T output tokens.
        source: the S source tokens as written (before they were mapped to <unk>).
        weights: (≥T, S) attention weights, row t for output token t.
        unknown: the vocabulary's unknown token, "<unk>".
    """
    if weights.shape[0] < len(tokens) or weights.shape[1] != len(source):
        raise ValueError(f"weights must have shape (≥{len(tokens)}, {len(source)}); received {tuple(weights.shape)}")
    return [source[int(weights[t].argmax())] if token == unknown else token for t, token in enumerate(tokens)]


def _select(state: Any, index: Tensor) -> Any:
    """Rows `index` of a decoder state (L, B, H) or LSTMState of two, along the batch."""
    if isinstance(state, LSTMState):
        return LSTMState(state.h.index_select(1, index), state.c.index_select(1, index))
    return state.index_select(1, index)


def _step(model: TranslatorNetwork, memory: Memory, last: Tensor, state: Any) -> tuple[Tensor, Any]:
    """log p(· | y<t, x) (B, V) after the previous tokens `last` (B,), and the next state."""
    logits, state, _ = model.decode(memory, last[:, None], state)  # (B, 1, V)
    return log_softmax(logits[:, 0]), state


@torch.no_grad()
def greedy_decode(model: TranslatorNetwork, sources: list[list[int]], max_lengths: list[int], *,
                  eos_id: int) -> list[Hypothesis]:
    """Decodes each source by taking the most probable next token until </s> or its length limit.

    Args:
        model: the translator, in eval mode.
        sources: B non-empty source id sequences, decoded together as one padded batch.
        max_lengths: B limits on the number of output tokens (</s> included).
        eos_id: the target's </s> id.

    Returns:
        B `Hypothesis`es, in the order of `sources`.
    """
    if len(sources) != len(max_lengths) or not sources:
        raise ValueError(f"sources and max_lengths must be non-empty and of equal length; received "
                         f"{len(sources)} and {len(max_lengths)}")
    device = model.blocked.device
    source, lengths = pad_batch(sources, model.pad_id)
    memory, state = model.encode(source.to(device), lengths.to(device))
    last = torch.full((len(sources),), model.bos_id, dtype=torch.int64, device=device)
    tokens = [[] for _ in sources]
    scores = [0.0] * len(sources)
    done = [False] * len(sources)
    for _ in range(max(max_lengths)):
        log_probs, state = _step(model, memory, last, state)
        best_scores, last = log_probs.max(dim=-1)  # (B,), (B,)
        for row, (token, score) in enumerate(zip(last.tolist(), best_scores.tolist())):
            if not done[row]:
                tokens[row].append(token)
                scores[row] += score
                done[row] = token == eos_id or len(tokens[row]) >= max_lengths[row]
        if all(done):
            break
    return [Hypothesis(t, s, bool(t) and t[-1] == eos_id) for t, s in zip(tokens, scores)]


@torch.no_grad()
def beam_search(model: TranslatorNetwork, sources: list[list[int]], max_lengths: list[int], *, beam_size: int,
                eos_id: int, keep_greedy: bool = True) -> list[Hypothesis]:
    """The best hypothesis a beam of `beam_size` finds for each source (see the module docstring).

    The sources are searched together: each step runs the decoder once on the live hypotheses
    of all sources still searching, stacked along the batch.

    Args:
        model: the translator, in eval mode.
        sources: B non-empty source id sequences.
        max_lengths: B limits on the number of output tokens (</s> included).
        beam_size: live hypotheses kept per source and step, ≥ 1.
        eos_id: the target's </s> id.
        keep_greedy: also decode greedily and return that hypothesis where it scores at least as
            well as the beam's best. True makes the result never worse than greedy's.

    Returns:
        B highest-scoring `Hypothesis`es, in the order of `sources`.
    """
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive integer; received {beam_size!r}")
    if len(sources) != len(max_lengths) or not sources:
        raise ValueError(f"sources and max_lengths must be non-empty and of equal length; received "
                         f"{len(sources)} and {len(max_lengths)}")
    device = model.blocked.device
    source, lengths = pad_batch(sources, model.pad_id)
    memory, state = model.encode(source.to(device), lengths.to(device))
    beams = [[Hypothesis([], 0.0, False)] for _ in sources]  # the live hypotheses of each source
    finished: list[list[Hypothesis]] = [[] for _ in sources]
    active = list(range(len(sources)))  # the sources still searching, in the order of the state's rows
    for step in range(max(max_lengths)):
        owners = torch.tensor([n for n in active for _ in beams[n]], device=device)  # row -> source
        last = torch.tensor([h.tokens[-1] if h.tokens else model.bos_id for n in active for h in beams[n]],
                            device=device)
        log_probs, state = _step(model, Memory(*(part.index_select(0, owners) for part in memory)), last, state)
        scores = torch.tensor([h.score for n in active for h in beams[n]], dtype=log_probs.dtype, device=device)
        totals = scores[:, None] + log_probs  # (R, V) the score of every one-token extension
        still, rows = _prune(totals, active, beams, finished, [step + 1 >= max_lengths[n] for n in active],
                             beam_size, eos_id)
        if not still:
            break
        state, active = _select(state, torch.tensor(rows, device=device)), still
    best = [max(hypotheses, key=lambda h: h.score) for hypotheses in finished]  # the first of equals
    if keep_greedy:
        greedy = greedy_decode(model, sources, max_lengths, eos_id=eos_id)
        best = [g if g.score >= b.score else b for g, b in zip(greedy, best)]
    return best


def _prune(totals: Tensor, active: list[int], beams: list[list[Hypothesis]], finished: list[list[Hypothesis]],
           at_limit: list[bool], beam_size: int, eos_id: int) -> tuple[list[int], list[int]]:
    """One beam step for every active source: updates `beams` and `finished` in place.

    Args:
        totals: (R, V) scores of every one-token extension of the live hypotheses, the rows of
            each active source in turn.
        at_limit: per active source, whether this step's hypotheses have its maximum length.

    Returns:
        The sources still searching, and the rows of `totals` their live hypotheses continue.
    """
    still, rows, offset = [], [], 0
    for n, limit_reached in zip(active, at_limit):
        width = len(beams[n])  # this source's rows in the batch
        block = totals[offset : offset + width]  # (k, V)
        # 2k candidates always hold k that do not end in </s> (each row has one </s>)
        top_scores, top = block.flatten().topk(min(2 * beam_size, block.numel()))
        alive, keep = _advance(beams[n], finished[n], top_scores.tolist(), top.tolist(), block.shape[1],
                               beam_size, eos_id)
        if alive and limit_reached:
            finished[n] += [h._replace(finished=False) for h in alive]  # cut at the length limit
        elif alive and not (finished[n] and max(h.score for h in finished[n]) >= max(h.score for h in alive)):
            still.append(n)  # else no live hypothesis can still beat the best finished one
            rows += [offset + row for row in keep]
            beams[n] = alive
        offset += width
    return still, rows


class Translation(NamedTuple):
    """One decoded translation, as `translate` returns it."""

    tokens: list[str]  # the output words, without </s>; <unk>s replaced if asked
    hypothesis: Hypothesis  # the output ids and their log-probability under the model
    attention: Tensor  # (len(hypothesis.tokens), S) attention weights, row t for output token t


def translate(model: TranslatorNetwork, sources: list[list[str]], source_vocab: Vocabulary,
              target_vocab: Vocabulary, *, beam_size: int, max_ratio: float, replace_unk: bool) -> list[Translation]:
    """Translations of tokenized sources: beam search, or greedy decoding when `beam_size` is 1.

    Sources are decoded `DECODE_BATCH` at a time, grouped by length (less padding); each is
    allowed `max_output_length(len(source), max_ratio)` output tokens.

    Args:
        model: the translator (put in eval mode here).
        sources: N non-empty token lists.
        source_vocab, target_vocab: the vocabularies the model was trained with.
        beam_size: ≥ 1.
        max_ratio: the output length limit's ratio to the source length.
        replace_unk: replace each output <unk> as `replace_unknowns` does.

    Returns:
        N `Translation`s, in the order of `sources`.
    """
    if any(not tokens for tokens in sources):
        raise ValueError("every text to translate must hold at least one word or mark; received an empty one")
    ids = [source_vocab.encode(tokens) for tokens in sources]
    limits = [max_output_length(len(source), max_ratio) for source in ids]
    eos = target_vocab.id_of(EOS)
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    results: list[Translation | None] = [None] * len(ids)
    for start in range(0, len(order), DECODE_BATCH):
        chunk = order[start : start + DECODE_BATCH]
        chunk_ids, chunk_limits = [ids[i] for i in chunk], [limits[i] for i in chunk]
        if beam_size == 1:
            found = greedy_decode(model, chunk_ids, chunk_limits, eos_id=eos)
        else:
            found = beam_search(model, chunk_ids, chunk_limits, beam_size=beam_size, eos_id=eos)
        _, maps = sequence_log_probs(model, chunk_ids, [h.tokens for h in found], eos_id=eos)
        for i, hypothesis, weights in zip(chunk, found, maps):
            words = target_vocab.decode(hypothesis.tokens[:-1] if hypothesis.finished else hypothesis.tokens)
            if replace_unk:
                words = replace_unknowns(words, sources[i], weights, UNK)
            results[i] = Translation(words, hypothesis, weights)
    return results


def _advance(alive: list[Hypothesis], finished: list[Hypothesis], scores: list[float], flat: list[int],
             vocab_size: int, beam_size: int, eos_id: int) -> tuple[list[Hypothesis], list[int]]:
    """One beam step: the next live hypotheses and the rows of the state they continue.

    `scores` and `flat` are the candidates' totals and flat indices row * V + token, best first.
    Candidates ending in </s> that rank among the first `beam_size` are appended to `finished`.
    """
    next_alive, keep = [], []
    for rank, (score, index) in enumerate(zip(scores, flat)):
        if score == float("-inf"):
            break  # <pad> and <s> (and what follows them in the ranking) are impossible
        row, token = divmod(index, vocab_size)
        extended = Hypothesis(alive[row].tokens + [token], score, token == eos_id)
        if token == eos_id:
            if rank < beam_size:
                finished.append(extended)
        elif len(next_alive) < beam_size:
            next_alive.append(extended)
            keep.append(row)
    return next_alive, keep


__all__ = ["DECODE_BATCH", "Hypothesis", "Translation", "beam_search", "greedy_decode", "max_output_length",
           "replace_unknowns", "translate"]
