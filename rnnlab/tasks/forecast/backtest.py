"""Rolling-origin evaluation of a panel forecaster: several forecast origins, each scored on what followed.

    window k of K forecasts, for every series, the h values after its origin
        origin_k = T_i − h − (K − 1 − k) · step        (the last value it may read, exclusive)

so the last window ends at each series' end and each earlier one `step` values before. With
`refit` a fresh forecaster (the same settings) is trained for each window on the values before its
origin; without, one is trained for the first window and reads each later window's values up to
its origin, its weights unchanged. Either way a window never sees a value at or after its origin,
except the covariates known in advance for its horizon (as statsforecast's and NeuralForecast's
`cross_validation` do). Each window is scored as `PanelForecaster.evaluate` scores a test span.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rnnlab.data.frequency import format_time
from rnnlab.data.panel import Panel, check_lengths
from rnnlab.tasks.forecast.panel_estimator import joined_names
from rnnlab.tasks.forecast.panel_task import BASELINES, PanelTask, csv_field, default_horizon


class Backtest(NamedTuple):
    """What `backtest` returns.

    Attributes:
        windows: per window, {"window": k, "origins": each series' last time read, "metrics":
            {"model": {...}, "naive": {...}, "seasonal_naive": {...}}}.
        metrics: each metric's mean over the windows, for the model and each baseline.
        columns: the names of `rows`' cells.
        rows: one per series, window and step: id, time, window, origin, actual, forecast,
            quantiles, naive, seasonal_naive.
    """

    windows: list[dict]
    metrics: dict
    columns: list[str]
    rows: list[tuple]

    def to_frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def csv_text(self) -> str:
        lines = [",".join(self.columns)]
        for row in self.rows:
            lines.append(",".join(_cell(value) for value in row))
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        """The windows and the mean metrics, JSON-ready."""
        return {"windows": self.windows, "metrics": self.metrics}


def backtest(estimator, data: Any, *, windows: int = 3, step: int | None = None, refit: bool = True,
             **data_options: Any) -> Backtest:
    """Scores `estimator`'s settings on `windows` forecast origins of `data` (see the module docstring).

    Args:
        estimator: a `PanelForecaster` (only its settings are used: its fitted state, if any, may
            have seen the windows' values).
        data: a panel in any form `PanelForecaster.fit` takes.
        windows: how many origins, at least 1.
        step: values between consecutive origins (default: the horizon).
        refit: train a forecaster per window (True) or one for the first window (False).
        data_options: `fit`'s data arguments (id_column, future_covariates, ...).

    Raises:
        ValueError: for windows or step that are not positive integers, or a series too short for
            the first window's training (naming the series and its length), before anything trains.
    """
    for name, value in (("windows", windows), ("step", step)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer; received {value!r}")
    settings = {**estimator.get_params(), "holdout": True}
    probe = type(estimator)(**settings)
    options = {k: joined_names(v) if k.endswith("_covariates") else v for k, v in data_options.items()}
    task = PanelTask(probe.config(data, **options))
    panel = task.read(data)
    horizon = task.config.horizon or default_horizon(panel.freq)
    step = horizon if step is None else step
    back = (windows - 1) * step
    check_lengths(panel, task.config.min_known + 2 * horizon + back,
                  f"a backtest of {windows} windows {step} apart (min_known + 2 × horizon + {back})")

    results, fitted = [], None
    for k in range(windows):
        shortened = _truncated(panel, back - k * step)
        if refit or fitted is None:
            fitted = type(estimator)(**settings).fit(shortened, **data_options)
            evaluation = fitted._fitted.evaluation
        else:
            evaluation = fitted.task_.score(fitted.network_, fitted.task_.prepare(shortened))
        results.append((shortened, evaluation))
    return _collect(results, fitted.task_.config.levels, horizon)


def _truncated(panel: Panel, drop: int) -> Panel:
    """The panel without each series' last `drop` values (covariates alike)."""
    if drop == 0:
        return panel
    keep = [len(v) - drop for v in panel.values]
    return Panel(ids=panel.ids, values=tuple(v[:n] for v, n in zip(panel.values, keep)),
                 times=tuple(t[:n] for t, n in zip(panel.times, keep)),
                 covariates={name: tuple(c[:n] for c, n in zip(column, keep)) for name, column in panel.covariates.items()},
                 freq=panel.freq, statics=panel.statics)


def _collect(results: list, levels: tuple[float, ...], horizon: int) -> Backtest:
    columns = ["unique_id", "ds", "window", "origin", "y", "forecast", *(f"q{q:g}" for q in levels), *BASELINES]
    rows, summaries = [], []
    for k, (panel, evaluation) in enumerate(results):
        origins = [format_time(t[len(t) - horizon - 1]) for t in panel.times]
        summaries.append({"window": k, "origins": origins, "metrics": evaluation["metrics"]})
        for i, id in enumerate(panel.ids):
            times = panel.times[i][-horizon:]
            for s in range(horizon):
                rows.append((id, format_time(times[s]), k, origins[i], float(evaluation["actual"][i, s]),
                             float(evaluation["forecasts"]["model"][i, s]),
                             *(float(v) for v in evaluation["quantiles"][i, s]),
                             *(float(evaluation["forecasts"][b][i, s]) for b in BASELINES)))
    return Backtest(summaries, _mean_metrics([s["metrics"] for s in summaries]), columns, rows)


def _mean_metrics(per_window: list[dict]) -> dict:
    """Each (forecaster, metric)'s mean over the windows where it is defined (None where it never is)."""
    result = {}
    for who in per_window[0]:
        result[who] = {}
        for metric in per_window[0][who]:
            values = [w[who][metric] for w in per_window if w[who][metric] is not None]
            result[who][metric] = float(np.mean(values)) if values else None
    return result


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return csv_field(str(value))
