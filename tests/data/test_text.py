"""Tests for rnnlab.data.text: vocabulary, tokenizers, padding, and the four text readers."""

import gzip
import json

import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.text import (BOS, EOS, PAD, UNK, Tokenizer, Vocabulary, char_tokenize, pad_batch,
                              read_conllu, read_labelled_csv, read_parallel_tsv, read_text,
                              word_tokenize)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- Vocabulary ---------------------------------------------------------------------------------

def test_build_orders_specials_then_frequency_then_alphabet():
    vocab = Vocabulary.build([["b", "a", "c", "a"], ["c", "d", "a"]])
    # a: 3, c: 2, b: 1, d: 1 (b before d alphabetically)
    assert vocab.tokens == [PAD, UNK, "a", "c", "b", "d"]
    assert len(vocab) == 6 and "a" in vocab and "z" not in vocab
    assert (vocab.pad_id, vocab.unk_id) == (0, 1)


def test_build_min_freq_max_size_and_custom_specials():
    sequences = [["x", "x", "y", "y", "z"], ["x", "w"]]
    assert Vocabulary.build(sequences, min_freq=2).tokens == [PAD, UNK, "x", "y"]
    assert Vocabulary.build(sequences, max_size=1).tokens == [PAD, UNK, "x"]   # specials not counted
    assert Vocabulary.build(sequences, max_size=0).tokens == [PAD, UNK]
    vocab = Vocabulary.build(sequences, specials=(PAD, UNK, BOS, EOS), min_freq=2)
    assert vocab.tokens == [PAD, UNK, BOS, EOS, "x", "y"]
    assert (vocab.id_of(BOS), vocab.id_of(EOS)) == (2, 3)


def test_build_does_not_repeat_a_special_found_in_the_corpus():
    vocab = Vocabulary.build([[UNK, "a", UNK]])
    assert vocab.tokens == [PAD, UNK, "a"]


@pytest.mark.parametrize("kwargs, message", [
    ({"min_freq": 0}, "min_freq must be an integer >= 1; received 0"),
    ({"max_size": -1}, "max_size must be None or an integer >= 0; received -1"),
    ({"specials": (PAD, PAD)}, r"tokens must not repeat; received repeats \['<pad>'\]"),
])
def test_build_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.build([["a"]], **kwargs)


def test_index_encode_decode():
    vocab = Vocabulary.build([["the", "cat"], ["the", "dog"]])
    assert vocab.encode(["the", "bird", "dog"]) == [2, 1, 4]
    assert vocab.index("bird") == vocab.unk_id
    assert vocab.decode([2, 3, 0]) == ["the", "cat", PAD]
    assert vocab.decode(torch.tensor([2, 4])) == ["the", "dog"]
    for bad in (5, -1):
        with pytest.raises(ValueError, match=rf"ids must be in \[0, 5\); received {bad}"):
            vocab.decode([bad])
    with pytest.raises(TypeError):
        vocab.decode([2.0])                    # a float id is a bug upstream, not rounded here


def test_vocabulary_without_unk_or_pad():
    vocab = Vocabulary.build([["a", "b"]], specials=(BOS,))
    assert vocab.tokens == [BOS, "a", "b"] and vocab.unk_id is None
    with pytest.raises(ValueError, match="token 'zebra' is not in the vocabulary"):
        vocab.index("zebra")
    with pytest.raises(ValueError, match=r"no special token '<pad>'; its specials are \['<s>'\]"):
        vocab.pad_id
    with pytest.raises(ValueError, match="no special token '</s>'"):
        vocab.id_of(EOS)


def test_vocabulary_rejects_specials_missing_from_tokens():
    with pytest.raises(ValueError, match=r"specials \['<unk>'\] that are not"):
        Vocabulary(["a"], specials=(UNK,))


def test_vocabulary_dict_round_trip_through_json():
    vocab = Vocabulary.build([["é", "b", "é"]], specials=(PAD, UNK, EOS))
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab and again.tokens == vocab.tokens and again.specials == vocab.specials
    assert again.encode(["é", "b", "?"]) == vocab.encode(["é", "b", "?"])
    with pytest.raises(ValueError, match=r"keys \['specials', 'tokens'\]; received \['tokens'\]"):
        Vocabulary.from_dict({"tokens": ["a"]})


# --- tokenizers ---------------------------------------------------------------------------------

