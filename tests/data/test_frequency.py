"""Tests for rnnlab.data.frequency: inferring a panel's frequency, future timestamps and calendar features."""

import numpy as np
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.frequency import calendar_feature_names, calendar_features, future_times
from rnnlab.data.panel import read_panel


def _csv(tmp_path, rows, header="unique_id,ds,y"):
    path = tmp_path / "panel.csv"
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


# --- inferring the frequency, and refusing irregular steps --------------------------------------

def test_integer_steps_must_step_evenly(tmp_path):
    panel = read_panel(_csv(tmp_path, ["a,10,1", "a,15,2", "b,0,3", "b,5,4"]))
    assert panel.freq is None and panel.step == 5
    with pytest.raises(DataError, match=r"series 'a' steps irregularly: 1 from 1 to 2, then 2 from 2 to 4"):
        read_panel(_csv(tmp_path, ["a,1,1", "a,2,2", "a,4,3"]))


def test_irregular_steps_name_the_series_and_both_steps(tmp_path):
    path = _csv(tmp_path, ["A,2020-01-01,1", "A,2020-01-02,1", "A,2020-01-04,1"])
    with pytest.raises(DataError, match=r"series 'A' steps irregularly: 1 day from 2020-01-01 to 2020-01-02, "
                                        r"then 2 days from 2020-01-02 to 2020-01-04"):
        read_panel(path)
    path = _csv(tmp_path, ["A,2020-01-01,1", "A,2020-02-01,1", "A,2020-04-01,1"])
    with pytest.raises(DataError, match=r"series 'A' steps irregularly: 1 month .* then 2 months from 2020-02-01"):
        read_panel(path)


def test_series_of_different_frequencies_are_refused(tmp_path):
    path = _csv(tmp_path, ["A,2020-01-01,1", "A,2020-02-01,1", "B,2020-01-01,1", "B,2020-01-02,1"])
    with pytest.raises(DataError, match=r"series 'B' steps by 1 day \(frequency 'D'\) but series 'A' by "
                                        r"1 month \(frequency 'MS'\); a panel has one frequency"):
        read_panel(path)


def test_short_business_day_series_join_a_business_day_panel(tmp_path):
    # "b" runs Monday to Wednesday: 1-day steps, consistent with "a"'s business days
    rows = ["a,2024-01-04,1", "a,2024-01-05,2", "a,2024-01-08,3", "b,2024-01-01,1", "b,2024-01-02,2", "b,2024-01-03,3"]
    assert read_panel(_csv(tmp_path, rows)).freq == "B"
    with pytest.raises(DataError, match=r"series 'b' steps by 1 day \(frequency 'D'\) but series 'a' by 1 business"):
        read_panel(_csv(tmp_path, rows[:3] + ["b,2024-01-06,1", "b,2024-01-07,2"]))   # b has a weekend


def test_a_frequency_needs_two_timestamps(tmp_path):
    with pytest.raises(DataError, match="no series has two timestamps"):
        read_panel(_csv(tmp_path, ["A,2020-01-01,1", "B,2020-01-01,1"]))


# --- frequencies and future timestamps, with pandas as the oracle -------------------------------

ALIASES = ["D", "2D", "h", "6h", "15min", "s", "ms", "W-SUN", "W-WED", "2W-SUN", "B", "MS", "ME", "2MS",
           "QS-JAN", "QS-FEB", "QS-MAR", "QE-DEC", "QE-NOV", "QE-OCT", "YS-JAN", "YS-JUL", "YE-DEC", "2YS-JAN"]


@pytest.mark.parametrize("alias", ALIASES)
def test_frequency_and_future_times_match_pandas(alias):
    pd = pytest.importorskip("pandas")
    first = pd.date_range("2019-11-29", periods=9, freq=alias)
    second = pd.date_range("2021-05-03", periods=4, freq=alias)   # another start, the same frequency
    frame = pd.DataFrame({"unique_id": ["a"] * 9 + ["b"] * 4, "ds": first.append(second), "y": 1.0})
    panel = read_panel(frame)
    assert panel.freq == alias
    following = pd.date_range(first[-1], periods=6, freq=alias)[1:]
    np.testing.assert_array_equal(future_times(panel.times[0][-1], panel.freq, 5), following.to_numpy())


