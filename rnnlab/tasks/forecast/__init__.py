"""Forecasting: the next values of a series from a window of its past (many-to-one, or direct multi-step).

    model.py        ForecastNetwork, the nn.Module: a recurrent encoder and a linear head to the horizon
    task.py         ForecastTask, the hooks the pipeline runs, and ForecastConfig, its settings
    estimator.py    Forecaster, the public estimator (fit on a DataFrame, an array, a CSV or a bundled name)
    transforms.py   the target transforms (log, differences) and their inverses
    baselines.py    the naive and seasonal-naive forecasts, and the season a series has
"""

from rnnlab.tasks.forecast.estimator import Forecaster
from rnnlab.tasks.forecast.model import ForecastNetwork
from rnnlab.tasks.forecast.task import ForecastConfig, ForecastTask

__all__ = ["ForecastConfig", "ForecastNetwork", "ForecastTask", "Forecaster"]
