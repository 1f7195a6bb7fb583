"""Forecasting: the next values of a series from a window of its past (many-to-one, or direct multi-step).

    model.py        ForecastNetwork, the nn.Module: a recurrent encoder and a linear head to the horizon
    task.py         ForecastTask, the hooks the pipeline runs, and ForecastConfig, its settings
    estimator.py    Forecaster, the public estimator (fit on a DataFrame, an array, a CSV or a bundled name)
    transforms.py   the target transforms (log, differences) and their inverses
    baselines.py    the naive and seasonal-naive forecasts, and the season a series has

Many series with one model (the task forecast-panel):

    panel.py            Windows across a panel, the direct network (MQ-RNN), PanelModel (ensembles)
    decoder.py          the autoregressive decoder (sequence to sequence, DeepAR-style)
    outputs.py          what the network predicts per step: quantiles (pinball loss)
    likelihood.py       ... or a distribution: Gaussian, Student-t, negative binomial
    panel_task.py       PanelTask, the hooks, and PanelConfig, its settings
    panel_estimator.py  PanelForecaster, the public estimator (a long DataFrame or CSV)
    backtest.py         rolling-origin evaluation
"""

from rnnlab.tasks.forecast.estimator import Forecaster
from rnnlab.tasks.forecast.model import ForecastNetwork
from rnnlab.tasks.forecast.panel_estimator import PanelForecaster
from rnnlab.tasks.forecast.task import ForecastConfig, ForecastTask

__all__ = ["ForecastConfig", "ForecastNetwork", "ForecastTask", "Forecaster", "PanelForecaster"]
