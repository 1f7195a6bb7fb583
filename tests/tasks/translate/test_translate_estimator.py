"""`rnnlab.Translator` from Python: pairs in memory in every form, translations in the caller's terms, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from rnnlab.tasks.translate import Translator

PAIRS = [("the light", "la luz"), ("the earth", "la tierra"), ("and god said", "y dijo dios"),
         ("the water", "el agua")] * 6
TINY = dict(epochs=1, hidden_size=8, batch_size=8, embedding_dim=8, min_freq=1, beam_size=2, test_fraction=0.25,
            device="cpu")


@pytest.fixture(scope="module")
def fitted() -> Translator:
    return Translator(**TINY).fit(PAIRS)


def test_every_in_memory_form_and_the_file_fit_the_same_model(fitted, tmp_path):
    sources, targets = [s for s, _ in PAIRS], [t for _, t in PAIRS]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS), encoding="utf-8")
    for data, y in ((sources, targets), (pd.Series(sources), pd.Series(targets)),
                    (pd.DataFrame({"source": sources, "target": targets}), None), (str(path), None)):
        other = Translator(**TINY).fit(data, y)
        assert other.test_metrics_ == fitted.test_metrics_, type(data).__name__
        assert other.translate("the light") == fitted.translate("the light")
    assert fitted.task_.config.data is None and Translator(**TINY).fit(str(path)).task_.config.data == str(path)


def test_translations_come_back_in_the_shape_they_were_asked(fitted):
    one = fitted.translate("The light.")
    assert isinstance(one, str) and one == fitted.predict("The light.")
    many = fitted.translate(["the light", "the water"])
    assert isinstance(many, list) and len(many) == 2 and many[0] == fitted.translate("the light")
    series = pd.Series(["the light", "the water"], index=["a", "b"], name="english")
    translated = fitted.predict(series)
    assert isinstance(translated, pd.Series) and list(translated.index) == ["a", "b"] and list(translated) == many
    (text, score), = fitted.translate(["the light"], beam_size=1, return_scores=True)
    assert text == fitted.translate("the light", beam_size=1) and score < 0  # a log-probability
    beam_text, beam_score = fitted.translate("the light", beam_size=3, return_scores=True)
    assert beam_score >= score - 1e-9  # beam search is never worse than greedy
    assert fitted.predict_lines(text="the light") == [fitted.translate("the light")]


def test_evaluate_on_pairs_given_apart_equals_on_pairs(fitted):
    sources, targets = [s for s, _ in PAIRS[:8]], [t for _, t in PAIRS[:8]]
    apart, together = fitted.evaluate(sources, targets), fitted.evaluate(PAIRS[:8])
    assert apart["metrics"] == together["metrics"] and apart["pairs"] == 8
    assert apart["data"] == "<list in memory>"
    assert fitted.evaluate()["metrics"] == fitted.test_metrics_


def losses(estimator: Translator) -> list[tuple[float, float]]:
    return [(epoch["train_loss"], epoch["val_loss"]) for epoch in estimator.history_]


def test_validation_data_as_keras_takes_it(fitted):
    other = [("the light", "la luz"), ("the earth", "la tierra")]
    as_pairs = Translator(**TINY).fit(PAIRS, validation_data=other)
    as_tuple = Translator(**TINY).fit(PAIRS, validation_data=([s for s, _ in other], [t for _, t in other]))
    assert losses(as_pairs) == losses(as_tuple)
    assert as_pairs.history_[0]["val_loss"] != fitted.history_[0]["val_loss"]  # it validated on other pairs
    assert as_pairs.test_metrics_.keys() == fitted.test_metrics_.keys()


@pytest.mark.parametrize("call, error, message", [
    (lambda t: t.translate(["the light", ""]), ValueError, "at least one word or mark; received an empty one"),
    (lambda t: t.translate("the light", beam_size=0), ValueError, "beam_size must be a positive integer; received 0"),
    (lambda t: t.translate(["the light", 3]), TypeError, r"sentences\[1\] must be a string; received int"),
    (lambda t: t.translate(7), TypeError, "sentences must be a list of strings; received int"),
    (lambda t: t.predict_lines(), ValueError, "exactly one of --text"),
    (lambda t: t.predict_lines(data=PAIRS, text="x"), ValueError, "exactly one of --text"),
])
def test_bad_requests_are_named(fitted, call, error, message):
    with pytest.raises(error, match=message):
        call(fitted)


def test_bad_data_is_named_and_nothing_is_fitted(tmp_path):
    translator = Translator(**TINY)
    with pytest.raises(TypeError, match="data must be a TSV file.*received dict"):
        translator.fit({"the light": "la luz"})
    with pytest.raises(ValueError, match="one target per source of data: received 1 targets for 2 sources"):
        translator.fit(["the light", "the earth"], ["la luz"])
    with pytest.raises(ValueError, match="too few to split"):
        translator.fit(PAIRS[:2])
    with pytest.raises(ValueError, match="no training pair has at most max_length=1"):
        Translator(**{**TINY, "max_length": 1}).fit(PAIRS)
    assert not hasattr(translator, "network_")
