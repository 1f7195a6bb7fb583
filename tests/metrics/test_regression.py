"""Metrics against values computed by hand (the arithmetic is written next to each)."""

import math

import numpy as np
import pytest

from rnnlab.metrics.regression import forecast_metrics, mae, mape, mase, rmse, smape

ACTUAL = np.array([2.0, 4.0, 5.0, 10.0])
FORECAST = np.array([3.0, 2.0, 5.0, 13.0])
# errors y - ŷ: -1, 2, 0, -3


def test_mae():
    assert mae(ACTUAL, FORECAST) == pytest.approx((1 + 2 + 0 + 3) / 4)  # 1.5


def test_rmse():
    assert rmse(ACTUAL, FORECAST) == pytest.approx(math.sqrt((1 + 4 + 0 + 9) / 4))  # sqrt(3.5)


def test_mape():
    # |e|/|y|: 1/2, 2/4, 0/5, 3/10 -> 0.5 + 0.5 + 0 + 0.3 = 1.3, mean 0.325 -> 32.5 %
    assert mape(ACTUAL, FORECAST) == pytest.approx(32.5)


def test_smape():
    # 2|e|/(|y|+|ŷ|): 2/5, 4/6, 0/10, 6/23 -> mean * 100
    expected = 100 * (2 / 5 + 4 / 6 + 0 + 6 / 23) / 4
    assert smape(ACTUAL, FORECAST) == pytest.approx(expected)


def test_smape_zero_over_zero_is_zero_and_range_is_0_to_200():
    # entries: 0 vs 0 -> 0 by definition; 1 vs -1 -> 2*2/2 = 2 (the maximum) -> mean (0 + 2) / 2 = 1 -> 100 %
    assert smape(np.array([0.0, 1.0]), np.array([0.0, -1.0])) == pytest.approx(100.0)
    assert smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)


def test_mape_excludes_zero_actuals():
    # the zero actual is dropped whatever its forecast; left: |4-2|/4 = 0.5 -> 50 %
    assert mape(np.array([0.0, 4.0]), np.array([100.0, 2.0])) == pytest.approx(50.0)


def test_mape_is_nan_when_every_actual_is_zero():
    assert math.isnan(mape(np.zeros(3), np.ones(3)))


def test_mase_hand_computed():
    train = np.array([1.0, 3.0, 2.0, 6.0])
    # season 2: |2-1| = 1, |6-3| = 3 -> scale 2; MAE 1.5 (above) -> MASE 0.75
    assert mase(ACTUAL, FORECAST, train=train, season=2) == pytest.approx(0.75)
    # season 1: |3-1|, |2-3|, |6-2| = 2, 1, 4 -> scale 7/3; MASE = 1.5 / (7/3) = 4.5/7
    assert mase(ACTUAL, FORECAST, train=train, season=1) == pytest.approx(4.5 / 7)


def test_metrics_of_multi_step_forecasts_average_every_entry():
    actual = ACTUAL.reshape(2, 2)
    forecast = FORECAST.reshape(2, 2)
    assert mae(actual, forecast) == pytest.approx(1.5)
    assert rmse(actual, forecast) == pytest.approx(math.sqrt(3.5))


def test_mase_rejects_a_training_series_seasonal_naive_predicts_exactly():
    train = np.tile([1.0, 5.0, 2.0], 4)  # period 3: y_t == y_{t-3} everywhere, scale 0
    with pytest.raises(ValueError, match="season=3"):
        mase(ACTUAL, FORECAST, train=train, season=3)


def test_mase_rejects_a_training_series_shorter_than_season_plus_one():
    with pytest.raises(ValueError, match=r"season \+ 1 = 5.*\(4,\)"):
        mase(ACTUAL, FORECAST, train=np.arange(4.0), season=4)


def test_mase_rejects_a_non_positive_season():
    with pytest.raises(ValueError, match="season.*0"):
        mase(ACTUAL, FORECAST, train=np.arange(10.0), season=0)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4,\) and \(3,\)"):
        mae(ACTUAL, FORECAST[:3])


def test_forecast_metrics_has_all_five():
    train = np.array([1.0, 3.0, 2.0, 6.0])
    metrics = forecast_metrics(ACTUAL, FORECAST, train=train, season=2)
    assert metrics == pytest.approx({"mae": 1.5, "rmse": math.sqrt(3.5), "mape": 32.5,
                                     "smape": 100 * (2 / 5 + 4 / 6 + 6 / 23) / 4, "mase": 0.75})
