"""Tests for the bundled text data sets: registry, readers, counts, provenance, and name lookup."""

import gzip
import hashlib
from pathlib import Path

import pytest

from rnnlab.data import bundled
from rnnlab.data.bundled import (bundled_defaults, bundled_file, bundled_path, list_text_datasets,
                                 list_text_names, text_kind)
from rnnlab.data.errors import DataError
from rnnlab.data.series import load_series
from rnnlab.data.text import (Tokenizer, Vocabulary, read_conllu, read_labelled_csv,
                              read_parallel_tsv, read_text, resolve_text_data, word_tokenize)

# name -> (kind, file, size, unit)
EXPECTED = {
    "rotten_tomatoes": ("labelled", "rotten_tomatoes.csv.gz", 12_808, "rows"),
    "hamlet": ("text", "hamlet.txt", 175_132, "characters"),
    "porttinari": ("conllu", "porttinari.conllu.gz", 3_000, "sentences"),
    "kjv_rv": ("parallel", "kjv_rv.tsv.gz", 10_000, "pairs"),
}

# sha256 of each file's uncompressed content, as recorded in its SOURCE.md.
CONTENT_SHA256 = {
    "rotten_tomatoes": "a180db82841ef402f5a34c0ba16157c032c3401143c95d8a6b2a5416fd383507",
    "hamlet": "55cf7ae84e3d50f0100ff0ab716e9ed61f44582a2af83779397565d2b80a5e2a",
    "porttinari": "3476af762eef8df2871ffb6954e59eec84aa439491f537e83d8a394cc3f899b4",
    "kjv_rv": "136fb148fbd474f77dd2bdd463cdca8dae47ca01a26b146e96b699ac05d0a34e",
}

UD_UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
           "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"}


def test_registry_kinds_and_names():
    assert list_text_names() == tuple(EXPECTED)
    assert list_text_names("conllu") == ("porttinari",)
    for name, (kind, file, _, _) in EXPECTED.items():
        assert text_kind(name) == kind
        assert bundled_file(name) == bundled_path(name) / file
        assert resolve_text_data(name, kind) == bundled_file(name)
    assert text_kind("airline") is None and text_kind("nope") is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_source_md_and_content_checksum(name):
    folder = bundled_path(name)
    source = (folder / "SOURCE.md").read_text(encoding="utf-8")
    for section in ("## Origin", "## Licence", "## Extraction steps"):
        assert section in source
    data = bundled_file(name).read_bytes()
    if bundled_file(name).suffix == ".gz":
        data = gzip.decompress(data)
    digest = hashlib.sha256(data).hexdigest()
    assert digest == CONTENT_SHA256[name] and digest in source


def test_list_text_datasets_counts_the_files():
    infos = {info.name: info for info in list_text_datasets()}
    assert list(infos) == list(EXPECTED)
    for name, (kind, _, size, unit) in EXPECTED.items():
        assert (infos[name].kind, infos[name].size, infos[name].unit) == (kind, size, unit)
        assert infos[name].description


def test_rotten_tomatoes_labels_and_counts():
    texts, labels = read_labelled_csv(resolve_text_data("rotten_tomatoes", "labelled"))
    assert len(texts) == len(labels) == 12_808
    assert set(labels) == {"fresh", "rotten"}
    assert labels.count("fresh") == 7_403 and labels.count("rotten") == 5_405
    assert all(text == " ".join(text.split()) for text in texts)   # whitespace collapsed
    assert texts[0] == "A three-hour cinema master class." and labels[0] == "fresh"


def test_hamlet_text():
    text = read_text(resolve_text_data("hamlet", "text"))
    assert len(text) == 175_132
    assert text.startswith("The Tragedy of Hamlet, Prince of Denmark\nACT I\n")
    assert text.endswith("a peal of ordnance is shot off\n")
    assert "To be, or not to be: that is the question:" in text
    assert "Shakespeare homepage" not in text and "gutenberg" not in text.lower()
    vocab = Vocabulary.build([Tokenizer(kind="char", lowercase=False)(text)])
    assert 60 < len(vocab) < 90                                     # ASCII letters, punctuation


def test_porttinari_sentences_are_tagged_with_ud_upos():
    sentences = read_conllu(resolve_text_data("porttinari", "conllu"))
    assert len(sentences) == 3_000
    assert sum(len(forms) for forms, _ in sentences) == 48_068
    for forms, tags in sentences:
        assert forms and len(forms) == len(tags)
        assert set(tags) <= UD_UPOS
    assert sentences[0][0][:3] == ["Eu", "sei", "que"]
    assert sentences[0][1][:3] == ["PRON", "VERB", "SCONJ"]


def test_porttinari_is_valid_conllu():
    lines = gzip.decompress(bundled_file("porttinari").read_bytes()).decode("utf-8").split("\n")
    token_lines = [line.split("\t") for line in lines if line and not line.startswith("#")]
    assert all(len(fields) == 10 for fields in token_lines)
    assert sum(1 for line in lines if line.startswith("# sent_id = ")) == 3_000
    assert sum(1 for fields in token_lines if "-" in fields[0]) == 1_610   # multiword tokens


def test_kjv_rv_pairs():
    pairs = read_parallel_tsv(resolve_text_data("kjv_rv", "parallel"))
    assert len(pairs) == 10_000
    assert pairs[0] == ("In the beginning God created the heaven and the earth.",
                        "EN el principio crió Dios los cielos y la tierra.")
    assert ("We love him, because he first loved us.",
            "Nosotros le amamos á él, porque él nos amó primero.") in pairs      # 1 John 4:19
    assert max(len(english.split()) for english, _ in pairs) <= 25
    assert not any("<" in side or "\\" in side or "¶" in side for pair in pairs for side in pair)
    assert all(word_tokenize(english) and word_tokenize(spanish) for english, spanish in pairs)


def test_bundled_text_stays_small():
    total = sum(bundled_file(name).stat().st_size for name in EXPECTED)
    assert total < 3_000_000


# --- name lookup and errors ---------------------------------------------------------------------

def test_resolve_text_data_passes_paths_through():
    assert resolve_text_data("my_reviews.csv", "labelled") == Path("my_reviews.csv")
    assert resolve_text_data(Path("/tmp/x.conllu"), "conllu") == Path("/tmp/x.conllu")


def test_resolve_text_data_wrong_kind():
    with pytest.raises(DataError, match="bundled data set 'hamlet' is of kind 'text', not 'labelled'; "
                                        r"bundled 'labelled' data sets: \['rotten_tomatoes'\]"):
        resolve_text_data("hamlet", "labelled")
    with pytest.raises(DataError, match="'kjv_rv' is of kind 'parallel', not 'conllu'"):
        resolve_text_data("kjv_rv", "conllu")


def test_resolve_text_data_series_name_and_unknown_kind():
    with pytest.raises(DataError, match="bundled data set 'airline' is a time series, not 'text' text"):
        resolve_text_data("airline", "text")
    with pytest.raises(ValueError, match=r"kind must be one of \['labelled', 'text', 'conllu', "
                                         r"'parallel'\]; received 'csv'"):
        resolve_text_data("hamlet", "csv")


def test_series_api_is_unchanged_and_rejects_text_names():
    assert bundled.list_names() == ("airline", "co2", "seattle_weather")
    assert [info.name for info in bundled.list_datasets()] == ["airline", "co2", "seattle_weather"]
    with pytest.raises(DataError, match="'hamlet' is neither a bundled data set"):
        load_series("hamlet")
    with pytest.raises(ValueError, match="name must be a bundled time series .* received 'hamlet', "
                                         "a 'text' text data set"):
        bundled_defaults("hamlet")
