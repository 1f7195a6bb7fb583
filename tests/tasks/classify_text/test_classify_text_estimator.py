"""`rnnlab.TextClassifier` from Python: texts in memory, DataFrames, labels in the caller's terms, old runs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab import TextClassifier
from rnnlab.tasks import load

OLD_RUN = Path(__file__).parent / "old_run"  # written by `rnnlab train classify-text` before the task was a package
TINY = dict(epochs=2, hidden_size=8, embedding_dim=8, batch_size=8, min_freq=1)
GOOD = ["a fine and moving film", "great acting and a great story", "warm funny and wise", "a joy to watch"]
BAD = ["a dull and tired mess", "boring plot and bad acting", "flat lifeless and long", "a chore to sit through"]
TEXTS, LABELS = (GOOD + BAD) * 6, ["fresh"] * 4 * 6 + ["rotten"] * 4 * 6
LABELS = (["fresh"] * 4 + ["rotten"] * 4) * 6


@pytest.fixture(scope="module")
def fitted() -> TextClassifier:
    return TextClassifier(**TINY).fit(TEXTS, LABELS)


def test_predict_answers_in_labels_and_predict_proba_in_the_order_of_classes(fitted):
    assert list(fitted.classes_) == ["fresh", "rotten"]
    probabilities = fitted.predict_proba(["warm and wise", "a dull mess", "unknown words"])
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    predicted = fitted.predict(["warm and wise", "a dull mess", "unknown words"])
    assert list(predicted) == list(fitted.classes_[probabilities.argmax(axis=1)])
    assert fitted.predict("warm and wise") == predicted[0]  # one text, one label
    assert fitted.predict_lines(text="warm and wise")[0].startswith(predicted[0] + "\t")


def test_integer_labels_come_back_as_integers_after_save_and_load(tmp_path):
    classifier = TextClassifier(**TINY).fit(np.array(TEXTS), np.array([int(label == "fresh") for label in LABELS]))
    assert classifier.classes_.tolist() == [0, 1] and classifier.classes_.dtype == np.int64
    saved = json.loads((classifier.save(tmp_path / "run") / "config.json").read_text())
    assert saved["label_kind"] == "int" and saved["classes"] == ["0", "1"]
    loaded = load(tmp_path / "run")
    assert loaded.predict(GOOD).tolist() == classifier.predict(GOOD).tolist()
    assert all(isinstance(label, (int, np.integer)) for label in loaded.predict(GOOD))


def test_a_dataframe_trains_as_its_csv_does_and_a_series_is_answered_with_its_index(tmp_path, fitted):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": TEXTS, "label": LABELS, "other": range(len(TEXTS))})
    from_frame = TextClassifier(**TINY).fit(frame)
    path = tmp_path / "reviews.csv"
    frame[["text", "label"]].to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    from_file = TextClassifier(**TINY).fit(str(path))
    assert from_frame.test_metrics_ == from_file.test_metrics_ == fitted.test_metrics_
    for name, tensor in from_frame.network_.state_dict().items():
        assert torch.equal(tensor, from_file.network_.state_dict()[name]), name
    texts = pd.Series(GOOD, index=[10, 11, 12, 13])
    predicted = from_frame.predict(texts)
    assert isinstance(predicted, pd.Series) and list(predicted.index) == [10, 11, 12, 13]


def test_validation_data_validates_and_the_test_split_stays(fitted):
    validated = TextClassifier(**TINY).fit(TEXTS, LABELS, validation_data=(GOOD + BAD, ["fresh"] * 4 + ["rotten"] * 4))
    assert all(record["val_loss"] is not None for record in validated.history_)
    assert validated.evaluate()["examples"] == fitted.evaluate()["examples"]
    assert validated.task_.split_sizes == fitted.task_.split_sizes  # the split the state records is data's own


def test_evaluate_takes_texts_and_labels_in_memory(fitted):
    result = fitted.evaluate(GOOD + BAD, ["fresh"] * 4 + ["rotten"] * 4)
    assert result["split"] == "all" and result["examples"] == 8
    with pytest.raises(ValueError, match="'meh', which training never saw"):
        fitted.evaluate(GOOD[:2], ["fresh", "meh"])


@pytest.mark.parametrize("data, labels, error, message", [
    (TEXTS, LABELS[:-1], ValueError, "labels must have one label per text.*received 47 labels"),
    (TEXTS, None, ValueError, "labels are required with texts in memory"),
    (["fine", 3], ["a", "b"], TypeError, r"data\[1\] must be a string.*received int"),
    (["fine", "  "], ["a", "b"], ValueError, r"data\[1\] is an empty text"),
    (TEXTS, [None] + LABELS[1:], ValueError, r"labels\[0\] is missing"),
    ("reviews.csv", LABELS, ValueError, "labels come from the file"),
])
def test_bad_data_is_one_clear_error_naming_the_argument(data, labels, error, message):
    with pytest.raises(error, match=message):
        TextClassifier(**TINY).fit(data, labels)


def test_the_probe_is_the_cross_entropy_of_the_evaluated_probabilities(fitted):
    """On the whole test split, the probe's loss is −mean log p(label) of what the classifier predicts."""
    prepared = fitted.task_.own_data()
    test = prepared.split[2]
    probe = fitted.probe(rows=1000)
    probabilities = fitted.predict_proba([prepared.data.texts[i] for i in test])
    targets = prepared.encoded["test"][1]
    assert probe.batch_size == len(test)
    expected = -np.log(probabilities[np.arange(len(test)), targets]).mean()
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_a_run_written_by_the_old_code_loads_and_predicts_as_it_did(tmp_path, monkeypatch):
    run = tmp_path / "old_text"
    shutil.copytree(OLD_RUN, run)
    monkeypatch.chdir(run)  # its config names its data by a relative path
    classifier = load(run)
    assert type(classifier) is TextClassifier and "out" not in classifier.task_.config.__dataclass_fields__
    assert classifier.evaluate()["metrics"] == json.loads((run / "test_metrics.json").read_text())
    with (run / "predictions.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    probabilities = classifier.predict_proba([row["text"] for row in rows])
    assert list(classifier.predict([row["text"] for row in rows])) == [row["predicted"] for row in rows]
    assert [f"{p.max():.4f}" for p in probabilities] == [row["probability"] for row in rows]
