"""Point-forecast error metrics: numpy arrays in, a float out.

`actual` and `forecast` have the same shape, (M,) for M one-step forecasts or (M, horizon) for M
windows; every entry counts once (a multi-step metric is the mean over windows and steps).
Pass values in the series' original units: MAPE and sMAPE are not invariant to scaling.
"""

from __future__ import annotations

import numpy as np


def _errors(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64, checked to have the same non-empty shape."""
    actual = np.asarray(actual, dtype=np.float64)
    forecast = np.asarray(forecast, dtype=np.float64)
    if actual.shape != forecast.shape:
        raise ValueError(f"actual and forecast must have the same shape; received {actual.shape} and {forecast.shape}")
    if actual.size == 0:
        raise ValueError(f"actual must not be empty; received shape {actual.shape}")
    return actual, forecast


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error, mean |y - ŷ|."""
    actual, forecast = _errors(actual, forecast)
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error, sqrt(mean (y - ŷ)²)."""
    actual, forecast = _errors(actual, forecast)
    return float(np.sqrt(np.mean(np.square(actual - forecast))))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error, 100 · mean |y - ŷ| / |y|, in percent.

    Zero actuals are excluded (their percentage error is undefined); the mean is over the
    remaining entries. If every actual is zero the result is nan: there is nothing to measure,
    and returning 0 or inf would read as a (wrong) score.
    """
    actual, forecast = _errors(actual, forecast)
    nonzero = actual != 0
    if not nonzero.any():
        return float("nan")
    ratios = np.abs(actual[nonzero] - forecast[nonzero]) / np.abs(actual[nonzero])
    return float(100.0 * np.mean(ratios))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE, 100 · mean 2|y - ŷ| / (|y| + |ŷ|), in percent, between 0 and 200.

    An entry with y = ŷ = 0 contributes 0 (a perfect forecast), not nan.
    """
    actual, forecast = _errors(actual, forecast)
    denominator = np.abs(actual) + np.abs(forecast)
    both_zero = denominator == 0
    # where both are zero the numerator is zero too; divide by 1 there to keep 0/0 := 0
    ratios = 2.0 * np.abs(actual - forecast) / np.where(both_zero, 1.0, denominator)
    return float(100.0 * np.mean(ratios))


def seasonal_naive_scale(train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast on `train`: mean |y_t - y_{t-season}|.

    Args:
        train: (N,) the training part of the target series, original units.
        season: the seasonal period m (1 gives the naive, random-walk scale).

    Raises:
        ValueError: if season is not a positive int, train is not 1-D with at least season + 1
            values, or the scale is 0 (the series repeats exactly, so MASE is undefined).
    """
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"season must be a positive integer; received {season!r}")
    train = np.asarray(train, dtype=np.float64)
    if train.ndim != 1 or train.shape[0] < season + 1:
        raise ValueError(f"train must be a 1-D series of at least season + 1 = {season + 1} values; "
                         f"received shape {train.shape}")
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    if scale == 0:
        raise ValueError(f"the seasonal-naive scale of train (season={season}) is 0, so MASE is undefined; "
                         "received a training series that repeats exactly with this period")
    return scale


def mase(actual: np.ndarray, forecast: np.ndarray, *, train: np.ndarray, season: int) -> float:
    """Mean absolute scaled error (Hyndman & Koehler, 2006), seasonal version.

        MASE = mean |y - ŷ|  /  mean_{t > m} |y_t - y_{t-m}|   (denominator over the training series)

    Below 1 the forecast beats, on average, the one-step seasonal-naive forecast made in-sample.
    The scale is the same for every horizon step, as in the standard definition.

    Args:
        actual, forecast: (M,) or (M, horizon), original units.
        train: (N,) the training series (not the test span), original units.
        season: the seasonal period m; 1 scales by the naive (random walk) forecast.
    """
    return mae(actual, forecast) / seasonal_naive_scale(train, season)


def forecast_metrics(actual: np.ndarray, forecast: np.ndarray, *, train: np.ndarray,
                     season: int) -> dict[str, float]:
    """All five metrics, keyed "mae", "rmse", "mape", "smape", "mase"."""
    return {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "mape": mape(actual, forecast),
        "smape": smape(actual, forecast),
        "mase": mase(actual, forecast, train=train, season=season),
    }
