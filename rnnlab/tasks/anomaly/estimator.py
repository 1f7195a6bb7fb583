"""`rnnlab.AnomalyDetector`: scores and flags per point of a series, from Python, in batch or streaming.

    det = rnnlab.AnomalyDetector(epochs=5)
    det.fit(frame, normal_until=1000)          # a DataFrame or Series, an array (N,) or (N, C), a CSV or "ucr_135"
    det.scores(frame)                          # one score per point (a pandas Series for pandas input)
    det.predict(frame)                         # one flag per point: score > threshold_
    det.detect(frame)                          # a DataFrame of score and flag, indexed like the input
    for line in det.detect_lines("stream.csv", follow=True): print(line)   # what `rnnlab detect` prints
    det.evaluate()                             # {"metrics": {"model": {"f1", ...}, "naive": ...}, ...}
    det.save("runs/det"); rnnlab.AnomalyDetector.load("runs/det")
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.frames import is_file_or_name, is_pandas
from rnnlab.data.stream import AnomalySeries, format_header, format_line, resolve_file
from rnnlab.tasks.anomaly.streaming import stream_lines
from rnnlab.tasks.anomaly.task import AnomalyTask
from rnnlab.tasks.estimator import Estimator


class AnomalyDetector(Estimator):
    """Flags the points of a series that a recurrent model of its normal behaviour explains badly.

    Settings are the options of `rnnlab train anomaly` (see `help(AnomalyDetector.__init__)`). The
    first `normal_until` points are normal: the model (a next-step forecaster, or a sequence
    autoencoder with method="reconstruction") trains on most of them, and the rest calibrate the
    threshold. A point's score is its standardised residual, smoothed; it is flagged when the
    score exceeds `threshold_`. `evaluate()` scores the points after the normal prefix against
    their labels, beside the naive detector |x_t − x_(t−1)|.
    """

    task = AnomalyTask

    def fit(self, data: Any, *, columns: str | Sequence[str] | None = None, label_column: str = "is_anomaly",
            normal_until: int | None = None, fill: str | None = None, validation_data: Any = None,
            callbacks: Sequence | None = None, checkpoint_dir: str | Path | None = None,
            resume: bool = False) -> AnomalyDetector:
        """Trains on the normal prefix of `data` and calibrates the threshold; returns self.

        Args:
            data: a pandas DataFrame (its label column, if there, holds 0/1 labels; a time-named
                column or a DatetimeIndex gives the times) or Series; a numeric array (N,) or
                (N, C), whose columns are named "x0", "x1", ... ("y" for one); a CSV file; or a
                bundled anomaly series' name ("ucr_135").
            columns: the value columns (channels) to read (default: all but the time and label ones).
            label_column: the column of 0/1 labels, if the data has one (labels are only scored).
            normal_until: how many leading points are normal; required unless the data names it
                (a bundled series).
            fill: "ffill", "interpolate" or "zero" for missing values (default: they are an error).
            validation_data: a normal series with the same channels, in any form `data` takes, to
                validate on and calibrate the threshold with; the whole normal prefix then trains.
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        if columns is not None and not isinstance(columns, str):
            columns = ",".join(str(c) for c in columns)
        return self._fit(data, columns=columns, label_column=label_column, normal_until=normal_until, fill=fill,
                         validation_data=validation_data, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                         resume=resume)

    @property
    def channels_(self) -> list[str]:
        """The value columns the detector reads, in order."""
        self._check_fitted()
        return list(self.task_.channels)

    @property
    def threshold_(self) -> float:
        """τ: a point whose score exceeds it is flagged."""
        self._check_fitted()
        return float(self.task_.calibration["model"]["threshold"])

    def _series(self, data: Any) -> AnomalySeries:
        self._check_fitted()
        return self.task_.own_data().series if data is None else self.task_.read(data)

    def _scores(self, data: Any) -> tuple[AnomalySeries, np.ndarray]:
        series = self._series(data)
        return series, self.task_.detectors(self.network_)["model"].scores(series.values)

    def scores(self, data: Any = None) -> Any:
        """Each point's score a_t (batch mode; equal to streaming's): of `data` in any form `fit` takes,
        or of the series it was fitted on. A pandas Series indexed like pandas input, else an array (N,)."""
        _, scores = self._scores(data)
        return _like(data, scores, "score")

    def predict(self, data: Any = None) -> Any:
        """Each point's flag, score > `threshold_`: bools, a pandas Series for pandas input, else an array (N,)."""
        _, scores = self._scores(data)
        return _like(data, scores > self.threshold_, "flag")

    def detect(self, data: Any = None):
        """A pandas DataFrame with columns score and flag, one row per point: indexed like `data` for
        pandas input, else by the series' times (its time column), else by position."""
        import pandas as pd

        series, scores = self._scores(data)
        index = data.index if is_pandas(data) else (pd.Index(series.times, name="time") if series.times else None)
        return pd.DataFrame({"score": scores, "flag": scores > self.threshold_}, index=index)

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`: a `time,<channels>,score,flag` header, then one line per point of `data` (batch mode)."""
        if text is not None:
            raise ValueError("an anomaly run scores a series from --data (a CSV file or bundled name), not --text")
        series, scores = self._scores(data)
        times = series.times or tuple(str(i) for i in range(len(scores)))
        rows = zip(times, series.values, scores, scores > self.threshold_)
        return [format_header(self.channels_)] + [format_line(t, v, s, f) for t, v, s, f in rows]

    def detect_lines(self, data: str | Path, *, follow: bool = False, interval: float = 0.5,
                     max_points: int | None = None, fill: str | None = None) -> Iterator[str]:
        """Streaming mode (`rnnlab detect`): a header, then `time,<channels>,score,flag` per point as it is read.

        Each point costs one step of the detector (`rnnlab.tasks.anomaly.streaming`); the scores
        equal batch mode's. Lines are produced as the returned iterator is read.

        Args:
            data: a CSV file, or a bundled anomaly series' name.
            follow: keep reading lines appended to the file, as `tail -f` does (never ends by itself).
            interval: with `follow`, seconds between looks for new lines (> 0).
            max_points: stop after this many points (None: at the end of the file, or never with follow).
            fill: None (a missing value is an error), "ffill" or "zero".

        Raises:
            ValueError: for an interval or max_points out of range (here); a malformed line or other
                channels raise DataError, naming the line, as the iterator reaches them.
            TypeError: for data that is not a file or a bundled name.
        """
        self._check_fitted()
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
            raise ValueError(f"interval must be positive (seconds); received {interval!r}")
        if max_points is not None and (isinstance(max_points, bool) or not isinstance(max_points, int)
                                       or max_points < 1):
            raise ValueError(f"max_points must be a positive integer or None; received {max_points!r}")
        if not is_file_or_name(data):
            raise TypeError(f"data must be a CSV file or a bundled anomaly series' name to stream; received "
                            f"{type(data).__name__} (scores(data) scores data in memory)")
        path, _ = resolve_file(str(data))
        config = self.task_.config
        columns = None if config.columns is None else self.channels_
        return stream_lines(self.task_.detectors(self.network_)["model"], path, self.channels_, columns=columns,
                            label_column=config.label_column, follow=follow, interval=interval,
                            max_points=max_points, fill=fill)


def _like(data: Any, values: np.ndarray, name: str) -> Any:
    """`values` (N,) as a pandas Series indexed like `data` when that is a pandas object, else as they are."""
    if not is_pandas(data):
        return values
    import pandas as pd

    return pd.Series(values, index=data.index, name=name)
