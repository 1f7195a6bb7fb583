"""`rnnlab.PanelForecaster`: one model for many series, from a long DataFrame or CSV, with quantiles.

    fc = rnnlab.PanelForecaster(horizon=12)
    fc.fit(df)                         # columns unique_id, ds, y (and covariates), as NeuralForecast reads them
    fc.predict()                       # unique_id, ds, forecast, q0.05 ... q0.95: the 12 steps after each end
    fc.evaluate()                      # the test span's MASE, sMAPE, wQL, MSIS and 90% coverage, and baselines'
    fc.backtest(df, windows=3)         # rolling-origin evaluation: per-window forecasts and metrics
    fc.save("runs/sales"); rnnlab.PanelForecaster.load("runs/sales")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.frequency import format_time
from rnnlab.data.panel import Panel, read_panel
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.forecast.panel_task import PanelTask


class PanelForecaster(Estimator):
    """Forecasts every series of a panel with one recurrent network (a global model: DeepAR, MQ-RNN).

    Settings are the options of `rnnlab train forecast-panel` (see `help(PanelForecaster.__init__)`).
    Each window is normalised by its own level, so series of any scale train together; the
    network predicts quantiles (or a distribution), so every forecast comes with its intervals.
    With `holdout` (the default) each series' last `horizon` values are the test span that
    `evaluate()` scores; the forecast of `predict()` reads every value.
    """

    task = PanelTask

    def fit(self, data: Any, *, id_column: str = "unique_id", time_column: str = "ds", target: str = "y",
            future_covariates: str | Sequence[str] | None = None, past_covariates: str | Sequence[str] | None = None,
            static_covariates: str | Sequence[str] | None = None, fill: str | None = None, callbacks: Sequence | None = None, checkpoint_dir: str | Path | None = None,
            resume: bool = False) -> PanelForecaster:
        """Trains one network on every series of `data`; returns self.

        Args:
            data: a long table, one row per series and time step, as a pandas DataFrame or a CSV
                file; a `rnnlab.data.panel.Panel`; or a list of 1-D arrays (one series each,
                timed 0, 1, 2, ...).
            id_column, time_column, target: the table's series id, timestamp and value columns.
            future_covariates: columns known in advance (prices, holidays); `predict` needs them
                for the horizon too (its `future`).
            past_covariates: columns known only up to now.
            static_covariates: columns holding one category per series (a store's type, a
                product's family), each learnt as an embedding of `static_embedding` features;
                a series whose category changes between rows is an error, as is a category at
                predict time that training never saw.
            fill: "ffill", "interpolate" or "zero" for missing values (default: they are an error).
            callbacks, checkpoint_dir, resume: as every estimator's.
        """
        return self._fit(data, id_column=id_column, time_column=time_column, target=target,
                         future_covariates=joined_names(future_covariates),
                         past_covariates=joined_names(past_covariates),
                         static_covariates=joined_names(static_covariates),
                         fill=fill, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume)

    # --- forecasting -------------------------------------------------------------------------------

    def _windows(self, data: Any, future: Any):
        """The panel `data` (default: the fitted one, every value) and its windows ending at each series' end."""
        self._check_fitted()
        task = self.task_
        panel = task.own_data().panel if data is None else task.read(data)
        future_panel = None
        names = task.config.covariates("future_covariates")
        if future is not None:
            if not names:
                raise ValueError("future gives future covariates, but the run has none; received future of type "
                                 f"{type(future).__name__}")
            config = task.config
            future_panel = future if isinstance(future, Panel) else read_panel(
                future, id_column=config.id_column, time_column=config.time_column, target=names[0],
                covariates=names[1:])
        return panel, task.windows(panel, panel.lengths(), future_panel, argument="data", forecast=True)

    def predict_quantiles(self, data: Any = None, *, future: Any = None,
                          levels: Sequence[float] | None = None) -> np.ndarray:
        """(N, horizon, Q) quantiles of the `horizon` steps after each series' end, at `levels`
        (default: the run's `quantiles`), in the series' units; N follows the data's series order."""
        panel, windows = self._windows(data, future)
        return self.task_.quantiles(self.network_, windows, self.task_.static(panel), levels)

    def sample(self, data: Any = None, *, future: Any = None, n: int = 100, seed: int = 0) -> np.ndarray:
        """(n, N, horizon) sample paths after each series' end (an autoregressive decoder feeds each
        draw back; the direct head draws each step on its own)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer; received {n!r}")
        panel, windows = self._windows(data, future)
        return self.task_.samples(self.network_, windows, self.task_.static(panel), n, seed)

    def predict(self, data: Any = None, *, future: Any = None, as_frame: bool | None = None,
                levels: Sequence[float] | None = None):
        """The `horizon` steps after each series' end (default: the series it was fitted on).

        Args:
            data: a panel in any form `fit` takes, with the run's covariates.
            future: the future covariates for the horizon after each series' end: a long table
                (id, timestamp and each future covariate) as a DataFrame or CSV file.
            as_frame: a long pandas DataFrame (id, timestamp, "forecast" (the median) and one
                column per quantile level, "q0.05", ...); default: unless `data` is a list of
                arrays. Otherwise an array (N, horizon) of the medians.
            levels: the quantile levels of the frame's columns (default: the run's `quantiles`).
        """
        panel, windows = self._windows(data, future)
        levels = tuple(self.task_.config.levels if levels is None else levels)
        quantiles = self.task_.quantiles(self.network_, windows, self.task_.static(panel), levels)
        if 0.5 in levels:
            median = quantiles[..., levels.index(0.5)]
        else:
            median = self.task_.quantiles(self.network_, windows, self.task_.static(panel), (0.5,))[..., 0]
        if as_frame is None:
            as_frame = not isinstance(data, (list, tuple, np.ndarray))
        if not as_frame:
            return median
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("as_frame=True needs pandas: pip install pandas; received as_frame=True") from None
        config, horizon = self.task_.config, self.task_.horizon
        times = np.concatenate([self.task_.future_times(t[-1]) for t in panel.times])
        frame = {config.id_column: np.repeat(np.array(panel.ids, dtype=object), horizon),
                 config.time_column: pd.to_datetime(times) if times.dtype.kind == "M" else times,
                 "forecast": median.reshape(-1)}
        frame.update((f"q{q:g}", quantiles[..., k].reshape(-1)) for k, q in enumerate(levels))
        return pd.DataFrame(frame)

    def predict_lines(self, data: Any = None, text: str | None = None, future: Any = None) -> list[str]:
        """`rnnlab predict`'s output: `<id><TAB><time><TAB><median><TAB><quantiles...>` per step."""
        if text is not None:
            raise ValueError("a panel forecast predicts from --data (a long CSV file), not from --text")
        if data is None:
            raise ValueError("a panel forecast needs --data: the long CSV file whose series to forecast from")
        panel, windows = self._windows(data, future)
        task = self.task_
        levels = task.config.levels
        quantiles = task.quantiles(self.network_, windows, task.static(panel), levels)
        median = levels.index(0.5)
        lines = []
        for i, id in enumerate(panel.ids):
            for step, when in enumerate(task.future_times(panel.times[i][-1])):
                row = quantiles[i, step]
                lines.append("\t".join([id, format_time(when), f"{row[median]:.6g}", *(f"{v:.6g}" for v in row)]))
        return lines

    def backtest(self, data: Any = None, *, windows: int = 3, step: int | None = None, refit: bool = True,
                 **data_options: Any):
        """Rolling-origin evaluation (`rnnlab.tasks.forecast.backtest.backtest`) with these settings."""
        from rnnlab.tasks.forecast.backtest import backtest

        if data is None:
            self._check_fitted()
            data = self.task_.own_data().panel
        return backtest(self, data, windows=windows, step=step, refit=refit, **data_options)


def joined_names(value: str | Sequence[str] | None) -> str | None:
    """Column names as the config holds them: one comma-separated string (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def forecast_panel(train: Sequence[np.ndarray], horizon: int, season: int = 1, seed: int = 0,
                   **settings: Any) -> np.ndarray:
    """The median forecasts (N, horizon) after each of the 1-D series in `train` (see
    `forecast_panel_quantiles`)."""
    return forecast_panel_quantiles(train, horizon, season, seed, levels=(0.5,), **settings)[..., 0]


def forecast_panel_quantiles(train: Sequence[np.ndarray], horizon: int, season: int = 1, seed: int = 0,
                             levels: Sequence[float] = (0.05, 0.5, 0.95), **settings: Any) -> np.ndarray:
    """The quantiles (N, horizon, Q) at `levels` after each of the 1-D series in `train`, by one
    `PanelForecaster` trained on all of them (no test span held out: the last horizon of each
    chooses the epoch). The M3 benchmark's entry point."""
    series = [np.asarray(values, dtype=np.float64) for values in train]
    fitted = PanelForecaster(horizon=horizon, season=season, seed=seed, holdout=False, **settings).fit(series)
    return fitted.predict_quantiles(series, levels=levels)