def test_word_tokenize_words_punctuation_and_apostrophes():
    assert word_tokenize("Don't panic, Hamlet!") == ["don't", "panic", ",", "hamlet", "!"]
    assert word_tokenize("O'er the hills (2 of them)...", lowercase=False) == [
        "O'er", "the", "hills", "(", "2", "of", "them", ")", ".", ".", "."]
    assert word_tokenize("'tis the 'end'") == ["'", "tis", "the", "'", "end", "'"]
    assert word_tokenize("  \n\t ") == []
    assert word_tokenize("São Paulo, ação") == ["são", "paulo", ",", "ação"]


def test_char_tokenize_keeps_every_character():
    assert char_tokenize("Hi, yo\n") == ["H", "i", ",", " ", "y", "o", "\n"]


def test_tokenizer_kinds_lowercase_and_detokenize():
    words = Tokenizer()
    tokens = words("He said (quietly): \"Go home, now!\" [sic]")
    assert tokens[:5] == ["he", "said", "(", "quietly", ")"]
    assert words.detokenize(["he", "said", "(", "quietly", ")", ":", "go", ",", "now", "!"]) == \
        "he said (quietly): go, now!"
    assert Tokenizer(lowercase=False)("Go") == ["Go"]
    chars = Tokenizer(kind="char", lowercase=False)
    assert chars("Ab c") == ["A", "b", " ", "c"] and chars.detokenize(chars("Ab c")) == "Ab c"
    assert Tokenizer(kind="char")("Ab") == ["a", "b"]   # lowercase applies to characters too


def test_tokenizer_rejects_unknown_kind_and_round_trips():
    with pytest.raises(ValueError, match="kind must be 'word' or 'char'; received 'bpe'"):
        Tokenizer(kind="bpe")
    tokenizer = Tokenizer(kind="char", lowercase=False)
    assert Tokenizer.from_dict(json.loads(json.dumps(tokenizer.to_dict()))) == tokenizer
    with pytest.raises(ValueError, match=r"received \['vocab'\]"):
        Tokenizer.from_dict({"kind": "word", "vocab": 3})


# --- pad_batch ----------------------------------------------------------------------------------

def test_pad_batch_pads_batch_first_and_returns_lengths():
    ids, lengths = pad_batch([[5, 6, 7], [8], torch.tensor([9, 10])], pad_id=0)
    assert ids.dtype == torch.int64 and lengths.dtype == torch.int64
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert lengths.tolist() == [3, 1, 2]


def test_pad_batch_allows_an_empty_sequence_and_rejects_an_empty_batch():
    ids, lengths = pad_batch([[], [4]], pad_id=1)
    assert ids.tolist() == [[1], [4]] and lengths.tolist() == [0, 1]
    with pytest.raises(ValueError, match="at least one sequence; received an empty list"):
        pad_batch([], pad_id=0)


# --- shared reader errors -----------------------------------------------------------------------

READERS = [read_labelled_csv, read_text, read_conllu, read_parallel_tsv]


