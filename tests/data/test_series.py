"""Tests for rnnlab.data.series (CSV reading, filling, splits) and rnnlab.data.scaling."""

import json

import numpy as np
import pytest
import torch

from rnnlab.data import DataError, Scaler, Series, load_series, read_csv, time_split


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- reading ------------------------------------------------------------------------------------

def test_univariate_with_auto_time_column(tmp_path):
    path = _write(tmp_path, "Date,sales\n2020-01,1.5\n2020-02,2\n2020-03,-3e1\n")
    series = read_csv(path, "sales")
    assert series.columns == ("sales",)
    assert series.times == ("2020-01", "2020-02", "2020-03")
    assert series.values.dtype == np.float64 and series.values.shape == (3, 1)
    np.testing.assert_array_equal(series.values[:, 0], [1.5, 2.0, -30.0])
    assert len(series) == 3 and series.target_index == 0


@pytest.mark.parametrize("name", ["date", "TIME", "Datetime", "timestamp", "month", "year", "ds",
                                  "period"])
def test_auto_detects_each_time_column_name(tmp_path, name):
    series = read_csv(_write(tmp_path, f"y,{name}\n1,a\n2,b\n"), "y")
    assert series.times == ("a", "b") and series.columns == ("y",)


def test_no_time_column(tmp_path):
    path = _write(tmp_path, "x,y\n1,2\n3,4\n")
    series = read_csv(path, "y")
    assert series.times is None and series.columns == ("x", "y") and series.target_index == 1
    # time_column=None keeps a numeric "year" column as data.
    series = read_csv(_write(tmp_path, "year,y\n2000,1\n2001,2\n", "y.csv"), "y", time_column=None)
    assert series.columns == ("year", "y") and series.times is None


def test_named_time_column(tmp_path):
    series = read_csv(_write(tmp_path, "when,y\nmon,1\ntue,2\n"), "y", time_column="when")
    assert series.times == ("mon", "tue") and series.columns == ("y",)


def test_multivariate_with_selected_columns(tmp_path):
    path = _write(tmp_path, "date,a,b,c,note\nd1,1,10,100,x\nd2,2,20,200,y\n")
    series = read_csv(path, "b", columns=["c", "a"])
    assert series.columns == ("c", "a", "b")                            # target added last
    assert series.target_index == 2
    np.testing.assert_array_equal(series.values, [[100, 1, 10], [200, 2, 20]])


def test_blank_lines_are_skipped(tmp_path):
    series = read_csv(_write(tmp_path, "y\n1\n\n2\n\n"), "y")
    np.testing.assert_array_equal(series.values[:, 0], [1, 2])


# --- errors: one line, naming the thing and the value -------------------------------------------

