"""Sampling (rnnlab.tasks.generate.sampling): the top-k and nucleus filters, draws, seeds, and prompts."""

import math

import pytest
import torch

from rnnlab.data.text import UNK, Tokenizer, Vocabulary
from rnnlab.tasks.generate.model import LanguageModel
from rnnlab.tasks.generate.sampling import encode_prompt, filter_logits, next_token, sample


def tiny_model(cell="lstm", num_layers=1, vocab_size=7, dtype=torch.float64) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(vocab_size, cell=cell, embedding_dim=4, hidden_size=5, num_layers=num_layers).to(dtype)


def test_top_k_keeps_the_k_largest_logits():
    logits = torch.tensor([1.0, 4.0, 3.0, 2.0])
    kept = filter_logits(logits, top_k=2)
    assert torch.isinf(kept).tolist() == [True, False, False, True]
    assert torch.equal(filter_logits(logits, top_k=0), logits) and torch.equal(filter_logits(logits, top_k=9), logits)


@pytest.mark.parametrize("top_p, kept", [(0.45, [3]), (0.75, [3, 0]), (0.85, [3, 0, 1]), (1.0, [3, 0, 1, 2])])
def test_top_p_keeps_the_smallest_nucleus_reaching_p(top_p, kept):
    logits = torch.tensor([0.3, 0.15, 0.05, 0.5], dtype=torch.float64).log()  # most probable: 3, 0, 1, 2
    finite = ~torch.isinf(filter_logits(logits, top_p=top_p))
    assert [i for i in range(4) if finite[i]] == sorted(kept)


def test_filters_reject_bad_arguments():
    with pytest.raises(ValueError, match="top_k must be a non-negative integer"):
        filter_logits(torch.zeros(3), top_k=-1)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        filter_logits(torch.zeros(3), top_p=0.0)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        next_token(torch.zeros(3), temperature=-1.0)


def test_next_token_draws_from_the_filtered_distribution():
    logits = torch.tensor([0.0, 2.0, 1.0, -1.0])
    generator = torch.Generator().manual_seed(0)
    draws = [next_token(logits, top_k=2, generator=generator) for _ in range(400)]
    assert set(draws) == {1, 2}
    share = draws.count(1) / len(draws)  # p(1 | top-2) = e² / (e² + e) ≈ 0.731
    assert abs(share - math.e / (math.e + 1)) < 0.07
    assert next_token(logits, temperature=0.0) == 1


def test_sampling_is_deterministic_given_a_seed_and_tends_to_greedy():
    model = tiny_model("lstm", vocab_size=11)
    prompt = [1, 2, 3]

    def draw(temperature, seed):
        return sample(model, prompt, 40, temperature=temperature, generator=torch.Generator().manual_seed(seed))

    assert draw(1.0, 5) == draw(1.0, 5)
    assert draw(1.0, 5) != draw(1.0, 6)
    greedy = draw(0.0, 0)
    assert len(greedy) == 40 and draw(1e-6, 0) == greedy and draw(1e-6, 123) == greedy
    assert draw(1.0, 0) != greedy  # a real temperature does sample


def test_sample_never_emits_excluded_ids_and_checks_its_arguments():
    model = tiny_model(vocab_size=5)
    generated = sample(model, [0], 200, temperature=3.0, exclude=[1, 3], generator=torch.Generator().manual_seed(0))
    assert set(generated) <= {0, 2, 4}
    with pytest.raises(ValueError, match="empty prompt"):
        sample(model, [], 5)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        sample(model, [0], 0)


def test_prompt_tokens_never_seen_map_to_unk_or_are_named():
    tokenizer = Tokenizer(kind="char", lowercase=False)
    with_unk = Vocabulary.build([list("to be")], specials=(UNK,))
    assert encode_prompt("tox", tokenizer, with_unk) == [with_unk.index("t"), with_unk.index("o"), with_unk.unk_id]
    without_unk = Vocabulary(list("tobe "))
    with pytest.raises(ValueError, match=r"chars never seen in training: \['x', 'z'\]"):
        encode_prompt("zetox", tokenizer, without_unk)
    with pytest.raises(ValueError, match="prompt must hold at least one word token"):
        encode_prompt("  ", Tokenizer(kind="word"), with_unk)