@pytest.mark.parametrize("reader", READERS)
def test_readers_report_a_missing_file(reader, tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(DataError, match=f"file '{path}' does not exist"):
        reader(path)
    with pytest.raises(DataError, match="is not a file"):
        reader(tmp_path)


@pytest.mark.parametrize("reader", READERS)
def test_readers_report_non_utf8_bytes_with_offset_and_line(reader, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("a\tb\nolá\tx\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt: not UTF-8: byte b'\\xe1' at offset 6 .line 2."):
        reader(path)


@pytest.mark.parametrize("reader", READERS)
def test_readers_report_an_empty_file(reader, tmp_path):
    for text in ("", " \n\t\n"):
        with pytest.raises(DataError, match="file is empty"):
            reader(_write(tmp_path, "empty.txt", text))


@pytest.mark.parametrize("reader", READERS)
def test_readers_report_a_broken_gzip(reader, tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="broken.txt.gz: not a valid gzip file"):
        reader(path)


def test_readers_accept_str_paths_and_gzip(tmp_path):
    path = tmp_path / "pairs.tsv.gz"
    path.write_bytes(gzip.compress("one\tuno\n".encode("utf-8")))
    assert read_parallel_tsv(str(path)) == [("one", "uno")]
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress(b"ok\n\xff"))
    with pytest.raises(DataError, match="offset 3 of the decompressed data .line 2."):
        read_text(bad)


# --- read_text ----------------------------------------------------------------------------------

def test_read_text_normalises_newlines_and_strips_a_bom(tmp_path):
    path = tmp_path / "play.txt"
    path.write_bytes("\ufeffTo be,\r\nor not\rto be.\n".encode("utf-8"))
    assert read_text(path) == "To be,\nor not\nto be.\n"


# --- read_labelled_csv --------------------------------------------------------------------------

def test_read_labelled_csv_reads_text_and_label_ignoring_other_columns(tmp_path):
    path = _write(tmp_path, "reviews.csv",
                  'id,label,text\n1,fresh,"Good, really."\n\n2, rotten ,"Bad\nover two lines"\n')
    texts, labels = read_labelled_csv(path)
    assert texts == ["Good, really.", "Bad\nover two lines"]
    assert labels == ["fresh", "rotten"]


@pytest.mark.parametrize("text, message", [
    ("review,score\na,1\n", r"no 'text' or 'label' column; columns found: \['review', 'score'\]"),
    ("text,score\na,1\n", r"no 'label' column; columns found: \['text', 'score'\]"),
    ("text,label\n", r"no data rows after the header \['text', 'label'\]"),
    ("text,label\ngood,fresh\n  ,rotten\n", "line 3 has an empty text cell"),
    ("text,label\ngood,fresh\nbad,\n", "line 3 has an empty label cell"),
    ("text,label\ngood,fresh,extra\n", "line 2 has 3 fields; the header has 2"),
    (",,\n", "file is empty"),
])
def test_read_labelled_csv_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_labelled_csv(_write(tmp_path, "bad.csv", text))


# --- read_conllu --------------------------------------------------------------------------------

CONLLU = (
    "# sent_id = 1\n"
    "# text = Vamos ao cinema.\n"
    "1\tVamos\tir\tVERB\t_\t_\t0\troot\t_\t_\n"
    "2-3\tao\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\ta\ta\tADP\t_\t_\t4\tcase\t_\t_\n"
    "3\to\to\tDET\t_\t_\t4\tdet\t_\t_\n"
    "3.1\tfoi\tir\tVERB\t_\t_\t_\t_\t_\t_\n"
    "4\tcinema\tcinema\tNOUN\t_\t_\t1\tobl\t_\t_\n"
    "5\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_\n"
    "\n"
    "\n"
    "# sent_id = 2\n"
    "1\tSim\tsim\tINTJ\t_\t_\t0\troot\t_\t_\n"
)


def test_read_conllu_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    sentences = read_conllu(_write(tmp_path, "pt.conllu", CONLLU))
    assert sentences == [
        (["Vamos", "a", "o", "cinema", "."], ["VERB", "ADP", "DET", "NOUN", "PUNCT"]),
        (["Sim"], ["INTJ"]),
    ]


@pytest.mark.parametrize("line, message", [
    ("1\tSim\tsim\tINTJ\t_\n", "line 2 has 5 tab-separated fields; CoNLL-U token lines have 10"),
    ("1\tSim\tsim\t_\t_\t_\t0\troot\t_\t_\n", r"line 2: CoNLL-U without UPOS \(column 4 is '_'\)"),
    ("1\tSim\tsim\t\t_\t_\t0\troot\t_\t_\n", r"line 2: CoNLL-U without UPOS \(column 4 is ''\)"),
    ("1\t\tsim\tINTJ\t_\t_\t0\troot\t_\t_\n", "line 2 has an empty FORM"),
])
def test_read_conllu_errors(tmp_path, line, message):
    with pytest.raises(DataError, match=message):
        read_conllu(_write(tmp_path, "bad.conllu", "# a comment\n" + line))


def test_read_conllu_without_tokens(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        read_conllu(_write(tmp_path, "bad.conllu", "# only\n# comments\n"))


# --- read_parallel_tsv --------------------------------------------------------------------------

def test_read_parallel_tsv_reads_pairs_and_skips_blank_lines(tmp_path):
    path = _write(tmp_path, "pairs.tsv", "In the beginning.\tEn el principio.\n\n  \nGod\t Dios \n")
    assert read_parallel_tsv(path) == [("In the beginning.", "En el principio."), ("God", "Dios")]


@pytest.mark.parametrize("text, message", [
    ("a\tb\nno tab here\n", "line 2 has no tab; expected source<TAB>target: 'no tab here'"),
    ("a\tb\tc\n", "line 1 has 2 tabs"),
    ("a\tb\n \tb\n", "line 2 has an empty source side"),
    ("a\tb\na\t\n", "line 2 has an empty target side"),
])
def test_read_parallel_tsv_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_parallel_tsv(_write(tmp_path, "bad.tsv", text))
