"""rnnlab.Forecaster from Python: pandas and numpy in, forecasts out in the series' own terms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnlab
from rnnlab.data.errors import DataError
from rnnlab.data.series import load_series

TINY = dict(epochs=2, hidden_size=8, window=6)


def monthly(n: int = 96, start: str = "1990-01") -> pd.Series:
    index = pd.date_range(start, periods=n, freq="MS")
    t = np.arange(n)
    return pd.Series(100 + t + 10 * np.sin(2 * np.pi * t / 12), index=index, name="sales")


def test_a_monthly_pandas_series_is_forecast_as_a_frame_indexed_by_the_next_months():
    series = monthly()
    forecaster = rnnlab.Forecaster(**TINY, horizon=3).fit(series)
    forecast = forecaster.predict()
    assert isinstance(forecast, pd.DataFrame) and list(forecast.columns) == ["sales"]
    assert list(forecast.index) == list(pd.date_range("1998-01-01", periods=3, freq="MS"))
    assert np.isfinite(forecast["sales"]).all()
    assert forecaster.forecast_times() == ["1998-01-01", "1998-02-01", "1998-03-01"]


def test_a_dataframe_array_and_csv_of_the_same_series_give_the_same_fit(tmp_path):
    series = monthly()
    path = tmp_path / "sales.csv"
    pd.DataFrame({"month": series.index.strftime("%Y-%m"), "sales": series.to_numpy()}).to_csv(path, index=False)
    fits = [rnnlab.Forecaster(**TINY).fit(data, target=target) for data, target in
            ((series.to_frame(), "sales"), (series.to_numpy(), None), (str(path), "sales"))]
    assert fits[0].test_metrics_ == fits[1].test_metrics_ == fits[2].test_metrics_
    from_array, from_frame = fits[1].predict(), fits[0].predict()
    assert isinstance(from_array, np.ndarray) and from_array.shape == (1,)  # an array in, an array out
    np.testing.assert_allclose(from_frame["sales"].to_numpy(), from_array)
    assert fits[2].predict(as_frame=True).index[0] == pd.Timestamp("1998-01-01")  # the CSV's months continued


def test_predict_continues_new_data_and_checks_its_columns():
    frame = pd.DataFrame({"sales": monthly().to_numpy(), "price": np.linspace(1, 2, 96)},
                         index=pd.period_range("1990-01", periods=96, freq="M"))
    forecaster = rnnlab.Forecaster(**TINY, horizon=2).fit(frame, target="sales")
    later = forecaster.predict(frame.iloc[:60])
    assert list(later.index) == list(pd.period_range("1995-01", periods=2, freq="M"))
    with pytest.raises(DataError, match=r"columns \['sales'\]; the run was trained on \['sales', 'price'\]"):
        forecaster.predict(frame[["sales"]])


def test_validation_data_replaces_the_validation_span():
    series = monthly(120)
    own = rnnlab.Forecaster(**TINY).fit(series.iloc[:96])
    given = rnnlab.Forecaster(**TINY).fit(series.iloc[:96], validation_data=series.iloc[84:])
    assert all(record["val_loss"] is not None for record in given.history_)
    assert [r["val_loss"] for r in own.history_] != [r["val_loss"] for r in given.history_]
    # without a validation span carved out, the training windows are more: the test span is the same
    assert given.evaluate()["test_windows"] == own.evaluate()["test_windows"]


def test_missing_values_need_fill_and_are_named_by_row():
    series = monthly()
    series.iloc[10] = np.nan
    with pytest.raises(DataError, match="'sales' has 1 missing cells \\(first at row 10\\)"):
        rnnlab.Forecaster(**TINY).fit(series)
    assert rnnlab.Forecaster(**TINY).fit(series, fill="interpolate").test_metrics_["model"]["mase"] > 0


@pytest.mark.parametrize("data, argument, message", [
    (np.zeros((80, 3)), {}, "target is required for an array of 3 columns"),
    (np.zeros((4, 4, 4)), {}, r"shape \(N,\) or \(N, C\); received shape \(4, 4, 4\)"),
    (pd.DataFrame({"a": np.arange(80.0), "b": np.arange(80.0)}), {}, "target is required for a DataFrame"),
    ([1.0, 2.0, float("inf")] * 30, {}, "infinite value at row 2"),
    ({"sales": [1, 2]}, {}, "data must be a CSV file.*received dict"),
])
def test_bad_data_in_memory_names_the_argument(data, argument, message):
    with pytest.raises((ValueError, TypeError), match=message):
        rnnlab.Forecaster(**TINY).fit(data, **argument)


def test_a_series_too_short_for_the_window_says_so_in_those_terms():
    # (it used to fail inside the season's inference: "max_lag must be an integer >= 2; received 1")
    with pytest.raises(DataError, match=r"has 4 points, too few for window=12 and horizon=1: its train span"):
        rnnlab.Forecaster(epochs=1).fit(np.arange(1.0, 5.0))
    with pytest.raises(DataError, match=r"has 30 points, too few for window=12 and horizon=6: its val span"):
        rnnlab.Forecaster(epochs=1, horizon=6).fit(np.arange(1.0, 31.0))


def test_a_run_fitted_in_memory_saves_loads_and_asks_for_its_data(tmp_path):
    series = monthly()
    forecaster = rnnlab.Forecaster(**TINY).fit(series)
    assert forecaster.command_line().startswith("rnnlab.Forecaster(hidden_size=8, epochs=2, window=6).fit(")
    loaded = rnnlab.Forecaster.load(forecaster.save(tmp_path / "run"))
    assert loaded.evaluate(series)["metrics"] == forecaster.test_metrics_
    with pytest.raises(ValueError, match="fitted on in-memory data.*pass the data"):
        loaded.evaluate()
    np.testing.assert_allclose(loaded.predict(series).to_numpy(), forecaster.predict().to_numpy())


def test_a_bundled_series_by_name_matches_reading_it():
    forecaster = rnnlab.Forecaster(**TINY).fit("airline")
    assert forecaster.task_.target == load_series("airline").target == "passengers"
    assert forecaster.forecast_times() == ["1961-01"]
    assert forecaster.command_line() == "rnnlab train forecast --hidden-size 8 --epochs 2 --window 6"


def test_the_probe_is_the_trainer_s_loss_on_the_first_test_windows():
    import torch

    from rnnlab.data.windows import batches
    from rnnlab.train import Trainer, TrainerOptions

    forecaster = rnnlab.Forecaster(**TINY).fit("airline")
    probe = forecaster.probe(7)
    test = forecaster.task_.own_data().windows["test"]
    # in batches of 3: the trainer's sample-weighted mean over them is the mean over all 7 windows
    trainer = Trainer(forecaster.network_, torch.nn.functional.mse_loss, TrainerOptions(), quiet=True)
    expected = trainer.evaluate(batches(test.inputs[:7], test.targets[:7], 3, shuffle=False))
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_a_pandas_series_without_timestamps_is_forecast_by_position():
    series = pd.Series(monthly().to_numpy(), name="sales")  # a RangeIndex: positions, no times
    forecast = rnnlab.Forecaster(**TINY, horizon=2).fit(series).predict()
    assert list(forecast.index) == [96, 97]