def _error(path, *args, **kwargs) -> str:
    with pytest.raises(DataError) as error:
        read_csv(path, *args, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    assert _error(path, "y") == f"data file not found: {path}"


def test_empty_file_and_header_only(tmp_path):
    assert "file is empty" in _error(_write(tmp_path, ""), "y")
    assert "no data rows after the header ['y']" in _error(_write(tmp_path, "y\n", "h.csv"), "y")


def test_missing_column_lists_available(tmp_path):
    path = _write(tmp_path, "date,a,b\nx,1,2\n")
    message = _error(path, "temp")
    assert message == f"{path}: column 'temp' not found; columns are ['date', 'a', 'b']"
    assert "column 'zz' not found" in _error(path, "a", columns=["zz"])
    assert "time column 'when' not found" in _error(path, "a", time_column="when")


def test_text_in_numeric_column_names_column_line_and_text(tmp_path):
    path = _write(tmp_path, "date,y\nd1,1\nd2,2\nd3,abc\n")
    assert _error(path, "y") == (f"{path}: column 'y' has non-numeric text 'abc' at line 4 "
                                 "(line 1 is the header)")


def test_text_column_included_by_default(tmp_path):
    path = _write(tmp_path, "date,y,weather\nd1,1,sun\n")
    assert "column 'weather' has non-numeric text 'sun' at line 2" in _error(path, "y")
    assert read_csv(path, "y", columns=["y"]).columns == ("y",)          # the way around it


@pytest.mark.parametrize("text", ["inf", "-Infinity"])
def test_infinite_value_is_rejected(tmp_path, text):
    path = _write(tmp_path, f"y\n1\n{text}\n")
    assert _error(path, "y") == (f"{path}: column 'y' has non-finite value {text!r} at line 3 "
                                 "(line 1 is the header)")


def test_missing_cells_without_fill(tmp_path):
    path = _write(tmp_path, "date,y\nd1,1\nd2,\nd3,NaN\nd4,4\n")
    assert _error(path, "y") == (f"{path}: column 'y' has 2 missing cells (first at line 3); "
                                 "use fill='ffill', 'interpolate' or 'zero' to fill them")


def test_all_missing_column_even_with_fill(tmp_path):
    path = _write(tmp_path, "y,x\n1,\n2,NA\n")
    assert _error(path, "y", fill="ffill") == f"{path}: column 'x' has no values (all 2 cells missing)"


def test_unknown_fill(tmp_path):
    message = _error(_write(tmp_path, "y\n1\n"), "y", fill="mean")
    assert message == "fill must be one of [None, 'ffill', 'interpolate', 'zero']; received 'mean'"


def test_ragged_row(tmp_path):
    path = _write(tmp_path, "a,y\n1,2\n3\n")
    assert _error(path, "y") == f"{path}: line 3 has 1 fields; the header has 2"


def test_target_is_time_column(tmp_path):
    assert "target 'year' is the time column" in _error(_write(tmp_path, "year,y\n1,2\n"), "year")


# --- fill ---------------------------------------------------------------------------------------

_GAPPY = "y\nnan\n1\nnan\nnan\n4\nnan\n"


@pytest.mark.parametrize("fill, expected", [
    ("ffill", [1, 1, 1, 1, 4, 4]),             # leading gap back-filled from the first value
    ("interpolate", [1, 1, 2, 3, 4, 4]),       # straight line inside, ends held
    ("zero", [0, 1, 0, 0, 4, 0]),
])
def test_fill_modes(tmp_path, fill, expected):
    series = read_csv(_write(tmp_path, _GAPPY), "y", fill=fill)
    np.testing.assert_array_equal(series.values[:, 0], expected)


def test_fill_leaves_complete_columns_untouched(tmp_path):
    series = read_csv(_write(tmp_path, "x,y\n5,1\n6,\n7,3\n"), "y", fill="zero")
    np.testing.assert_array_equal(series.values, [[5, 1], [6, 0], [7, 3]])


# --- load_series --------------------------------------------------------------------------------

def test_load_series_path_requires_target(tmp_path):
    path = _write(tmp_path, "y\n1\n")
    with pytest.raises(ValueError, match="target is required when loading a file; received None"):
        load_series(path)
    assert load_series(path, "y").values.tolist() == [[1.0]]


def test_load_series_unknown_name():
    with pytest.raises(DataError, match=r"'no_such_set' is neither a bundled data set \['airline'"):
        load_series("no_such_set")


def test_load_series_bundled_defaults_and_overrides():
    # fill=None (as forwarded from a config) still means co2's documented default, interpolate.
    interpolated = load_series("co2", fill=None).values[:, 0]
    np.testing.assert_array_equal(load_series("co2").values[:, 0], interpolated)
    zeros = load_series("co2", fill="zero").values[:, 0]
    assert (zeros == 0).sum() == 59 and (interpolated == 0).sum() == 0
    assert load_series("seattle_weather", "wind").target == "wind"


def test_bundled_file_read_without_fill_shows_the_gaps():
    from rnnlab.data.bundled import bundled_file
    with pytest.raises(DataError, match="column 'co2' has 59 missing cells .first at line 8."):
        read_csv(bundled_file("co2"), "co2")


# --- Series -------------------------------------------------------------------------------------

def test_series_validates_shape_and_target():
    with pytest.raises(ValueError, match=r"values must have shape \(N, 2\)"):
        Series(values=np.zeros((3, 1)), columns=("a", "b"), target="a")
    with pytest.raises(ValueError, match="target must be one of \\['a'\\]; received 'b'"):
        Series(values=np.zeros((3, 1)), columns=("a",), target="b")


# --- time_split ---------------------------------------------------------------------------------

def test_time_split_defaults_and_test_size():
    assert time_split(100) == (70, 85, 100)
    assert time_split(144) == (102, 123, 144)                          # floor(21.6) = 21 each
    assert time_split(100, val_fraction=0.1, test_size=5) == (85, 95, 100)
    assert time_split(10, val_fraction=0.0, test_fraction=0.0) == (10, 10, 10)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"val_fraction": -0.1}, r"val_fraction must be in \[0, 1\); received -0.1"),
    ({"test_fraction": 1.0}, r"test_fraction must be in \[0, 1\); received 1.0"),
    ({"test_size": 100}, r"test_size must be an integer in \[0, n=100\); received 100"),
    ({"val_fraction": 0.6, "test_fraction": 0.5}, r"leave no training step out of n=100"),
])
def test_time_split_rejects_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        time_split(100, **kwargs)


