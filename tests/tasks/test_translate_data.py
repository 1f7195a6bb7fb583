"""Sentence pairs for the encoder–decoder: seeded splits, vocabularies from training only, batches."""

import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.text import BOS, EOS, PAD, UNK, Tokenizer
from rnnlab.tasks import seq2seq
from rnnlab.data.splits import split_indices


def test_vocabularies_and_encoding():
    pairs = [(["the", "cat"], ["el", "gato"]), (["the", "dog"], ["el", "perro"])]
    source, target = seq2seq.build_vocabularies(pairs, min_freq=2)
    assert source.tokens == [PAD, UNK, "the"] and target.tokens == [PAD, UNK, BOS, EOS, "el"]
    assert seq2seq.encode_pairs(pairs[:1], source, target) == [([2, 1], [4, 1, 3])]  # ... then </s>
    assert seq2seq.keep_short([(["a"] * 3, ["b"]), (["a"], ["b"] * 4), ([], ["b"])], 3) == [0]


def test_batches_shift_targets_and_group_by_length():
    examples = [([4] * (1 + i % 5), [5] * (1 + i % 7) + [3]) for i in range(40)]
    (batch, targets), *_ = seq2seq.batches(examples, 8, pad_id=0, bos_id=2)
    assert batch.source.shape[0] == 8 and batch.source_lengths.tolist() == [1 + i % 5 for i in range(8)]
    for row in range(8):  # <s> first, then the targets shifted right; pads after each target's </s>
        n = 2 + row % 7
        assert targets[row, n - 1] == 3 and targets[row, n:].eq(0).all()
        assert batch.target_inputs[row, 0] == 2 and torch.equal(batch.target_inputs[row, 1:n], targets[row, : n - 1])
    shuffled = seq2seq.batches(examples, 8, pad_id=0, bos_id=2, generator=torch.Generator().manual_seed(1))
    again = seq2seq.batches(examples, 8, pad_id=0, bos_id=2, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(shuffled, again))
    assert sum(t.shape[0] for _, t in shuffled) == 40
    padding = sum(int((t == 0).sum()) for _, t in shuffled)
    assert padding < sum(int((t == 0).sum()) for _, t in seq2seq.batches(examples, 8, pad_id=0, bos_id=2))


def test_load_corpus_builds_vocabularies_on_training_pairs_only(tmp_path):
    lines = [f"word{i} common\tpalabra{i} comun" for i in range(30)]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = seq2seq.load_corpus(str(tmp_path / "pairs.tsv"), Tokenizer(), val_fraction=0.2, test_fraction=0.2,
                                 seed=0, max_length=5, min_freq=1)
    train_words = {corpus.tokens[i][0][0] for i in corpus.split.train}
    test_words = {corpus.tokens[i][0][0] for i in corpus.split.test}
    assert train_words <= set(corpus.source_vocab.tokens) and not test_words & set(corpus.source_vocab.tokens)
    assert corpus.part("test")[0][0] == corpus.texts[corpus.split.test[0]]
    with pytest.raises(DataError, match="no training pair has at most max_length=1"):
        seq2seq.load_corpus(str(tmp_path / "pairs.tsv"), Tokenizer(), val_fraction=0.2, test_fraction=0.2,
                            seed=0, max_length=1, min_freq=1)


def test_a_row_without_a_tab_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("In the beginning.\tEn el principio.\nAnd God said no tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2 has no tab; expected source<TAB>target"):
        seq2seq.read_pairs(str(path), Tokenizer())
