"""Tests for rnnlab.data.panel: reading long-format panels, and the checks of a Panel and its series."""

import sys

import numpy as np
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.panel import Panel, check_lengths, read_panel

# Two monthly series whose rows interleave; "B" also has a covariate value per row.
INTERLEAVED = """unique_id,ds,y,price
A,2020-03-01,1,10
B,2021-01-01,5,20
A,2020-04-01,2,11
B,2021-02-01,6,21
A,2020-05-01,3,12
"""


def _write(tmp_path, text, name="panel.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _csv(tmp_path, rows, header="unique_id,ds,y"):
    return _write(tmp_path, header + "\n" + "".join(row + "\n" for row in rows))


def _assert_same(a: Panel, b: Panel):
    assert a.ids == b.ids and a.freq == b.freq and list(a.covariates) == list(b.covariates)
    for k in range(len(a)):
        np.testing.assert_array_equal(a.values[k], b.values[k])
        assert a.times[k].dtype == b.times[k].dtype
        np.testing.assert_array_equal(a.times[k], b.times[k])
        for name in a.covariates:
            np.testing.assert_array_equal(a.covariates[name][k], b.covariates[name][k])


# --- reading ------------------------------------------------------------------------------------

def test_interleaved_rows_group_by_series_in_first_appearance_order(tmp_path):
    panel = read_panel(_write(tmp_path, INTERLEAVED), covariates=["price"])
    assert panel.ids == ("A", "B") and len(panel) == 2 and panel.freq == "MS"
    assert repr(panel) == "Panel(2 series, lengths 2 to 3, freq='MS', covariates=['price'])"
    np.testing.assert_array_equal(panel.lengths(), [3, 2])
    np.testing.assert_array_equal(panel.values[0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(panel.values[1], [5.0, 6.0])
    np.testing.assert_array_equal(panel.covariates["price"][1], [20.0, 21.0])
    np.testing.assert_array_equal(panel.times[0], np.array(["2020-03-01", "2020-04-01", "2020-05-01"], "M8[us]"))
    b = panel.series("B")
    assert b.id == "B" and panel.position("B") == 1 and b.covariates["price"][0] == 20.0
    with pytest.raises(KeyError, match="'C' is not in the panel"):
        panel.series("C")


def test_csv_and_dataframe_give_the_same_panel(tmp_path):
    pd = pytest.importorskip("pandas")
    from_csv = read_panel(_write(tmp_path, INTERLEAVED), covariates="price")
    frame = pd.read_csv(tmp_path / "panel.csv")
    _assert_same(read_panel(frame, covariates=["price"]), from_csv)                # ds as text
    frame["ds"] = pd.to_datetime(frame["ds"])
    _assert_same(read_panel(frame, covariates=["price"]), from_csv)                # ds as datetimes
    _assert_same(read_panel(frame.set_index("unique_id"), covariates=["price"]), from_csv)  # NeuralForecast < 1.0


def test_other_column_names_and_integer_ids(tmp_path):
    path = _csv(tmp_path, ["1,0,2.5", "2,0,1", "1,1,3.5"], header="store,step,sales")
    panel = read_panel(path, id_column="store", time_column="step", target="sales")
    assert panel.ids == ("1", "2") and panel.freq is None and panel.step == 1
    assert panel.times[0].dtype == np.int64
    np.testing.assert_array_equal(panel.times[0], [0, 1])


def test_compact_dates_are_dates_not_integers(tmp_path):
    panel = read_panel(_csv(tmp_path, ["a,20200101,1", "a,20200102,2", "a,20200103,3"]))
    assert panel.freq == "D" and panel.times[0][0] == np.datetime64("2020-01-01")


def test_time_zones_become_utc(tmp_path):
    panel = read_panel(_csv(tmp_path, ["a,2020-01-01 01:00:00+0100,1", "a,2020-01-01 02:00:00+0100,2"]))
    assert panel.freq == "h" and panel.times[0][0] == np.datetime64("2020-01-01T00:00")


# --- errors, each naming the file, series, line and value ---------------------------------------

def test_missing_column_names_the_columns_found(tmp_path):
    with pytest.raises(DataError, match=r"panel.csv: column 'y' not found; columns are \['id', 'ds', 'value'\]"):
        read_panel(_csv(tmp_path, ["a,1,2"], header="id,ds,value"), id_column="id")
    with pytest.raises(DataError, match="column 'price2' not found"):
        read_panel(_write(tmp_path, INTERLEAVED), covariates=["price", "price2"])


def test_missing_column_in_a_dataframe():
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError, match=r"data: column 'ds' not found; columns are \['unique_id', 'y'\]"):
        read_panel(pd.DataFrame({"unique_id": ["a"], "y": [1.0]}))


def test_non_numeric_target_names_series_line_and_value(tmp_path):
    path = _csv(tmp_path, ["A,2020-01-01,1", "B,2020-01-01,2", "B,2020-01-02,abc"])
    with pytest.raises(DataError, match=r"panel.csv: series 'B': column 'y' has non-numeric value 'abc' at line 4"):
        read_panel(path)


def test_non_numeric_target_in_a_dataframe_names_the_index_label():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"unique_id": ["A", "B"], "ds": [1, 1], "y": ["1.5", "lots"]}, index=[10, 11])
    with pytest.raises(DataError, match=r"data: series 'B': column 'y' has non-numeric value 'lots' at index 11"):
        read_panel(frame)


