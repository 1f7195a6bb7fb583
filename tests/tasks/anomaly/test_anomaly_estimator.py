"""`rnnlab.AnomalyDetector` from Python: series in memory in every form, scores and flags in the caller's
terms, streaming from Python, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnlab.tasks.anomaly import AnomalyDetector
from rnnlab.tasks.estimator import NotFittedError

TINY = dict(epochs=1, hidden_size=8, batch_size=8, window=16, device="cpu")


@pytest.fixture(scope="module")
def sensor(tmp_path_factory, build):
    return build.sensor_csv(tmp_path_factory.mktemp("anomaly") / "sensor.csv")


@pytest.fixture(scope="module")
def frame(sensor) -> pd.DataFrame:
    return pd.read_csv(sensor)  # time, value, is_anomaly


@pytest.fixture(scope="module")
def fitted(sensor) -> AnomalyDetector:
    return AnomalyDetector(**TINY).fit(str(sensor), normal_until=200)


def test_every_in_memory_form_fits_what_the_file_fits(fitted, frame):
    values = frame["value"].to_numpy()
    timed = frame.set_index(pd.date_range("2024-01-01", periods=len(frame), freq="h")).drop(columns="time")
    for data in (frame, timed, frame["value"], values, values[:, None], values.tolist()):
        other = AnomalyDetector(**TINY).fit(data, normal_until=200)
        labelled = isinstance(data, pd.DataFrame)  # the label column is read apart, and scored
        expected = fitted.test_metrics_ if labelled else None
        if labelled:
            assert other.test_metrics_ == expected, type(data).__name__
        else:  # no labels: the same flags and scores, no label-based metric
            assert other.test_metrics_["model"]["flagged"] == fitted.test_metrics_["model"]["flagged"]
            assert "f1" not in other.test_metrics_["model"]
        np.testing.assert_array_equal(other.scores(data), fitted.scores(frame))
    assert fitted.channels_ == ["value"] and fitted.task_.config.data is not None


def test_scores_and_flags_come_back_in_the_callers_terms(fitted, frame, sensor):
    scores = fitted.scores(str(sensor))
    assert isinstance(scores, np.ndarray) and scores.shape == (400,) and np.isfinite(scores).all()
    np.testing.assert_array_equal(fitted.scores(), scores)  # None: the data it was fitted on
    flags = fitted.predict(str(sensor))
    assert flags.dtype == bool and np.array_equal(flags, scores > fitted.threshold_)
    indexed = frame.set_index("time")
    as_series = fitted.predict(indexed)
    assert isinstance(as_series, pd.Series) and as_series.index.equals(indexed.index) and as_series.name == "flag"
    np.testing.assert_array_equal(fitted.scores(frame["value"]), scores)  # a pandas Series of the channel
    table = fitted.detect(frame)
    assert list(table.columns) == ["score", "flag"] and table.index.equals(frame.index)
    np.testing.assert_array_equal(table["score"], scores)
    by_time = fitted.detect(str(sensor))
    assert by_time.index.name == "time" and by_time.index[0] == "t0000"
    assert fitted.detect(np.asarray(frame["value"])).index.equals(pd.RangeIndex(400))
    lines = fitted.predict_lines(data=str(sensor))
    assert lines[0] == "time,value,score,flag" and lines[1].startswith("t0000,") and len(lines) == 401


def test_streaming_from_python_equals_batch(fitted, sensor):
    lines = list(fitted.detect_lines(str(sensor), max_points=50))
    assert len(lines) == 51 and lines[0] == "time,value,score,flag"
    streamed = np.array([float(line.split(",")[2]) for line in lines[1:]])
    np.testing.assert_allclose(streamed, fitted.scores(str(sensor))[:50], rtol=0, atol=1e-9)


@pytest.mark.parametrize("options, error, message", [
    ({"interval": 0}, ValueError, "interval must be positive \\(seconds\\); received 0"),
    ({"interval": "fast"}, ValueError, "interval must be positive \\(seconds\\); received 'fast'"),
    ({"max_points": 0}, ValueError, "max_points must be a positive integer or None; received 0"),
    ({"max_points": 2.5}, ValueError, "max_points must be a positive integer or None; received 2.5"),
])
def test_detect_lines_checks_its_options_at_once(fitted, sensor, options, error, message):
    with pytest.raises(error, match=message):
        fitted.detect_lines(str(sensor), **options)  # before any line is read: no next() needed


def test_streaming_needs_a_file(fitted, frame):
    with pytest.raises(TypeError, match="data must be a CSV file or a bundled anomaly series' name to stream; "
                                        "received DataFrame"):
        fitted.detect_lines(frame)


def test_arrays_are_read_as_the_runs_channels_in_order(fitted, frame):
    np.testing.assert_array_equal(fitted.scores(frame["value"].to_numpy()), fitted.scores(frame))
    with pytest.raises(ValueError, match=r"has channels \['x0', 'x1'\]; the run was trained on \['value'\]"):
        fitted.scores(np.ones((10, 2)))


@pytest.mark.parametrize("data, options, error, message", [
    (42, {"normal_until": 200}, TypeError, "data must be a CSV file, a bundled anomaly series' name.*received int"),
    (np.zeros(300), {}, ValueError, "normal_until is required for a file or data in memory.*<ndarray in memory>"),
    (np.zeros(300), {"normal_until": 300}, ValueError, r"normal_until must be in \[2, 300\)"),
    (np.zeros(300), {"normal_until": 10}, ValueError, "shorter than one training window of 17 points"),
    (np.array([1.0, np.inf] * 150), {"normal_until": 200}, ValueError, "infinite value at row 1"),
    (pd.DataFrame({"v": np.zeros(300), "is_anomaly": [1] + [0] * 299}), {"normal_until": 200}, ValueError,
     "point 0 is labelled anomalous but normal_until=200"),
])
def test_bad_data_is_named_and_nothing_is_fitted(data, options, error, message):
    detector = AnomalyDetector(**TINY)
    with pytest.raises(error, match=message):
        detector.fit(data, **options)
    with pytest.raises(NotFittedError, match="not fitted"):
        detector.scores(data)


def test_columns_choose_the_channels(build, tmp_path):
    data = pd.read_csv(build.sensor_csv(tmp_path / "two.csv", channels=("a", "b")))
    detector = AnomalyDetector(**TINY).fit(data, columns=["b"], normal_until=200)
    assert detector.channels_ == ["b"] and detector.task_.config.columns == "b"
    np.testing.assert_array_equal(detector.scores(data), detector.scores(data[["b"]]))


def test_the_pot_threshold_rule_is_a_setting_that_saves_and_checks_its_risk(sensor, tmp_path):
    detector = AnomalyDetector(threshold_rule="pot", **TINY).fit(str(sensor), normal_until=200)
    loaded = AnomalyDetector.load(detector.save(tmp_path / "run"))
    assert loaded.get_params()["threshold_rule"] == "pot" and loaded.threshold_ == detector.threshold_
    with pytest.raises(ValueError, match=r"threshold_risk must be in \(0, 1\); received 1.5"):
        AnomalyDetector(threshold_rule="pot", threshold_risk=1.5, **TINY).fit(str(sensor), normal_until=200)
