"""`rnnlab.Forecaster`: forecast a series from Python, on a DataFrame, an array, a CSV file or a bundled name.

    fc = rnnlab.Forecaster(model="gru", window=24, horizon=6)
    fc.fit(sales, target="sales")           # a pandas Series/DataFrame, an array, a CSV path or "airline"
    fc.predict()                            # the 6 steps after the series' end, indexed by its own next timestamps
    fc.evaluate()                           # {"metrics": {"model": ..., "naive": ..., "seasonal_naive": ...}, ...}
    fc.save("runs/sales"); rnnlab.Forecaster.load("runs/sales")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.frames import future_index, is_pandas
from rnnlab.data.series import Series
from rnnlab.data.timestamps import next_times
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.forecast.task import ForecastTask


class Forecaster(Estimator):
    """Forecasts the next `horizon` values of a series with a recurrent encoder (RNN, LSTM or GRU).

    Settings are the options of `rnnlab train forecast` (see `help(Forecaster.__init__)`).
    The series is split in time order (train, validation, test at the end), its target modelled
    as differences of logs by default and scaled with training statistics only; `evaluate()`
    scores the test span against the naive and seasonal-naive forecasts (MASE below 1 beats the
    seasonal naive one).
    """

    task = ForecastTask

    def fit(self, data: Any, *, target: str | int | None = None, columns: str | Sequence[str] | None = None,
            fill: str | None = None, validation_data: Any = None, callbacks: Sequence | None = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False) -> Forecaster:
        """Trains on `data`; returns self.

        Args:
            data: a pandas Series (its name is the target) or DataFrame (a DatetimeIndex,
                PeriodIndex or a time-named column gives the timestamps); a numeric array (N,)
                or (N, C); a CSV file; or a bundled series' name ("airline", "co2", ...).
            target: the column to forecast (an index for an array); not needed for one column.
            columns: the input columns, the target among them (default: every numeric column).
            fill: "ffill", "interpolate" or "zero" for missing values (default: they are an error).
            validation_data: a series with the same columns to validate on (early stopping and
                the best epoch), instead of the validation span carved from `data`.
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        if columns is not None and not isinstance(columns, str):
            columns = ",".join(str(c) for c in columns)
        if isinstance(target, int) and not isinstance(target, bool):
            target = None if target == 0 and _one_column(data) else f"x{target}"
        return self._fit(data, target=target, columns=columns, fill=fill, validation_data=validation_data,
                         callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume)

    def _series(self, data: Any) -> Series:
        self._check_fitted()
        return self.task_.own_data().series if data is None else self.task_.read(data)

    def predict(self, data: Any = None, *, as_frame: bool | None = None):
        """The `horizon` values after the end of `data` (default: the series it was fitted on).

        Args:
            data: a series with the run's columns, in any form `fit` takes.
            as_frame: return a pandas DataFrame indexed by the series' next timestamps (its
                index's frequency, or its time column's regular steps); default: when `data` is a
                pandas object, or None and the fitted data was one.

        Returns:
            A DataFrame with one column, the target, or an array of shape (horizon,).
        """
        series = self._series(data)
        values = self.task_.forecast(self.network_, series)
        if as_frame is None:
            as_frame = series.index is not None or is_pandas(data)
        if not as_frame:
            return values
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("as_frame=True needs pandas: pip install pandas; received as_frame=True") from None
        return pd.DataFrame({series.target: values}, index=future_index(series, len(values)))

    def forecast_times(self, data: Any = None) -> list[str]:
        """Labels of the steps `predict` forecasts: the series' next timestamps, or "t+1", "t+2", ..."""
        series = self._series(data)
        following = next_times(series.times, self.horizon) if series.times is not None else None
        return following or [f"t+{step}" for step in range(1, self.horizon + 1)]

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`'s output: one `<time><TAB><value>` line per step after the end of `data`."""
        if text is not None:
            raise ValueError("a forecast predicts from --data (a CSV file or bundled name), not from --text")
        if data is None:
            raise ValueError("a forecast needs --data: the CSV file (or bundled name) whose end to forecast from")
        values = self.predict(data, as_frame=False)
        return [f"{when}\t{value:.6g}" for when, value in zip(self.forecast_times(data), values)]


def _one_column(data: Any) -> bool:
    return isinstance(data, (np.ndarray, list, tuple)) and np.ndim(data) == 1