def test_infinite_value_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"series 'A': column 'y' has non-finite value 'inf' at line 3"):
        read_panel(_csv(tmp_path, ["A,1,1", "A,2,inf"]))


def test_missing_values_need_fill(tmp_path):
    path = _csv(tmp_path, ["A,1,1", "B,1,NA", "A,2,", "B,2,4", "A,3,3", "B,3,6"])
    with pytest.raises(DataError, match=r"series 'A': column 'y' has 1 missing cells \(first at line 4\); use fill="):
        read_panel(path)


@pytest.mark.parametrize("fill, a, b", [("ffill", [1, 1, 3], [4, 4, 6]), ("interpolate", [1, 2, 3], [4, 4, 6]),
                                        ("zero", [1, 0, 3], [0, 4, 6])])
def test_fill_stays_within_each_series(tmp_path, fill, a, b):
    # B's leading gap is filled from B's own values, never carried over from A's rows before it
    path = _csv(tmp_path, ["A,1,1", "B,1,NA", "A,2,", "B,2,4", "A,3,3", "B,3,6"])
    panel = read_panel(path, fill=fill)
    np.testing.assert_array_equal(panel.values[0], a)
    np.testing.assert_array_equal(panel.values[1], b)


def test_unknown_fill_is_refused(tmp_path):
    with pytest.raises(DataError, match="fill must be one of .*received 'mean'"):
        read_panel(_csv(tmp_path, ["A,1,1"]), fill="mean")


def test_duplicate_timestamp_in_a_series(tmp_path):
    path = _csv(tmp_path, ["A,2020-01-01,1", "B,2020-01-01,1", "A,2020-01-02,2", "A,2020-01-02,3"])
    with pytest.raises(DataError, match=r"series 'A': timestamp 2020-01-02 appears twice, at line 4 and line 5"):
        read_panel(path)


def test_unsorted_timestamps_in_a_series_are_refused(tmp_path):
    path = _csv(tmp_path, ["A,2020-01-02,1", "B,2020-01-01,1", "A,2020-01-01,2"])
    with pytest.raises(DataError, match=r"series 'A': timestamps are not in time order: 2020-01-01 at line 4 "
                                        r"comes after 2020-01-02 at line 2"):
        read_panel(path)


def test_unparseable_timestamps_name_the_value(tmp_path):
    with pytest.raises(DataError, match=r"series 'B': column 'ds' has '2020/01/02' at line 4, which is neither an "
                                        r"integer step nor a date in the format of the first timestamp '2020-01-01'"):
        read_panel(_csv(tmp_path, ["A,2020-01-01,1", "A,2020-01-02,1", "B,2020/01/02,2"]))
    with pytest.raises(DataError, match=r"series 'A': column 'ds' has 'soon' at line 2, .* in a known format"):
        read_panel(_csv(tmp_path, ["A,soon,1", "A,later,2"]))


def test_missing_timestamp_in_a_dataframe():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"unique_id": ["A", "A"], "ds": pd.to_datetime(["2020-01-01", None]), "y": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"data: series 'A': column 'ds' has a missing timestamp at index 1"):
        read_panel(frame)


def test_empty_panels_and_empty_series(tmp_path):
    with pytest.raises(DataError, match="no data rows after the header"):
        read_panel(_csv(tmp_path, []))
    with pytest.raises(DataError, match="line 3: column 'unique_id' is empty"):
        read_panel(_csv(tmp_path, ["A,1,1", ",2,2"]))
    with pytest.raises(DataError, match="a panel needs at least one series"):
        Panel.from_arrays([])
    with pytest.raises(DataError, match="series 'x' has no values"):
        Panel.from_arrays([[1.0], []], ids=["w", "x"])


def test_empty_dataframe_and_unused_categories():
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError, match="data: the DataFrame has no rows"):
        read_panel(pd.DataFrame({"unique_id": [], "ds": [], "y": []}))
    frame = pd.DataFrame({"unique_id": pd.Categorical(["A", "A"], categories=["A", "Z"]), "ds": [1, 2], "y": [1.0, 2]})
    with pytest.raises(DataError, match="series 'Z' .* has no rows"):
        read_panel(frame)


def test_data_of_another_kind_is_a_type_error():
    with pytest.raises(TypeError, match="received list"):
        read_panel([[1, 2, 3]])


# --- short series -------------------------------------------------------------------------------

def test_check_lengths_names_short_series():
    panel = Panel.from_arrays([np.ones(30), np.ones(14)], ids=["M3_1", "M3_12"])
    check_lengths(panel, 14, "window + horizon")
    with pytest.raises(DataError, match=r"^series 'M3_12' has 14 values; window \+ horizon needs at least 24$"):
        check_lengths(panel, 24, "window + horizon")
    many = Panel.from_arrays([np.ones(n) for n in range(1, 9)])
    with pytest.raises(DataError, match=r"^7 series are too short; a window needs at least 8 values: '0' has 1, "
                                        r"'1' has 2, '2' has 3, '3' has 4, '4' has 5 and 2 more$"):
        check_lengths(many, 8, "a window")


