"""Baseline forecasts for the same windows a model forecasts, and the seasonal period they use.

A window's forecast starts at index t_k of the target series y: it predicts y[t_k], ...,
y[t_k + H - 1] and may use only y[:t_k]. `starts` holds the t_k of every window.
"""

from __future__ import annotations

import numpy as np


def _check(y: np.ndarray, starts: np.ndarray, horizon: int, earliest: int) -> tuple[np.ndarray, np.ndarray]:
    """y as a float 1-D array and starts as ints in [earliest, len(y)]."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D series; received shape {y.shape}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer; received {horizon!r}")
    starts = np.asarray(starts)
    if starts.ndim != 1 or not np.issubdtype(starts.dtype, np.integer):
        raise ValueError("starts must be a 1-D array of integer indices; "
                         f"received {starts.dtype} of shape {starts.shape}")
    if starts.size and (starts.min() < earliest or starts.max() > len(y)):
        raise ValueError(f"starts must lie in [{earliest}, {len(y)}] (enough history before each window); "
                         f"received values from {starts.min()} to {starts.max()}")
    return y, starts.astype(np.int64)


def naive_forecast(y: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
    """The last value before each window, repeated: ŷ[k, h] = y[t_k - 1].

    Args:
        y: (N,) the full target series, original (unscaled) units.
        starts: (M,) index t_k of the first forecast value of each window, 1 <= t_k <= N.
        horizon: H, values forecast per window.

    Returns:
        (M, H) array.
    """
    y, starts = _check(y, starts, horizon, earliest=1)
    return np.repeat(y[starts - 1][:, None], horizon, axis=1)  # (M, H)


def seasonal_naive_forecast(y: np.ndarray, starts: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The value one season earlier, from the last season before the window:

        ŷ[k, h] = y[t_k + h - m·ceil((h + 1) / m)],   h = 0 .. H-1

    so step h reads the same phase in the last full season before t_k (never a value inside the
    window). With m = 1 this is `naive_forecast`.

    Args:
        y: (N,) the full target series, original (unscaled) units.
        starts: (M,) index t_k of each window's first forecast value, m <= t_k <= N.
        horizon: H, values forecast per window.
        season: m, the seasonal period.

    Returns:
        (M, H) array.
    """
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"season must be a positive integer; received {season!r}")
    y, starts = _check(y, starts, horizon, earliest=season)
    steps = np.arange(horizon)
    offsets = steps - season * ((steps + season) // season)  # (H,), ceil((h+1)/m) = (h+m)//m; in [-m, -1]
    return y[starts[:, None] + offsets[None, :]]              # (M, H)


def autocorrelation(xs: np.ndarray, lag: int) -> float:
    """Sample autocorrelation at `lag`, with the usual full-series denominator (biased estimator).

    The biased estimator shrinks long lags towards 0, which favours the fundamental period over
    its multiples when choosing a season.
    """
    centred = xs - xs.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0:
        return 0.0
    return float(np.dot(centred[lag:], centred[:-lag]) / denominator)


def infer_season(y_train: np.ndarray, max_lag: int | None = None, threshold: float = 0.3) -> int:
    """The seasonal period of a training series, or 1 when it has none.

    Rule: difference the series once (a trend makes every short lag look strongly correlated and
    would hide the season), then take the lag in 2..max_lag with the highest sample
    autocorrelation of the differences. If that autocorrelation is not above `threshold`, return
    1: no season, so the seasonal naive forecast is the naive one. E.g. the airline passengers
    series gives 12.

    Args:
        y_train: (N,) the training series (never the test span, which would leak).
        max_lag: largest candidate period; default (N - 1) // 2, so that each candidate lag
            still has at least half of the differences to correlate.
        threshold: minimum autocorrelation for a lag to count as a season.

    Returns:
        The period, an int >= 1.
    """
    diffs = np.diff(np.asarray(y_train, dtype=np.float64))  # (N - 1,)
    if max_lag is None:
        max_lag = len(diffs) // 2
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 2:
        raise ValueError(f"max_lag must be an integer >= 2; received {max_lag!r} "
                         f"(for a training series of {len(diffs) + 1} values)")
    if len(diffs) <= max_lag:
        raise ValueError(f"y_train must have more than max_lag + 1 = {max_lag + 1} values; received {len(diffs) + 1}")
    lags = range(2, max_lag + 1)
    correlations = [autocorrelation(diffs, lag) for lag in lags]
    best = int(np.argmax(correlations))
    return lags[best] if correlations[best] > threshold else 1