@pytest.mark.parametrize("alias, dates", [
    ("ME", ["2020-01-31", "2020-02-29", "2020-03-31"]), ("QE-DEC", ["2020-03-31", "2020-06-30", "2020-09-30"]),
    ("QS-JAN", ["2020-04-01", "2020-07-01", "2020-10-01"]), ("YS-JAN", ["2019-01-01", "2020-01-01", "2021-01-01"]),
    ("W-SUN", ["2024-01-07", "2024-01-14", "2024-01-21"]), ("15min", ["2024-01-07 23:30", "2024-01-07 23:45",
                                                                      "2024-01-08 00:00"]),
])
def test_frequency_without_pandas(tmp_path, alias, dates):
    panel = read_panel(_csv(tmp_path, [f"a,{d},1" for d in dates]))
    assert panel.freq == alias
    np.testing.assert_array_equal(future_times(panel.times[0][-2], alias, 1), panel.times[0][-1:])


def test_future_times_of_integer_steps():
    np.testing.assert_array_equal(future_times(np.int64(7), None, 3), [8, 9, 10])
    np.testing.assert_array_equal(future_times(7, 5, 2), [12, 17])
    with pytest.raises(ValueError, match="horizon must be a positive integer; received 0"):
        future_times(7, None, 0)
    with pytest.raises(ValueError, match="freq must be a pandas frequency alias .*received 'fortnightly'"):
        future_times(np.datetime64("2020-01-01"), "fortnightly", 2)


# --- calendar features --------------------------------------------------------------------------

def test_monthly_features_start_at_the_series_first_month(tmp_path):
    panel = read_panel(_csv(tmp_path, ["A,2020-03-01,1", "B,2021-01-01,5", "A,2020-04-01,2", "B,2021-02-01,6",
                                       "A,2020-05-01,3"]))
    features = calendar_features(panel.times[0], panel.freq)       # March, April, May
    assert calendar_feature_names(panel.freq) == ("month_of_year_sin", "month_of_year_cos")
    months = np.array([2, 3, 4]) / 12                              # March is month index 2
    np.testing.assert_allclose(features, np.stack([np.sin(2 * np.pi * months), np.cos(2 * np.pi * months)], 1),
                               atol=1e-15)
    future = calendar_features(future_times(panel.times[0][-1], panel.freq, 1), panel.freq)
    np.testing.assert_allclose(future[0], [np.sin(2 * np.pi * 5 / 12), np.cos(2 * np.pi * 5 / 12)], atol=1e-15)


def test_features_follow_the_frequency():
    monday = np.array(["2024-01-01", "2024-01-02"], dtype="M8[us]")
    daily = calendar_features(monday, "D")
    assert calendar_feature_names("D") == ("day_of_week_sin", "day_of_week_cos", "day_of_year_sin", "day_of_year_cos")
    np.testing.assert_allclose(daily[0], [0.0, 1.0, 0.0, 1.0], atol=1e-15)   # Monday, 1 January
    np.testing.assert_allclose(daily[1, :2], [np.sin(2 * np.pi / 7), np.cos(2 * np.pi / 7)])
    np.testing.assert_allclose(daily[1, 2:], [np.sin(2 * np.pi / 366), np.cos(2 * np.pi / 366)])  # a leap year
    six = np.array(["2024-01-01T06:00"], dtype="M8[us]")
    np.testing.assert_allclose(calendar_features(six, "h")[0, :2], [1.0, 0.0], atol=1e-15)  # 6 h is a quarter day
    assert calendar_feature_names("h")[::2] == ("hour_of_day_sin", "day_of_week_sin")
    assert calendar_feature_names("QE-DEC") == ("quarter_of_year_sin", "quarter_of_year_cos")
    assert calendar_feature_names("W-SUN") == ("day_of_year_sin", "day_of_year_cos")
    assert calendar_feature_names("YS-JAN") == () and calendar_feature_names(None) == ()
    assert calendar_features(np.arange(4), None).shape == (4, 0)
    assert calendar_features(monday, "YE-DEC").shape == (2, 0)


@pytest.mark.parametrize("alias", ["0D", "00D", "000min"])
def test_a_frequency_of_no_step_is_refused(alias):
    with pytest.raises(ValueError, match=f"freq must be a pandas frequency alias .*received '{alias}'"):
        future_times(np.datetime64("2020-01-01"), alias, 3)
