"""`rnnlab.SeriesClassifier` from Python: arrays, lists of unequal lengths, long DataFrames, old runs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnlab import SeriesClassifier
from rnnlab.data.errors import DataError
from rnnlab.tasks import load

OLD_RUN = Path(__file__).parent / "old_run"  # written by `rnnlab train classify-series` before the task was a package
TINY = dict(epochs=3, hidden_size=8, batch_size=8, learning_rate=0.02)


def sequences(count: int, seed: int = 0, *, equal: bool = True):
    """Two channels; class 1 drifts upwards, class 0 downwards (integer labels). Lengths 8 to 15 unless equal."""
    generator = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    lengths = np.full(count, 12) if equal else generator.integers(8, 16, size=count)
    series = [np.cumsum(generator.normal(0.5 if label else -0.5, 0.3, size=(length, 2)), axis=0)
              for label, length in zip(labels, lengths)]
    return (np.stack(series) if equal else series), labels


@pytest.fixture(scope="module")
def fitted() -> SeriesClassifier:
    X, y = sequences(40)
    return SeriesClassifier(**TINY).fit(X, y)


def test_an_array_with_integer_labels_is_answered_in_integers(fitted):
    assert fitted.classes_.tolist() == [0, 1]
    X, y = sequences(10, seed=1)
    probabilities = fitted.predict_proba(X)
    assert probabilities.shape == (10, 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    predicted = fitted.predict(X)
    assert predicted.dtype == np.int64 and predicted.tolist() == probabilities.argmax(axis=1).tolist()
    assert set(fitted.test_metrics_) == {"model", "majority", "1nn_ed", "1nn_dtw"}
    result = fitted.evaluate(X, y)
    assert result["split"] == "all" and result["sequences"] == 10


def test_sequences_of_unequal_lengths_and_a_test_set_in_memory():
    X, y = sequences(40, equal=False)
    X_test, y_test = sequences(12, seed=2, equal=False)
    classifier = SeriesClassifier(**TINY).fit(X, [["down", "up"][k] for k in y],
                                              test_data=(X_test, [["down", "up"][k] for k in y_test]))
    assert list(classifier.classes_) == ["down", "up"]
    assert classifier.evaluate()["sequences"] == 12 and classifier.task_.split_sizes["test"] == 12
    assert set(classifier.predict(X_test[:3])) <= {"down", "up"}
    assert classifier.predict((X_test[0], X_test[1])).shape == (2,)  # a tuple of two sequences is two sequences


def test_a_long_dataframe_trains_as_the_same_sequences_in_an_array(fitted):
    pd = pytest.importorskip("pandas")
    X, y = sequences(40)
    rows = [{"sequence_id": f"s{i}", "time": t, "a": X[i, t, 0], "b": X[i, t, 1], "label": int(y[i])}
            for i in range(len(X)) for t in reversed(range(X.shape[1]))]  # time reversed: the frame sorts it
    from_frame = SeriesClassifier(**TINY).fit(pd.DataFrame(rows))
    assert from_frame.test_metrics_ == fitted.test_metrics_
    assert from_frame.task_.channels == ["a", "b"]
    assert from_frame.classes_.tolist() == [0, 1]


def test_bad_data_is_one_clear_error_naming_the_argument(fitted):
    X, y = sequences(20)
    with pytest.raises(ValueError, match="labels must have one label per sequence.*received 19 labels"):
        SeriesClassifier(**TINY).fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"data must be an array of shape \(N, T, C\) or \(N, T\); received shape"):
        SeriesClassifier(**TINY).fit(X[0, :, 0], y)
    with pytest.raises(ValueError, match=r"data\[1\] has 3 channels; data\[0\] has 2"):
        SeriesClassifier(**TINY).fit([X[0], np.ones((5, 3))], [0, 1])
    with pytest.raises(TypeError, match="data must be .*received dict"):
        SeriesClassifier(**TINY).fit({"x": X}, y)
    with pytest.raises(ValueError, match="data has 3 channels; the run was trained on 2"):
        fitted.predict(np.ones((2, 5, 3)))
    broken = X.copy()
    broken[3, 4, 1] = np.nan
    with pytest.raises(Exception, match=r"sequence '4' \(data\[3\]\): 1 missing values, the first at step 4 "
                                        r"of channel 1"):
        SeriesClassifier(**TINY).fit(broken, y)
    assert SeriesClassifier(**{**TINY, "epochs": 1}).fit(broken, y, fill="interpolate").task_.config.fill == "interpolate"
    with pytest.raises(DataError, match=r"training needs at least 2 labels; its training split has \['0'\]"):
        SeriesClassifier(**TINY).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(DataError, match=r"every training sequence holds one constant value in every channel "
                                        r"\(received \[2.0, 2.0\]\); there is nothing to classify by"):
        SeriesClassifier(**TINY).fit(np.full_like(X, 2.0), y)
    levels = np.zeros_like(X) + np.arange(len(X))[:, None, None]   # constant sequences at different levels
    with pytest.raises(DataError, match=r"in every channel after each sequence's own z-normalisation"):
        SeriesClassifier(**TINY, znormalise=True).fit(levels, y)


def test_one_constant_sequence_z_normalises_to_zeros_and_trains():
    X, y = sequences(20)
    X[5] = 7.0                                                      # flat in both channels
    model = SeriesClassifier(**{**TINY, "epochs": 1}, znormalise=True).fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()


def test_a_saved_run_fitted_in_memory_predicts_but_cannot_rescore_its_own_data(fitted, tmp_path):
    loaded = load(fitted.save(tmp_path / "run"))
    X, _ = sequences(6, seed=3)
    assert loaded.predict(X).tolist() == fitted.predict(X).tolist()
    with pytest.raises(ValueError, match="fitted on in-memory data"):
        loaded.evaluate()


def test_the_probe_is_the_cross_entropy_of_the_evaluated_probabilities(fitted):
    """On the whole test split, the probe's loss is −mean log p(label) of what the classifier predicts."""
    task = fitted.task_
    prepared = task.own_data()
    test = prepared.rows[2]
    probe = fitted.probe(rows=1000)
    probabilities = fitted.predict_proba([prepared.test.series[i] for i in test])
    targets = task.targets(prepared.test, test)
    assert probe.batch_size == len(test)
    expected = -np.log(probabilities[np.arange(len(test)), targets]).mean()
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_a_run_written_by_the_old_code_loads_and_predicts_as_it_did(tmp_path):
    run = tmp_path / "old_bm"
    shutil.copytree(OLD_RUN, run)
    classifier = load(run)
    assert type(classifier) is SeriesClassifier and "out" not in classifier.task_.config.__dataclass_fields__
    assert classifier.task_.config.conv_branch is False and classifier.network_.conv is None  # saved before it
    assert SeriesClassifier().get_params()["conv_branch"] is True                             # the default now
    metrics, saved = classifier.evaluate()["metrics"], json.loads((run / "test_metrics.json").read_text())
    saved["1nn_ed"] = saved.pop("nearest_neighbour")  # the old code's name for 1-NN-ED; 1-NN-DTW is new
    assert set(metrics) == {*saved, "1nn_dtw"} and {name: metrics[name] for name in saved} == saved
    with (run / "predictions.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    lines = classifier.predict_lines(data="basic_motions")
    assert [line.split("\t") for line in lines] == [[row["id"], row["predicted"], row["probability"]] for row in rows]


def test_validation_data_validates_and_the_validation_split_trains_too(fitted):
    X, y = sequences(40)
    X_val, y_val = sequences(8, seed=4)
    validated = SeriesClassifier(**TINY).fit(X, y, validation_data=(X_val, y_val))
    assert all(record["val_loss"] is not None for record in validated.history_)
    sizes, before = validated.task_.split_sizes, fitted.task_.split_sizes
    assert sizes["val"] == 0 and sizes["train"] == before["train"] + before["val"] and sizes["test"] == before["test"]
