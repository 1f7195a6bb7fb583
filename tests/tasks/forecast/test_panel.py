"""The global panel forecaster: windows and covariates, quantiles and intervals, the estimator, backtests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import rnnlab
from rnnlab.cli.main import main
from rnnlab.data.errors import DataError
from rnnlab.tasks.forecast.outputs import monotone_quantiles, pinball_loss
from rnnlab.tasks.forecast.panel import CategoryEmbedding, PanelModel, Windows, training_cuts
from rnnlab.tasks.forecast.panel_estimator import forecast_panel

TINY = dict(hidden_size=8, epochs=2, steps_per_epoch=3, batch_size=16)


def arrays(count=6, seed=0, low=20, high=40):
    rng = np.random.default_rng(seed)
    return [np.exp(rng.normal(2, 0.5)) * (1.5 + np.sin(np.arange(n) / 2)) for n in rng.integers(low, high, count)]


def frame(count=4, seed=0, promo=True):
    """A long DataFrame of monthly series of different lengths, with a promotion column."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(count):
        n = int(rng.integers(30, 45))
        flags = (rng.random(n) < 0.3).astype(float)
        y = np.exp(rng.normal(3, 0.5)) * (2 + np.sin(2 * np.pi * np.arange(n) / 12)) * (1 + 0.3 * flags)
        part = pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2017-01-01", periods=n, freq="MS"), "y": y})
        if promo:
            part["promo"] = flags
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def future_frame(df, horizon, value=0.0):
    rows = [pd.DataFrame({"unique_id": id, "ds": pd.date_range(g.ds.iloc[-1], periods=horizon + 1, freq="MS")[1:],
                          "promo": value}) for id, g in df.groupby("unique_id", sort=False)]
    return pd.concat(rows, ignore_index=True)


# --- the pieces ----------------------------------------------------------------------------------------

def test_quantiles_never_cross_and_keep_the_median():
    raw = torch.randn(64, 5, 7, generator=torch.Generator().manual_seed(0)) * 10
    quantiles = monotone_quantiles(raw, median=3)
    assert (quantiles.diff(dim=-1) >= 0).all()  # softplus may underflow to 0 in float32: ties, never a cross
    assert torch.equal(quantiles[..., 3], raw[..., 3])


def test_pinball_loss_by_hand():
    predicted = torch.tensor([[[1.0, 2.0, 3.0]]])  # (B=1, h=1, Q=3)
    target = torch.tensor([[2.5]])
    levels = torch.tensor([0.1, 0.5, 0.9])
    # errors 1.5, 0.5, -0.5 → 0.1·1.5, 0.5·0.5, (0.9 − 1)·(−0.5)
    assert pinball_loss(predicted, target, levels).item() == pytest.approx((0.15 + 0.25 + 0.05) / 3)