# --- round trips and the Panel itself -----------------------------------------------------------

def test_to_frame_round_trips(tmp_path):
    pytest.importorskip("pandas")
    panel = read_panel(_write(tmp_path, INTERLEAVED), covariates=["price"])
    frame = panel.to_frame()
    assert list(frame.columns) == ["unique_id", "ds", "y", "price"] and len(frame) == 5
    _assert_same(read_panel(frame, covariates=["price"]), panel)
    steps = Panel.from_arrays([np.arange(3.0), np.array([7.0])], ids=["x", "y"])
    _assert_same(read_panel(steps.to_frame()), steps)
    renamed = steps.to_frame(id_column="item", time_column="t", target="sales")
    _assert_same(read_panel(renamed, id_column="item", time_column="t", target="sales"), steps)


def test_to_frame_without_pandas_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="Panel.to_frame needs pandas"):
        Panel.from_arrays([[1.0]]).to_frame()


def test_panel_checks_its_fields():
    day = np.array(["2020-01-01", "2020-01-02"], dtype="M8[D]")
    panel = Panel(ids=("a",), values=([1, 2],), times=(day,), freq="D")
    assert panel.times[0].dtype == np.dtype("M8[us]") and panel.values[0].dtype == np.float64
    with pytest.raises(ValueError, match="freq must be a pandas frequency alias .*received None"):
        Panel(ids=("a",), values=([1, 2],), times=(day,))
    with pytest.raises(ValueError, match="times must hold 1 series, one per id; received 2"):
        Panel(ids=("a",), values=([1, 2],), times=(day, day), freq="D")
    with pytest.raises(ValueError, match="times of series 'a' must have shape"):
        Panel(ids=("a",), values=([1, 2, 3],), times=(day,), freq="D")
    with pytest.raises(ValueError, match="times of series 'a' must strictly increase"):
        Panel(ids=("a",), values=([1, 2],), times=(day[::-1],), freq="D")
    with pytest.raises(ValueError, match=r"ids must be unique; received repeats of \['a'\]"):
        Panel.from_arrays([[1.0], [2.0]], ids=["a", "a"])


def test_from_arrays():
    panel = Panel.from_arrays(np.arange(6.0).reshape(2, 3))
    assert panel.ids == ("0", "1") and panel.freq is None and panel.step == 1
    np.testing.assert_array_equal(panel.times[1], [0, 1, 2])
    with pytest.raises(DataError, match=r"series '1': values has a non-finite value nan at position 1"):
        Panel.from_arrays([[1.0], [2.0, np.nan]])
    with pytest.raises(ValueError, match="ids must have one id per array"):
        Panel.from_arrays([[1.0]], ids=["a", "b"])


# --- static columns: one category per series ----------------------------------------------------------

STATIC = """unique_id,ds,y,store
A,2020-03-01,1,big
B,2021-01-01,5,small
A,2020-04-01,2,big
B,2021-02-01,6,small
"""


def test_a_static_column_holds_each_series_category_from_a_csv_or_a_dataframe(tmp_path):
    pd = pytest.importorskip("pandas")
    panel = read_panel(_write(tmp_path, STATIC), static="store")
    assert panel.statics == {"store": ("big", "small")}
    frame = pd.read_csv(_write(tmp_path, STATIC))
    frame["store"] = frame["store"].astype("category")
    assert read_panel(frame, static=["store"]).statics == panel.statics
    numbered = frame.assign(store=[1, 2, 1, 2])  # numbers are categories too, by their text
    assert read_panel(numbered, static="store").statics == {"store": ("1", "2")}
    back = panel.to_frame()
    assert back["store"].tolist() == ["big", "big", "small", "small"]
    assert read_panel(back, static="store").statics == panel.statics


def test_a_static_column_that_changes_or_is_missing_names_the_series_and_the_lines(tmp_path):
    changed = STATIC.replace("A,2020-04-01,2,big", "A,2020-04-01,2,huge")
    with pytest.raises(DataError, match=r"series 'A': static column 'store' changes within the series: 'big' at "
                                        r"line 2, 'huge' at line 4"):
        read_panel(_write(tmp_path, changed), static="store")
    missing = STATIC.replace("B,2021-02-01,6,small", "B,2021-02-01,6,")
    with pytest.raises(DataError, match=r"series 'B': static column 'store' is missing at line 5"):
        read_panel(_write(tmp_path, missing), static="store")
    with pytest.raises(DataError, match=r"column 'region' not found"):
        read_panel(_write(tmp_path, STATIC), static="region")
    with pytest.raises(ValueError, match=r"store must hold 2 series, one per id; received 1"):
        Panel(ids=("a", "b"), values=([1.0], [2.0]), times=([0], [0]), statics={"store": ("x",)})
