"""rnnlab.Tagger from Python: sentences in memory in, tags per word out, in the caller's terms."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import rnnlab
from rnnlab.data.errors import DataError
from rnnlab.tasks.estimator import NotFittedError

TINY = dict(epochs=2, hidden_size=8, batch_size=8, embedding_dim=8, char_embedding_dim=4, char_hidden_size=4,
            min_freq=1, device="cpu")
NOUNS = ["gato", "casa", "livro", "cidade", "mesa", "rio"]
VERBS = ["come", "vê", "abre", "canta"]


def toy_sentences(count: int) -> list[tuple[list[str], list[str]]]:
    """Deterministic toy Portuguese: DET NOUN VERB DET NOUN [ADJ] PUNCT, as (words, tags) pairs."""
    sentences = []
    for i in range(count):
        pairs = [("O" if i % 2 else "a", "DET"), (NOUNS[i % 6], "NOUN"), (VERBS[i % 4], "VERB"), ("o", "DET"),
                 (NOUNS[(i * 5 + 1) % 6], "NOUN")] + ([("grande", "ADJ")] if i % 3 == 0 else []) + [(".", "PUNCT")]
        sentences.append(([word for word, _ in pairs], [tag for _, tag in pairs]))
    return sentences


def write_conllu(path: Path, sentences) -> Path:
    blocks = ["\n".join(f"{t}\t{word}\t_\t{tag}\t_\t_\t_\t_\t_\t_" for t, (word, tag) in enumerate(zip(*s), 1))
              for s in sentences]
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fitted() -> rnnlab.Tagger:
    return rnnlab.Tagger(**TINY).fit(toy_sentences(40))


def test_pairs_token_lists_with_their_tags_series_and_a_file_give_the_same_fit(fitted, tmp_path):
    sentences = toy_sentences(40)
    apart = rnnlab.Tagger(**TINY).fit([words for words, _ in sentences], [tags for _, tags in sentences])
    from_file = rnnlab.Tagger(**TINY).fit(str(write_conllu(tmp_path / "toy.conllu", sentences)))
    series = rnnlab.Tagger(**TINY).fit(pd.Series([w for w, _ in sentences]), pd.Series([t for _, t in sentences]))
    assert fitted.test_metrics_ == apart.test_metrics_ == from_file.test_metrics_ == series.test_metrics_
    words = [words for words, _ in sentences[:5]]
    assert fitted.predict(words) == apart.predict(words) == from_file.predict(words)
    assert fitted.command_line().startswith("rnnlab.Tagger(")
    assert from_file.command_line().startswith("rnnlab train tag")


def test_predict_takes_token_lists_strings_and_one_string(fitted):
    words = [["o", "gato", "vê", "a", "casa", "."], ["a", "zebra", "."]]
    tagged = fitted.predict(words)
    assert [len(tags) for tags in tagged] == [6, 3]
    assert {tag for tags in tagged for tag in tags} <= set(fitted.classes_)
    assert fitted.predict(["o gato  vê a casa .", "a zebra ."]) == tagged  # strings are split on whitespace
    assert fitted.predict("o gato vê a casa .") == tagged[0]  # one string, one sentence
    series = pd.Series(["a zebra .", "o gato vê a casa ."], index=["b", "a"], name="text")
    out = fitted.predict(series)
    assert isinstance(out, pd.Series) and list(out.index) == ["b", "a"] and out["a"] == tagged[0]


def test_classes_are_the_training_tags_sorted(fitted):
    assert fitted.classes_ == ["ADJ", "DET", "NOUN", "PUNCT", "VERB"]
    with pytest.raises(NotFittedError, match="not fitted"):
        rnnlab.Tagger().classes_


def test_evaluate_on_other_sentences_reads_them_in_any_form(fitted):
    other = toy_sentences(45)[40:]
    result = fitted.evaluate(other)
    assert result["split"] == "all" and result["sentences"] == 5
    assert result["metrics"]["model"]["tokens"] == sum(len(words) for words, _ in other)
    apart = fitted.evaluate([words for words, _ in other], [tags for _, tags in other])
    assert apart["metrics"] == result["metrics"]
    assert fitted.evaluate()["metrics"] == fitted.test_metrics_ and fitted.evaluate()["split"] == "test"


def test_validation_data_replaces_the_validation_split(fitted):
    sentences, other = toy_sentences(40), toy_sentences(50)[40:]
    given = rnnlab.Tagger(**TINY).fit(sentences, validation_data=other)
    keras = rnnlab.Tagger(**TINY).fit(sentences, validation_data=([w for w, _ in other], [t for _, t in other]))
    assert [r["val_loss"] for r in given.history_] == [r["val_loss"] for r in keras.history_]
    assert [r["val_loss"] for r in given.history_] != [r["val_loss"] for r in fitted.history_]
    # the validation split of the data trains too; the test sentences are the same
    assert given.evaluate()["sentences"] == fitted.evaluate()["sentences"]
    assert len(given.task_.own_data().splits["train"]) > len(fitted.task_.own_data().splits["train"])


@pytest.mark.parametrize("data, tags, error, message", [
    ({"o": "DET"}, None, TypeError, "data must be a CoNLL-U file.*received dict"),
    (pd.DataFrame({"words": [["o"]], "tags": [["DET"]]}), None, TypeError, "data must be .*received DataFrame"),
    ([], None, DataError, "data holds no sentences"),
    ([(["o", "gato"], ["DET"])], None, DataError, r"data\[0\] has 2 words and 1 tags"),
    ([(["o", 7], ["DET", "NOUN"])], None, TypeError, r"data\[0\]\[0\]\[1\] must be a string"),
    ([["o", "gato"]], None, TypeError, r"data\[0\] must be a \(words, tags\) pair.*fit\(sentences, tags\)"),
    ([["o", "gato"]], [["DET", "NOUN"], ["DET"]], ValueError, "2 tag lists for 1 sentences"),
    ([["o", "gato"]], [["DET", " "]], ValueError, r"tags\[0\]\[1\] must be a word or a tag; received the blank"),
    ("porttinari", [["DET"]], TypeError, "tags must be None when data is a file or a bundled name"),
])
def test_bad_sentences_in_memory_name_the_argument_and_the_sentence(data, tags, error, message):
    with pytest.raises(error, match=message):
        rnnlab.Tagger(**TINY).fit(data, tags)


def test_predict_names_a_sentence_without_words_and_input_of_another_kind(fitted):
    with pytest.raises(ValueError, match=r"sentences\[1\] must hold at least one word; received '  '"):
        fitted.predict(["o gato", "  "])
    with pytest.raises(TypeError, match="sentences must be a list of token lists.*received int"):
        fitted.predict(42)


def test_a_run_fitted_in_memory_saves_loads_and_asks_for_its_data(fitted, tmp_path):
    loaded = rnnlab.Tagger.load(fitted.save(tmp_path / "run"))
    other = toy_sentences(45)[40:]
    assert loaded.evaluate(other) == fitted.evaluate(other)
    assert loaded.predict("o gato vê a casa .") == fitted.predict("o gato vê a casa .")
    with pytest.raises(ValueError, match="fitted on in-memory data.*pass the data"):
        loaded.evaluate()