@pytest.mark.parametrize("log", [True, False])
def test_a_window_holds_the_values_before_its_end_and_targets_after(log):
    series = [np.arange(1.0, 11.0), np.arange(1.0, 5.0) * 10]  # lengths 10 and 4
    windows = Windows(series, window=6, horizon=2, season=1, log=log)
    cut = windows.cut(np.array([0, 1]), np.array([7, 2]))
    assert cut.level.tolist() == [7.0, 20.0]  # the last known value before each end (season 1)
    np.testing.assert_allclose(windows.from_z(cut.values[0, :, 0], cut.level[0]), [2, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(windows.from_z(cut.targets[0], cut.level[0]), [8, 9])  # the future, never an input
    assert cut.values[1, :, 1].tolist() == [0, 0, 0, 0, 1, 1]  # before the series' start: not known
    np.testing.assert_allclose(windows.from_z(cut.values[1, -2:, 0], cut.level[1]), [10, 20])
    assert (cut.values[1, :4, 0] == 0).all()
    np.testing.assert_allclose(windows.from_z(cut.targets[1], cut.level[1]), [30, 40])


@pytest.mark.parametrize("log", [True, False])
def test_the_level_normalisation_inverts_exactly(log):
    rng = np.random.default_rng(3)
    values, level = np.exp(rng.normal(size=(50, 7)) * 3), np.exp(rng.normal(size=(50, 1)) * 3)
    windows = Windows([np.ones(5)], 3, 1, 1, log)
    # to rounding: y / level − 1 cancels digits where y ≪ level (values span e^±9 here)
    np.testing.assert_allclose(windows.from_z(windows.to_z(values, level), level), values, rtol=1e-10)


@pytest.mark.parametrize("log", [True, False])
def test_spread_scaling_divides_each_window_by_its_step_size_and_inverts_exactly(log):
    rng = np.random.default_rng(4)
    quiet, loud = 100 + rng.normal(0, 0.5, 40), 100 + rng.normal(0, 20, 40)
    flat = np.full(40, 7.0)
    plain = Windows([quiet, loud, flat], window=12, horizon=3, season=1, log=log)
    scaled = Windows([quiet, loud, flat], window=12, horizon=3, season=1, log=log, spread=True)
    rows, ends = np.array([0, 1, 2]), np.array([30, 30, 30])
    a, b = plain.cut(rows, ends), scaled.cut(rows, ends)
    z = a.values[..., 0]
    np.testing.assert_allclose(b.spread[:2], np.abs(np.diff(z[:2], axis=1)).mean(axis=1), rtol=1e-12)
    assert b.spread[2] == Windows.SPREAD_FLOOR  # a constant window: no step, the floor, not a division by 0
    np.testing.assert_allclose(b.values[..., 0] * b.spread[:, None], z, rtol=1e-12, atol=1e-15)
    steps = np.abs(np.diff(b.values[:2, :, 0], axis=1)).mean(axis=1)
    np.testing.assert_allclose(steps, 1.0, rtol=1e-12)  # quiet and loud reach the network at one scale
    np.testing.assert_allclose(scaled.from_z(b.targets, b.level[:, None], b.spread[:, None]),
                               np.stack([s[30:33] for s in (quiet, loud, flat)]), rtol=1e-10)
    assert a.spread is None and (b.values[..., 1] == a.values[..., 1]).all()  # the known mask is untouched


def test_spread_scaling_trains_and_forecasts_and_refuses_counts():
    fitted = rnnlab.PanelForecaster(horizon=3, spread=True, **TINY).fit(arrays(count=4))
    quantiles = fitted.predict_quantiles(arrays(count=4))
    assert np.isfinite(quantiles).all() and (np.diff(quantiles, axis=-1) >= 0).all()
    with pytest.raises(ValueError, match=r"spread scaling would change; received spread=True"):
        rnnlab.PanelForecaster(horizon=3, spread=True, likelihood="negative_binomial", **TINY).fit(arrays())


def test_covariates_sit_at_their_steps_in_the_window_and_the_horizon():
    series = [np.arange(1.0, 9.0)]                      # 8 values
    past = [np.arange(100.0, 108.0)[:, None]]           # known up to now
    future = [np.arange(200.0, 211.0)[:, None]]         # 8 steps and 3 beyond the end
    windows = Windows(series, window=4, horizon=3, season=1, log=False, past=past, future=future)
    assert windows.past_features == 4 and windows.future_features == 1
    cut = windows.cut(np.array([0]), np.array([6]))     # reads values 2..5, forecasts 6..8
    assert cut.values[0, :, 2].tolist() == [102, 103, 104, 105]
    assert cut.values[0, :, 3].tolist() == [202, 203, 204, 205]
    assert cut.future[0, :, 0].tolist() == [206, 207, 208]
    end = windows.cut(np.array([0]), np.array([8]), with_targets=False)  # the forecast past the end
    assert end.future[0, :, 0].tolist() == [208, 209, 210]


def test_one_table_embeds_every_static_column_at_its_own_offset():
    embedding = CategoryEmbedding((2, 3), dim=4)
    categories = torch.tensor([[1, 0], [0, 2]])
    table = embedding.table.weight
    expected = torch.cat([table[categories[:, 0]], table[2 + categories[:, 1]]], dim=1)  # column 1 after column 0's 2
    torch.testing.assert_close(embedding(categories), expected, rtol=0, atol=0)
    assert embedding.width == 8 and "offsets" not in embedding.state_dict()  # derived from sizes, not saved
    with pytest.raises(ValueError, match=r"categories must have shape \(B, 2\); received \(2, 1\)"):
        embedding(categories[:, :1])


def test_training_windows_never_reach_the_held_out_horizon():
    lengths, horizon = np.array([30, 12, 9]), 4
    first_end, last_end, rows, validate = training_cuts(lengths, horizon, min_known=3)
    assert validate and rows.tolist() == [0, 1]  # 9 − 8 = 1 < 3: the shortest trains on no window
    for row in rows:
        assert last_end[row] + horizon <= lengths[row] - horizon  # targets end before the validation horizon
    first_end, last_end, rows, validate = training_cuts(np.array([9, 8]), 4, min_known=3)
    assert not validate and (last_end + 4 <= np.array([9, 8])).all() and rows.tolist() == [0, 1]


# --- the estimator -------------------------------------------------------------------------------------

def test_fit_a_long_dataframe_and_forecast_each_series_by_its_own_timestamps():
    df = frame()
    fitted = rnnlab.PanelForecaster(horizon=5, **TINY).fit(df, future_covariates="promo")
    metrics = fitted.test_metrics_
    assert set(metrics) == {"model", "naive", "seasonal_naive"} and 0 <= metrics["model"]["coverage_90"] <= 1
    forecast = fitted.predict(future=future_frame(df, 5))
    assert list(forecast.columns) == ["unique_id", "ds", "forecast", "q0.05", "q0.1", "q0.25", "q0.5", "q0.75",
                                      "q0.9", "q0.95"]
    for id, group in df.groupby("unique_id"):
        ours = forecast[forecast.unique_id == id]
        expected = pd.date_range(group.ds.iloc[-1], periods=6, freq="MS")[1:]
        assert list(ours.ds) == list(expected)
    quantiles = forecast.filter(regex="^q").to_numpy()
    assert (np.diff(quantiles, axis=1) >= 0).all() and (quantiles > 0).all()
    np.testing.assert_array_equal(forecast.forecast, forecast["q0.5"])


def test_future_covariates_are_aligned_by_timestamp_not_by_row():
    df = frame(count=3)
    fitted = rnnlab.PanelForecaster(horizon=4, **TINY).fit(df, future_covariates=["promo"])
    future = future_frame(df, 4)
    future["promo"] = np.arange(len(future)) % 2
    ordered = fitted.predict(future=future)
    last = future.groupby("unique_id").tail(1)
    extra = last.assign(ds=last.ds + pd.offsets.MonthBegin(1))  # a month after the horizon: no forecast reads it
    interleaved = pd.concat([future, extra]).sort_values(["ds", "unique_id"], kind="stable")  # series mixed
    assert (interleaved.unique_id != interleaved.unique_id.shift()).sum() > 3  # not one block per series
    pd.testing.assert_frame_equal(fitted.predict(future=interleaved), ordered)
    changed = future.assign(promo=1 - future.promo)
    assert not np.allclose(fitted.predict(future=changed).forecast, ordered.forecast)  # the covariate is read
    with pytest.raises(DataError, match=r"series 's1' lacks its future covariates \['promo'\] for 20"):
        fitted.predict(future=future.drop(index=future.index[future.unique_id == "s1"][-1]))
    with pytest.raises(DataError, match=r"series 's0' needs its future covariates \['promo'\] for the 4 steps"):
        fitted.predict()


def test_arrays_a_loaded_run_and_the_m3_entry_point_forecast_alike(tmp_path):
    train = arrays()
    fitted = rnnlab.PanelForecaster(horizon=3, season=4, holdout=False, **TINY).fit(train)
    median = fitted.predict(train)
    assert median.shape == (6, 3) and np.isfinite(median).all()
    np.testing.assert_array_equal(forecast_panel(train, 3, 4, seed=0, **TINY), median)  # seeded: the same model
    quantiles = fitted.predict_quantiles(train, levels=(0.1, 0.5, 0.9))
    np.testing.assert_allclose(quantiles[..., 1], median, rtol=1e-12)
    assert fitted.evaluate(train)["span"] == "validation"  # without holdout nothing is held out: said so
    loaded = rnnlab.PanelForecaster.load(fitted.save(tmp_path / "run"))
    np.testing.assert_array_equal(loaded.predict(train), median)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_a_static_category_is_learnt_calm_series_get_narrower_intervals_than_wild_ones(decoder):
    """Series alike but for their noise, which their static category tells: the same history
    labelled "wild" must get a much wider 90% interval than labelled "calm" (truth: 15× wider;
    6 s of training reach about 3×, both decoders, seeds 0-2)."""
    rng = np.random.default_rng(0)
    parts = []
    for k in range(8):
        kind = "calm" if k % 2 else "wild"
        y = 50 * np.exp(rng.normal(0, 0.02 if kind == "calm" else 0.3, 80))
        parts.append(pd.DataFrame({"unique_id": f"s{k}", "ds": np.arange(80), "y": y, "kind": kind}))
    df = pd.concat(parts, ignore_index=True)
    fitted = rnnlab.PanelForecaster(horizon=3, hidden_size=8, epochs=15, steps_per_epoch=20, batch_size=32, patience=0,
                                    calendar=False, decoder=decoder).fit(df, static_covariates="kind")
    assert fitted.task_.categories == {"kind": ["calm", "wild"]}
    one = df[df.unique_id == "s0"]

    def width(kind):
        forecast = fitted.predict(one.assign(kind=kind))
        return float((forecast["q0.95"] - forecast["q0.05"]).mean())
    assert width("wild") > 2 * width("calm")
    with pytest.raises(DataError, match=r"series 's0' has kind 'stormy', a category the run never saw; it knows "
                                        r"\['calm', 'wild'\]"):
        fitted.predict(one.assign(kind="stormy"))


def test_without_holdout_a_series_too_short_to_train_on_is_still_forecast():
    """As M1's quarterly series of 10 values with h = 8: min_known values suffice to forecast a
    series; it trains and is validated on no window, and the others are."""
    train = arrays(count=4) + [np.array([30.0, 31.0, 29.0, 33.0])]
    fitted = rnnlab.PanelForecaster(horizon=3, holdout=False, **TINY).fit(train)
    forecast = fitted.predict(train)
    assert forecast.shape == (5, 3) and np.isfinite(forecast).all()
    assert fitted.evaluate(train)["series"] == 4  # validation: the series with a horizon and min_known before it
    with pytest.raises(DataError, match=r"series '4' has 2 values; min_known \(3\) needs at least 3"):
        fitted.predict(train[:4] + [train[4][:2]])
    with pytest.raises(DataError, match=r"no series is long enough to train on: a training window needs min_known "
                                        r"\+ horizon \(3 \+ 3\) values; the longest, '0', has 5"):
        rnnlab.PanelForecaster(horizon=3, holdout=False, **TINY).fit([np.arange(1.0, 6.0), np.arange(1.0, 5.0)])


def test_series_below_zero_are_forecast_in_linear_units_and_log_refuses_them():
    train = [values - 40 for values in arrays()]
    fitted = rnnlab.PanelForecaster(horizon=3, **TINY).fit(train)
    assert not fitted.task_.log and np.isfinite(fitted.predict(train)).all()
    with pytest.raises(DataError, match=r"transform='log' needs every value > 0; series '0' has values <= 0"):
        rnnlab.PanelForecaster(horizon=3, transform="log", **TINY).fit(train)


@pytest.mark.parametrize("likelihood", ["gaussian", "student_t", "negative_binomial"])
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_every_likelihood_and_decoder_trains_forecasts_and_samples_paths(likelihood, decoder):
    series = [np.round(values) for values in arrays(count=4)]  # counts, for the negative binomial
    fitted = rnnlab.PanelForecaster(horizon=3, likelihood=likelihood, decoder=decoder, ensemble=2, **TINY).fit(series)
    assert len(fitted.network_.members) == 2
    quantiles = fitted.predict_quantiles(series)
    assert quantiles.shape == (4, 3, 7) and np.isfinite(quantiles).all() and (np.diff(quantiles, axis=-1) >= 0).all()
    paths = fitted.sample(series, n=5, seed=1)
    assert paths.shape == (5, 4, 3) and np.isfinite(paths).all()
    np.testing.assert_array_equal(paths, fitted.sample(series, n=5, seed=1))
    if likelihood == "negative_binomial":
        assert (paths >= 0).all() and np.allclose(paths, np.round(paths))


def test_an_ensemble_forecasts_the_median_of_its_members_quantiles():
    series = arrays(count=4)
    fitted = rnnlab.PanelForecaster(horizon=3, ensemble=3, **TINY).fit(series)
    model, task = fitted.network_, fitted.task_
    assert len(model.members) == 3
    panel = task.read(series)
    windows = task.windows(panel, panel.lengths())
    each = [task.quantiles(PanelModel([member], model.output), windows, task.static(panel)) for member in model.members]
    np.testing.assert_allclose(fitted.predict_quantiles(series), np.median(np.stack(each), axis=0), rtol=1e-6)


def test_a_90_percent_interval_covers_about_90_percent_of_a_gaussian_series():
    """Noise of known spread around a level: the 5% and 95% quantiles must enclose 85–95% of new points.

    (1,200 points; over four seeds of data and model the coverage was 0.913 to 0.923.)"""
    rng = np.random.default_rng(1)
    levels = np.exp(rng.normal(3, 0.3, 200))
    series = [level * np.exp(0.1 * rng.standard_normal(60)) for level in levels]
    fitted = rnnlab.PanelForecaster(horizon=6, hidden_size=16, epochs=10, steps_per_epoch=20, batch_size=128,
                                    window=12, patience=8).fit(series)
    coverage = fitted.test_metrics_["model"]["coverage_90"]  # the last 6 of each series, held out
    assert 0.85 <= coverage <= 0.95, coverage


# --- bad input: one error naming the series and the value, nothing written ----------------------------

BAD_TABLES = {
    "duplicate": ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-01,2\n", "series 'a': timestamp 2020-01-01 appears twice"),
    "unsorted": ("unique_id,ds,y\na,2020-02-01,1\na,2020-01-01,2\n", "series 'a': timestamps are not in time order"),
    "irregular": ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,2\na,2020-01-05,3\n", "series 'a' steps irregularly"),
    "non-numeric": ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,x\n", "series 'a': column 'y' has non-numeric "
                                                                       "value 'x' at line 3"),
    "too short": ("unique_id,ds,y\n" + "".join(f"a,{2000 + k}-01-01,{k + 1}\n" for k in range(30))
                  + "".join(f"b,{2000 + k}-01-01,{k + 1}\n" for k in range(5)), "series 'b' has 5 values"),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_a_bad_table_is_one_error_naming_the_series_and_nothing_is_written(case, tmp_path, capsys):
    content, expected = BAD_TABLES[case]
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=expected):
        rnnlab.PanelForecaster(horizon=3, **TINY).fit(str(path))
    for argv in (["train", "forecast-panel"], ["backtest"]):
        assert main([*argv, "--data", str(path), "--horizon", "3", "--out", str(tmp_path / "out")]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and expected in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


# --- backtests -----------------------------------------------------------------------------------------

def window_forecasts(result, window):
    table = result.to_frame()
    return table[table.window == window].forecast.to_numpy()


@pytest.mark.parametrize("refit", [True, False])
def test_backtest_windows_never_see_their_future(refit):
    """Window k forecasts the h values after its origin from the values before it: changing any value
    at or after the origin leaves its forecast as it was, while a change before it does not."""
    horizon, series = 3, arrays(count=4, low=30, high=36)
    settings = dict(horizon=horizon, **TINY)

    def run(data):
        return rnnlab.PanelForecaster(**settings).backtest(data, windows=2, refit=refit)

    base = run(series)
    assert [w["window"] for w in base.windows] == [0, 1] and len(base.rows) == 2 * 4 * horizon
    last_only = [np.concatenate([s[:-horizon], 10 * s[-horizon:]]) for s in series]  # window 1's targets
    changed = run(last_only)
    np.testing.assert_array_equal(window_forecasts(changed, 0), window_forecasts(base, 0))
    np.testing.assert_array_equal(window_forecasts(changed, 1), window_forecasts(base, 1))
    assert not np.allclose(changed.to_frame().y, base.to_frame().y)  # the actual values did change
    earlier = [np.concatenate([s[:-2 * horizon], 10 * s[-2 * horizon:]]) for s in series]  # window 0's targets on
    moved = run(earlier)
    np.testing.assert_array_equal(window_forecasts(moved, 0), window_forecasts(base, 0))
    assert not np.allclose(window_forecasts(moved, 1), window_forecasts(base, 1))  # window 1 reads them


def test_rnnlab_backtest_writes_its_tables_and_refuses_bad_options(build, tmp_path, capsys):
    data = build.panel_csv(tmp_path / "items.csv")
    out = tmp_path / "bt"
    argv = ["backtest", "--data", str(data), "--horizon", "3", "--windows", "2", "--epochs", "1",
            "--hidden-size", "4", "--steps-per-epoch", "2", "--batch-size", "8", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "backtest.json").read_text())
    assert saved["metrics"] == metrics and len(saved["windows"]) == 2
    table = pd.read_csv(out / "backtest.csv")
    assert set(table.window) == {0, 1} and len(table) == 2 * 5 * 3
    assert main([*argv[:-3], "--windows", "0", "--out", str(tmp_path / "none")]) == 2
    assert "windows must be a positive integer; received 0" in capsys.readouterr().err
    assert not (tmp_path / "none").exists() and not (tmp_path / "none.partial").exists()


def test_rnnlab_predict_reads_the_future_covariates_from_a_file(build, tmp_path, capsys):
    data = build.panel_csv(tmp_path / "items.csv")
    run = tmp_path / "run"
    assert main(["train", "forecast-panel", "--data", str(data), "--future-covariates", "promo", "--horizon", "2",
                 "--epochs", "1", "--hidden-size", "4", "--steps-per-epoch", "2", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--data", str(data)]) == 2
    assert "needs its future covariates ['promo']" in capsys.readouterr().err
    table = pd.read_csv(data)
    future = future_frame(table.assign(ds=pd.to_datetime(table.ds)), 2)
    future.to_csv(tmp_path / "future.csv", index=False)
    assert main(["predict", str(run), "--data", str(data), "--future", str(tmp_path / "future.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 * 2 and lines[0].split("\t")[:2] == ["item 0", future.ds.iloc[0].strftime("%Y-%m-%d")]
