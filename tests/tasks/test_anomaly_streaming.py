"""Streaming equals batch; reading series whole and line by line (following a growing file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.tasks.anomaly import Detector, NextStepForecaster, SequenceAutoencoder
from rnnlab.tasks.streaming import RowReader, ScoreStream, follow_lines, load_series, stream_lines


def noisy_series(n: int = 80, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(n)[:, None]
    values = 50 + 10 * np.sin(2 * np.pi * t / 16 + np.arange(channels)) + rng.standard_normal((n, channels))
    values[60:64] += 25.0
    return values


def detector(method: str, *, cell: str = "lstm", num_layers: int = 1, smooth: int = 3, window: int = 6) -> Detector:
    torch.manual_seed(0)
    model = {"forecast": lambda: NextStepForecaster(2, cell=cell, hidden_size=6, num_layers=num_layers),
             "reconstruction": lambda: SequenceAutoencoder(2, cell=cell, hidden_size=6, latent_size=3),
             "naive": lambda: None}[method]()
    model = None if model is None else model.double().eval()
    return Detector(method, model, np.array([50.0, 49.0]), np.array([7.0, 8.0]), np.array([0.5, 2.0]), smooth, 1.5,
                    window)


@pytest.mark.parametrize("method, cell, num_layers", [("forecast", "lstm", 1), ("forecast", "gru", 2),
                                                      ("forecast", "rnn", 1), ("reconstruction", "lstm", 1),
                                                      ("reconstruction", "gru", 1), ("naive", "lstm", 1)])
def test_streaming_scores_equal_batch_scores(method, cell, num_layers):
    scorer = detector(method, cell=cell, num_layers=num_layers)
    values = noisy_series()
    batch = scorer.scores(values)
    stream = ScoreStream(scorer)
    streamed = np.array([stream.update(v) for v in values], dtype=object)
    np.testing.assert_allclose(streamed[:, 0].astype(float), batch, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(streamed[:, 1].astype(bool), scorer.flags(batch))
    assert batch[60:64].max() > np.median(batch)                     # the scores are not all zero


def test_a_stream_keeps_bounded_state():
    scorer = detector("reconstruction", smooth=4, window=5)
    stream = ScoreStream(scorer)
    for value in noisy_series(50):
        stream.update(value)
    assert len(stream._window) == 5 and len(stream._recent_z) == 4  # O(W) and O(k) memory, not O(t)


def test_follow_lines_waits_for_complete_lines(tmp_path):
    path = tmp_path / "grow.csv"
    path.write_text("time,value\n0,1.5\n1,2")                       # the last line is still being written
    arrivals = iter(["5\n", "2,3.0\n3,4", ".0\n"])

    def sleep(_seconds):                                             # each wait lets the writer add a chunk
        chunk = next(arrivals, None)
        if chunk is None:
            raise KeyboardInterrupt
        with path.open("a") as file:
            file.write(chunk)

    lines = []
    with pytest.raises(KeyboardInterrupt):
        for item in follow_lines(path, follow=True, interval=0.01, sleep=sleep):
            lines.append(item)
    assert lines == [(1, "time,value"), (2, "0,1.5"), (3, "1,25"), (4, "2,3.0"), (5, "3,4.0")]
    assert list(follow_lines(path))[-1] == (5, "3,4.0")               # without follow: ends at the end


def test_row_reader_fills_or_refuses_missing_cells(tmp_path):
    header = ["time", "a", "b"]
    reader = RowReader("s.csv", header, ["b", "a"], fill="ffill")
    assert reader.parse(2, "t0,1,2")[1].tolist() == [2.0, 1.0]
    assert reader.parse(3, "t1,,NaN") == ("t1", pytest.approx(np.array([2.0, 1.0])))
    assert reader.parse(4, "  ") is None and reader.count == 2
    zero = RowReader("s.csv", header, ["a"], fill="zero")
    assert zero.parse(2, "t0,,5")[1].tolist() == [0.0]
    cases = [(RowReader("s.csv", header, ["a"], None), "t0,nan,1", "missing \\(NaN\\) at line 7"),
             (RowReader("s.csv", header, ["a"], None), "t0,abc,1", "non-numeric text 'abc' at line 7"),
             (RowReader("s.csv", header, ["a"], None), "t0,1", "line 7 has 2 fields; the header has 3"),
             (RowReader("s.csv", header, ["a"], "ffill"), "t0,,1", "no earlier value to carry forward")]
    for reader, line, message in cases:
        with pytest.raises(DataError, match=message):
            reader.parse(7, line)
    with pytest.raises(DataError, match="'interpolate' needs later points"):
        RowReader("s.csv", header, ["a"], "interpolate")


def test_load_series_reads_the_bundled_series_and_checks_labels(tmp_path):
    bundled = load_series("ucr_135", columns=None, label_column="is_anomaly", fill=None)
    assert bundled.values.shape == (7501, 1) and bundled.channels == ("value",) and bundled.normal_until == 1200
    assert np.flatnonzero(bundled.labels).tolist() == list(range(4187, 4199))
    unlabelled = tmp_path / "u.csv"
    unlabelled.write_text("timestamp,x,y\n0,1,2\n1,3,4\n")
    series = load_series(str(unlabelled), columns=None, label_column="is_anomaly", fill=None)
    assert series.channels == ("x", "y") and series.labels is None and series.normal_until is None
    bad = tmp_path / "bad.csv"
    bad.write_text("time,value,is_anomaly\n0,1,0\n1,2,3\n")
    with pytest.raises(DataError, match="label column 'is_anomaly' must hold 0 or 1; received 3"):
        load_series(str(bad), columns=None, label_column="is_anomaly", fill=None)
    with pytest.raises(DataError, match="neither a bundled anomaly series"):
        load_series(str(tmp_path / "nope.csv"), columns=None, label_column="is_anomaly", fill=None)


def test_stream_lines_checks_channels_and_length(tmp_path):
    scorer = detector("naive")
    other = tmp_path / "other.csv"
    other.write_text("time,a,c\n0,1,2\n")
    with pytest.raises(DataError, match=r"has channels \['a', 'c'\]; the run was trained on \['a', 'b'\]"):
        list(stream_lines(scorer, other, ["a", "b"], columns=None, label_column="is_anomaly"))
    empty = tmp_path / "empty.csv"
    empty.write_text("time,a,b\n")
    with pytest.raises(DataError, match="series of length 0"):
        list(stream_lines(scorer, empty, ["a", "b"], columns=None, label_column="is_anomaly"))
    good = tmp_path / "good.csv"
    good.write_text("time,a,b,is_anomaly\n" + "".join(f"{t},{50 + t},{49 - t},0\n" for t in range(10)))
    lines = list(stream_lines(scorer, good, ["a", "b"], columns=None, label_column="is_anomaly", max_points=4))
    assert lines[0] == "time,a,b,score,flag" and len(lines) == 5 and lines[1] == "0,50,49,0,0"
