"""Tasks built on rnnlab's layers: forecasting models, their metrics and baselines.

The public API of the package is exactly what this module re-exports.
"""

from rnnlab.tasks.baselines import infer_season, naive_forecast, seasonal_naive_forecast
from rnnlab.tasks.forecast import ForecastModelConfig, Forecaster, build_forecaster
from rnnlab.metrics.regression import forecast_metrics, mae, mape, mase, rmse, smape

__all__ = [
    "ForecastModelConfig",
    "Forecaster",
    "build_forecaster",
    "forecast_metrics",
    "infer_season",
    "mae",
    "mape",
    "mase",
    "naive_forecast",
    "rmse",
    "seasonal_naive_forecast",
    "smape",
]
