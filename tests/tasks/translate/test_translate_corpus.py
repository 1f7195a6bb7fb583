"""Sentence pairs for the encoder–decoder: every form they come in, seeded splits, vocabularies, batches."""

import pandas as pd
import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.text import BOS, EOS, PAD, UNK, Tokenizer
from rnnlab.tasks.translate import corpus

PAIRS = [("The light.", "La luz."), ("the earth", "la tierra"), ("and god said", "y dijo dios")]


def test_vocabularies_and_encoding():
    pairs = [(["the", "cat"], ["el", "gato"]), (["the", "dog"], ["el", "perro"])]
    source, target = corpus.build_vocabularies(pairs, min_freq=2)
    assert source.tokens == [PAD, UNK, "the"] and target.tokens == [PAD, UNK, BOS, EOS, "el"]
    assert corpus.encode_pairs(pairs[:1], source, target) == [([2, 1], [4, 1, 3])]  # ... then </s>
    assert corpus.keep_short([(["a"] * 3, ["b"]), (["a"], ["b"] * 4), ([], ["b"])], 3) == [0]


def test_batches_shift_targets_and_group_by_length():
    examples = [([4] * (1 + i % 5), [5] * (1 + i % 7) + [3]) for i in range(40)]
    (batch, targets), *_ = corpus.batches(examples, 8, pad_id=0, bos_id=2)
    assert batch.source.shape[0] == 8 and batch.source_lengths.tolist() == [1 + i % 5 for i in range(8)]
    for row in range(8):  # <s> first, then the targets shifted right; pads after each target's </s>
        n = 2 + row % 7
        assert targets[row, n - 1] == 3 and targets[row, n:].eq(0).all()
        assert batch.target_inputs[row, 0] == 2 and torch.equal(batch.target_inputs[row, 1:n], targets[row, : n - 1])
    shuffled = corpus.batches(examples, 8, pad_id=0, bos_id=2, generator=torch.Generator().manual_seed(1))
    again = corpus.batches(examples, 8, pad_id=0, bos_id=2, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(shuffled, again))
    assert sum(t.shape[0] for _, t in shuffled) == 40
    padding = sum(int((t == 0).sum()) for _, t in shuffled)
    assert padding < sum(int((t == 0).sum()) for _, t in corpus.batches(examples, 8, pad_id=0, bos_id=2))


def test_load_corpus_builds_vocabularies_on_training_pairs_only(tmp_path):
    lines = [f"word{i} common\tpalabra{i} comun" for i in range(30)]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = dict(val_fraction=0.2, test_fraction=0.2, seed=0, min_freq=1)
    loaded = corpus.load_corpus(str(tmp_path / "pairs.tsv"), Tokenizer(), max_length=5, **options)
    train_words = {loaded.tokens[i][0][0] for i in loaded.split.train}
    test_words = {loaded.tokens[i][0][0] for i in loaded.split.test}
    assert train_words <= set(loaded.source_vocab.tokens) and not test_words & set(loaded.source_vocab.tokens)
    assert loaded.part("test")[0][0] == loaded.texts[loaded.split.test[0]]
    with pytest.raises(DataError, match="no training pair has at most max_length=1"):
        corpus.load_corpus(str(tmp_path / "pairs.tsv"), Tokenizer(), max_length=1, **options)


def test_every_form_of_pairs_reads_the_same(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS), encoding="utf-8")
    frame = pd.DataFrame({"target": [t for _, t in PAIRS], "source": [s for s, _ in PAIRS], "note": [1, 2, 3]})
    forms = [str(path), path, PAIRS, [list(pair) for pair in PAIRS], tuple(PAIRS), frame,
             corpus.pairs_of([s for s, _ in PAIRS], [t for _, t in PAIRS]),
             corpus.pairs_of(pd.Series([s for s, _ in PAIRS]), pd.Series([t for _, t in PAIRS]))]
    for form in forms:
        assert corpus.read_texts(form) == PAIRS, type(form).__name__
    assert corpus.read_texts([("  padded  ", " side ")]) == [("padded", "side")]  # stripped, as the TSV reader does


@pytest.mark.parametrize("data, error, message", [
    (42, TypeError, "data must be a TSV file.*received int"),
    ([], DataError, "data holds no sentence pairs"),
    (["the light"], TypeError, r"data\[0\] must be a \(source, target\) pair of strings; received str"),
    ([("a", "b", "c")], TypeError, r"data\[0\] must be a \(source, target\) pair"),
    ([("a", "b"), ("c", 3)], TypeError, r"data\[1\]: the target must be a string; received int 3"),
    ([("a", "b"), ("  ", "c")], DataError, r"data\[1\] has an empty source side"),
    (pd.DataFrame({"en": ["a"], "es": ["b"]}), DataError, r"columns 'source' and 'target'; received columns \['en'"),
])
def test_bad_pairs_in_memory_are_named(data, error, message):
    with pytest.raises(error, match=message):
        corpus.read_texts(data)


def test_sources_and_targets_apart_must_match():
    with pytest.raises(ValueError, match="one target per source of data: received 1 targets for 2 sources"):
        corpus.pairs_of(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="targets must be None when data is a file"):
        corpus.pairs_of("pairs.tsv", ["c"])
    with pytest.raises(TypeError, match=r"targets\[0\] must be a string; received int"):
        corpus.pairs_of(["a"], [1])
    with pytest.raises(TypeError, match="data must be a list of strings; received dict"):
        corpus.pairs_of({"a": 1}, ["b"])
    assert corpus.pairs_of(PAIRS, None) is PAIRS


def test_validation_pairs_validate_and_the_validation_part_trains():
    data = [(f"w{i} x", f"p{i} y") for i in range(40)]
    other = [("new words", "palabras nuevas"), ("more", "mas")]
    options = dict(val_fraction=0.2, test_fraction=0.2, seed=3, max_length=5, min_freq=1)
    own = corpus.load_corpus(data, Tokenizer(), **options)
    given = corpus.load_corpus(data, Tokenizer(), validation=other, **options)
    assert given.part("test") == own.part("test")
    assert given.split.train == sorted(own.split.train + own.split.val)
    assert given.part("val")[0] == other and "new" not in given.source_vocab.tokens  # validation builds no vocabulary
    assert set(own.source_vocab.tokens) < set(given.source_vocab.tokens)  # the old validation words now train
    with pytest.raises(DataError, match="validation_data <list in memory>: no validation pair has at most"):
        corpus.load_corpus(data, Tokenizer(), validation=[("a b c d e f g", "h")], **options)


def test_a_row_without_a_tab_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("In the beginning.\tEn el principio.\nAnd God said no tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2 has no tab; expected source<TAB>target"):
        corpus.read_texts(str(path))


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "latin.tsv"
    path.write_bytes("the light\tla luz\nthe sun\tel sol ¡\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.tsv: not UTF-8: .* \(line 2\)"):
        corpus.read_texts(path)
