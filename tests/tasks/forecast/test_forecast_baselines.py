"""Naive and seasonal-naive forecasts on a hand-made series, and season inference."""

import numpy as np
import pytest

from rnnlab.data.bundled import bundled_file
from rnnlab.tasks.forecast.baselines import infer_season, naive_forecast, seasonal_naive_forecast

Y = np.arange(10.0) * 10  # y[i] = 10 i: every value says which index it came from


def test_naive_repeats_the_last_value_before_each_window():
    # windows start at 3 and 7: last values before them are y[2] = 20 and y[6] = 60
    np.testing.assert_array_equal(naive_forecast(Y, np.array([3, 7]), 2), [[20, 20], [60, 60]])


def test_seasonal_naive_exact_values():
    # m = 3, H = 5, t = 4: index t + h - 3·ceil((h+1)/3) for h = 0..4 -> 1, 2, 3, 1, 2
    # t = 6: 3, 4, 5, 3, 4
    forecast = seasonal_naive_forecast(Y, np.array([4, 6]), 5, season=3)
    np.testing.assert_array_equal(forecast, [[10, 20, 30, 10, 20], [30, 40, 50, 30, 40]])


def test_seasonal_naive_never_reads_inside_the_window():
    y = np.arange(50.0)
    starts = np.arange(12, 40)
    forecast = seasonal_naive_forecast(y, starts, 13, season=12)  # y[i] = i, so values are indices
    assert (forecast < starts[:, None]).all() and (forecast >= starts[:, None] - 12).all()


def test_seasonal_naive_with_season_one_is_naive():
    starts = np.array([1, 5, 9])
    np.testing.assert_array_equal(seasonal_naive_forecast(Y, starts, 3, season=1), naive_forecast(Y, starts, 3))


def test_baselines_reject_windows_without_enough_history():
    with pytest.raises(ValueError, match=r"starts must lie in \[3, 10\].*from 2"):
        seasonal_naive_forecast(Y, np.array([2, 5]), 1, season=3)
    with pytest.raises(ValueError, match=r"starts must lie in \[1, 10\].*from 0"):
        naive_forecast(Y, np.array([0]), 1)
    with pytest.raises(ValueError, match="horizon.*0"):
        naive_forecast(Y, np.array([3]), 0)


def _airline_like(num_months: int = 144, seed: int = 0) -> np.ndarray:
    """Trend times a yearly cycle, plus noise: the shape of the airline passengers series."""
    months = np.arange(num_months)
    trend = 100 + 2.5 * months
    season = 1 + 0.2 * np.sin(2 * np.pi * months / 12) + 0.1 * np.cos(4 * np.pi * months / 12)
    return trend * season + np.random.default_rng(seed).normal(0, 3, num_months)


def test_infer_season_finds_twelve_in_an_airline_like_series():
    assert infer_season(_airline_like()) == 12
    assert infer_season(_airline_like(), max_lag=30) == 12  # 24 is also a candidate; 12 must win


def test_infer_season_on_the_bundled_airline_series():
    csv = bundled_file("airline")
    passengers = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=1)
    assert infer_season(passengers[:100]) == 12  # the training part alone is enough


def test_infer_season_is_one_without_a_season():
    noise = np.random.default_rng(0).normal(size=200)
    assert infer_season(noise) == 1
    assert infer_season(np.arange(50.0) * 3) == 1  # a pure trend: differences are constant


def test_infer_season_rejects_a_too_small_max_lag():
    with pytest.raises(ValueError, match="max_lag.*1"):
        infer_season(_airline_like(), max_lag=1)
