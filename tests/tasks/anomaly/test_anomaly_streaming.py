"""Streaming equals batch: `ScoreStream` point by point, and `stream_lines` over a CSV file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.tasks.anomaly.detector import Detector
from rnnlab.tasks.anomaly.model import NextStepForecaster, SequenceAutoencoder
from rnnlab.tasks.anomaly.streaming import ScoreStream, stream_lines


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
    latin = tmp_path / "latin.csv"
    latin.write_bytes("time,a,b\n0,1,2\n1,3,4 \xb0C\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv: not UTF-8: byte b'\\xb0' at line 3"):
        list(stream_lines(scorer, latin, ["a", "b"], columns=None, label_column="is_anomaly"))