def test_time_split_rejects_bad_n():
    with pytest.raises(ValueError, match="n must be a positive integer; received 0"):
        time_split(0)


# --- Scaler -------------------------------------------------------------------------------------

def _series_values():
    steps = np.arange(20.0)
    return np.stack([steps, 2 * steps + 1, np.full(20, 7.0)], axis=1)  # (20, 3), last constant


def test_scaler_fits_on_train_span_only():
    values = _series_values()
    bounds = time_split(len(values))
    scaler = Scaler.fit(values[:bounds.train_end], target_index=1)
    np.testing.assert_allclose(scaler.mean, values[:bounds.train_end].mean(axis=0))
    assert not np.allclose(scaler.mean, values.mean(axis=0))            # not the whole series
    np.testing.assert_allclose(scaler.std[:2], values[:bounds.train_end, :2].std(axis=0))
    assert scaler.std[2] == 1.0                                          # constant column guarded
    scaled = scaler.transform(values[:bounds.train_end])
    np.testing.assert_allclose(scaled[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled[:, :2].std(axis=0), 1.0)
    np.testing.assert_array_equal(scaled[:, 2], 0.0)


def test_scaler_inverse_transform_target_uses_target_column():
    values = _series_values()
    scaler = Scaler.fit(values[:14], target_index=1)
    scaled = scaler.transform(values)
    np.testing.assert_allclose(scaler.inverse_transform_target(scaled[:, 1]), values[:, 1])
    as_tensor = scaler.inverse_transform_target(torch.tensor(scaled[:, 1]))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_allclose(as_tensor.numpy(), values[:, 1])


def test_scaler_round_trips_through_json():
    scaler = Scaler.fit(_series_values()[:14], target_index=1)
    state = json.loads(json.dumps(scaler.to_dict()))
    assert all(isinstance(x, float) for x in state["mean"] + state["std"])
    restored = Scaler.from_dict(state)
    np.testing.assert_array_equal(restored.mean, scaler.mean)
    np.testing.assert_array_equal(restored.std, scaler.std)
    assert restored.target_index == 1


def test_scaler_errors():
    with pytest.raises(ValueError, match=r"values must have 3 columns in the last axis"):
        Scaler.fit(_series_values(), target_index=0).transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"target_index must be in \[0, 3\); received 3"):
        Scaler.fit(_series_values(), target_index=3)
    with pytest.raises(DataError, match="NaN"):
        Scaler.fit(np.array([[1.0], [np.nan]]), target_index=0)
    with pytest.raises(ValueError, match=r"missing \['std'\]"):
        Scaler.from_dict({"mean": [0.0], "target_index": 0})
