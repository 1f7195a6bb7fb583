"""rnnlab.TextGenerator from Python: strings in memory in, text out, deterministic given a seed."""

from __future__ import annotations

import pandas as pd
import pytest

import rnnlab
from rnnlab.data.errors import DataError

TINY = dict(epochs=1, hidden_size=16, batch_size=4, bptt=20, embedding_dim=8, device="cpu")
VERSE = ["To be, or not to be, that is the question:", "Whether 'tis nobler in the mind to suffer",
         "The slings and arrows of outrageous fortune,", "Or to take arms against a sea of troubles"]


@pytest.fixture(scope="module")
def fitted() -> rnnlab.TextGenerator:
    return rnnlab.TextGenerator(**TINY).fit(VERSE * 25)


def test_strings_a_series_of_them_and_the_same_text_in_a_file_give_the_same_fit(fitted, tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text("\n".join(VERSE * 25), encoding="utf-8")
    from_file = rnnlab.TextGenerator(**TINY).fit(str(path))
    assert from_file.test_metrics_ == fitted.test_metrics_
    assert rnnlab.TextGenerator(**TINY).fit(pd.Series(VERSE * 25)).test_metrics_ == fitted.test_metrics_
    assert from_file.generate("To be", length=30, seed=2) == fitted.generate("To be", length=30, seed=2)
    assert fitted.vocabulary_[0] == "<unk>" and "T" in fitted.vocabulary_ and len(set(fitted.vocabulary_)) > 20


def test_generate_is_the_prompt_then_length_tokens_and_a_seed_decides_them(fitted):
    text = fitted.generate("To be", length=40, temperature=1.0, seed=1)
    assert text.startswith("To be") and len(text) == len("To be") + 40
    assert fitted.generate("To be", length=40, temperature=1.0, seed=1) == text
    assert fitted.generate("To be", length=40, temperature=1.0, seed=2) != text
    greedy = fitted.generate("To be", length=40, temperature=0.0)
    assert fitted.generate("To be", length=40, top_k=1, seed=9) == greedy  # one token left: the most probable
    assert len(fitted.generate("To be")) == len("To be") + 300  # the default length of a character model


def test_predict_continues_each_prompt_as_generate_does(fitted):
    texts = fitted.predict(["To be", "Or to"])
    assert texts == [fitted.generate("To be"), fitted.generate("Or to")]
    assert fitted.predict("To be") == texts[0]
    out = fitted.predict(pd.Series(["Or to", "To be"], index=[7, 3]))
    assert isinstance(out, pd.Series) and list(out.index) == [7, 3] and out[3] == texts[0]
    assert fitted.predict_lines(text="To be") == texts[0].split("\n")


def test_validation_data_replaces_the_validation_split(fitted):
    given = rnnlab.TextGenerator(**TINY).fit(VERSE * 25, validation_data=VERSE[1:3])
    assert [r["val_loss"] for r in given.history_] != [r["val_loss"] for r in fitted.history_]
    assert given.evaluate()["test_tokens"] == fitted.evaluate()["test_tokens"]  # the test split stays
    assert given.task_.own_data().texts["val"] == "\n".join(VERSE[1:3])


@pytest.mark.parametrize("data, error, message", [
    ("to be or not to be", DataError, "data: file 'to be or not to be' does not exist.*pass a list of strings"),
    (42, TypeError, "data must be a text file, a bundled text's name or a list of strings; received int"),
    (["to be", b"or not"], TypeError, r"data\[1\] must be a string.*received bytes"),
    (pd.DataFrame({"text": ["to be"]}), TypeError, "data must be .*list of strings; received DataFrame"),
    (["To be"], DataError, "the train split has"),
])
def test_bad_text_names_the_argument(data, error, message):
    with pytest.raises(error, match=message):
        rnnlab.TextGenerator(**TINY).fit(data)


def test_bad_prompts_and_sampling_settings_name_the_argument(fitted):
    with pytest.raises(TypeError, match="prompt must be a string; received list"):
        fitted.generate(["To be"])
    with pytest.raises(TypeError, match=r"prompts\[1\] must be a string; received int"):
        fitted.predict(["To be", 3])
    with pytest.raises(ValueError, match="prompt must hold at least one char token"):
        fitted.generate("")
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        fitted.generate("To be", top_p=0.0)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        fitted.generate("To be", length=0)


def test_a_run_fitted_in_memory_saves_loads_and_asks_for_its_text(fitted, tmp_path):
    loaded = rnnlab.TextGenerator.load(fitted.save(tmp_path / "run"))
    assert loaded.generate("Or to", length=50, seed=3) == fitted.generate("Or to", length=50, seed=3)
    assert loaded.evaluate(VERSE * 25)["metrics"] == fitted.test_metrics_
    with pytest.raises(ValueError, match="fitted on in-memory data.*pass the data"):
        loaded.evaluate()
    assert fitted.command_line().startswith("rnnlab.TextGenerator(")
