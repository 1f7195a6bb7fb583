"""Tests for rnnlab.data.ts: the .ts and long-format CSV readers, missing values, and every input error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.ts import LabelledSeries, fill_missing, load_labelled_series, read_long_csv, read_ts

HEADER = ["# a comment line", "@problemName Toy", "@timeStamps false", "@missing true", "@univariate false",
          "@dimensions 2", "@equalLength false", "@classLabel true up down", "@data"]
CASES = ["1,2,3:10,20,30:up", "4,5:40,50:down", "", "6,?,8:60,70,80:up"]


def write(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def test_read_ts_values_labels_channels_and_ids(tmp_path):
    data = read_ts(write(tmp_path / "toy.ts", HEADER + CASES), fill="interpolate")
    assert isinstance(data, LabelledSeries) and len(data) == 3
    assert data.channels == ("dim_0", "dim_1") and data.ids == ("1", "2", "3")
    assert data.labels == ["up", "down", "up"] and data.classes == ("up", "down")
    np.testing.assert_array_equal(data.series[0], [[1, 10], [2, 20], [3, 30]])      # (T, C): rows are steps
    np.testing.assert_array_equal(data.series[1], [[4, 40], [5, 50]])
    np.testing.assert_array_equal(data.series[2][:, 0], [6, 7, 8])                   # '?' interpolated
    assert data.lengths.tolist() == [3, 2, 3]


def test_read_ts_gz_equals_plain_and_unlabelled_files_have_no_labels(tmp_path):
    plain = read_ts(write(tmp_path / "a.ts", HEADER + CASES), fill="zero")
    zipped = read_ts(write(tmp_path / "a.ts.gz", HEADER + CASES), fill="zero")
    assert all(np.array_equal(a, b) for a, b in zip(plain.series, zipped.series))
    assert plain.series[2][1, 0] == 0.0
    unlabelled = [line if not line.startswith("@classLabel") else "@classLabel false" for line in HEADER]
    data = read_ts(write(tmp_path / "u.ts", unlabelled + ["1,2:3,4", "5:6"]))
    assert data.labels is None and data.classes == () and len(data) == 2


@pytest.mark.parametrize("fill, expected", [("ffill", [np.nan, 2.0, 2.0, 4.0]), ("interpolate", [2.0, 2.0, 3.0, 4.0]),
                                            ("zero", [0.0, 2.0, 0.0, 4.0])])
def test_fill_missing_per_channel(fill, expected):
    values = np.array([[np.nan, 1.0], [2.0, 1.0], [np.nan, 1.0], [4.0, 1.0]])
    filled = fill_missing(values, fill, "here")
    expected = np.array(expected)
    if fill == "ffill":
        expected[0] = 2.0  # a leading gap takes the first known value
    np.testing.assert_array_equal(filled[:, 0], expected)
    np.testing.assert_array_equal(filled[:, 1], values[:, 1])


def test_fill_missing_refuses_without_fill_and_an_empty_channel():
    with pytest.raises(DataError, match=r"^here: 1 missing values, the first at step 1 of channel 0 \(0-based\); pass fill="):
        fill_missing(np.array([[1.0], [np.nan]]), None, "here")
    with pytest.raises(DataError, match="channel 0 has no values to ffill from"):
        fill_missing(np.array([[np.nan], [np.nan]]), "ffill", "here")


@pytest.mark.parametrize("case, lines, message", [
    ("no @data", HEADER[:-1], "no @data line"),
    ("unknown header", ["@problemName X", "@colour blue", "@data", "1:up"], r"line 2: expected a header line"),
    ("time stamps", ["@timeStamps true", "@data", "(1,2)"], "line 1: @timeStamps true is not supported"),
    ("bad dimensions", ["@dimensions two", "@data", "1"], r"line 1: @dimensions must be a positive integer; "
                                                          r"found 'two'"),
    ("bad flag", ["# x", "@equalLength maybe", "@data", "1"], r"line 2: @equallength must be true or false"),
    ("no labels listed", ["@classLabel true", "@data", "1"], r"line 1: @classLabel must be 'true <labels>' or"),
    ("channels vs @dimensions", HEADER + ["1,2:3,4:5,6:up"], r"line 10: 3 channels; expected 2"),
    ("unequal channels", HEADER + ["1,2,3:4,5:up"], r"line 10: channel lengths \[3, 2\] differ"),
    ("label not declared", HEADER + ["1:2:sideways"],
     r"line 10: label 'sideways' is not in @classLabel \['up', 'down'\]"),
    ("non-numeric", HEADER + ["1,x,3:4,5,6:up"], r"line 10, channel 0: non-numeric value 'x'"),
    ("empty channel", HEADER + [":1:up"], r"line 10: channel 0 is empty \(a sequence of length 0\)"),
    ("series length", ["@equalLength true", "@seriesLength 3", "@classLabel true a", "@data", "1,2:a"],
     r"channel lengths \[2\] differ from @seriesLength 3"),
    ("missing without fill", HEADER + ["1,?:3,4:up"], r"line 10: 1 missing values, the first at step 1 of channel 0 \(0-based\); pass fill="),
    ("no cases", HEADER, "no cases after @data"),
])
def test_read_ts_errors_name_the_file_line_and_value(tmp_path, case, lines, message):
    path = write(tmp_path / "bad.ts", lines)
    with pytest.raises(DataError, match=message) as error:
        read_ts(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value), case


def test_read_ts_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        read_ts(tmp_path / "nope.ts")
    (tmp_path / "bad.ts.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot be read as gzipped UTF-8 text"):
        read_ts(tmp_path / "bad.ts.gz")


LONG = ["sequence_id,time,x,y,label", "b,2,5,50,down", "a,1,1,10,up", "b,1,4,40,down", "a,0,0,0,up",
        "a,10,2,20,up"]


def test_read_long_csv_groups_and_orders_by_time(tmp_path):
    data = read_long_csv(write(tmp_path / "long.csv", LONG))
    assert data.ids == ("b", "a") and data.labels == ["down", "up"] and data.channels == ("x", "y")
    np.testing.assert_array_equal(data.series[1], [[0, 0], [1, 10], [2, 20]])  # numeric time: 0 < 1 < 10
    np.testing.assert_array_equal(data.series[0], [[4, 40], [5, 50]])
    assert data.classes == ("down", "up")
    unlabelled = read_long_csv(write(tmp_path / "u.csv.gz", [",".join(row.split(",")[:4]) for row in LONG]))
    assert unlabelled.labels is None and unlabelled.channels == ("x", "y")


@pytest.mark.parametrize("case, lines, message", [
    ("missing columns", ["id,time,x,label", "a,0,1,up"], r"needs columns sequence_id, time, at least one channel"),
    ("no channel", ["sequence_id,time,label", "a,0,up"], r"needs columns sequence_id, time, at least one channel"),
    ("label changes", LONG[:3] + ["a,5,1,1,down"], r"line 4: label 'down' differs from 'up' \(line 3\) within "
                                                    r"sequence 'a'"),
    ("non-numeric", LONG[:2] + ["a,0,abc,1,up"], r"line 3, column 'x': non-numeric value 'abc'"),
    ("repeated time", LONG + ["a,1,3,3,up"], r"sequence 'a' has time '1' twice"),
    ("short row", LONG[:2] + ["a,0,1"], r"line 3 has 3 fields; the header has 5"),
    ("missing value", LONG[:2] + ["a,0,,1,up"], r"sequence 'a': 1 missing values"),
    ("header only", LONG[:1], "no data rows after the header"),
])
def test_read_long_csv_errors(tmp_path, case, lines, message):
    path = write(tmp_path / "bad.csv", lines)
    with pytest.raises(DataError, match=message) as error:
        read_long_csv(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value), case


def test_load_labelled_series_resolves_names_and_paths(tmp_path):
    test = load_labelled_series("basic_motions", "test")
    assert len(test) == 40 and test.source.endswith("BasicMotions_TEST.ts.gz")
    assert len(load_labelled_series(write(tmp_path / "long.csv", LONG))) == 2
    with pytest.raises(DataError, match=r"'nope' is neither a bundled series classification set"):
        load_labelled_series("nope")
    with pytest.raises(DataError, match=r"expected a .ts or .csv file \(optionally .gz\); received suffix '.txt'"):
        load_labelled_series(write(tmp_path / "x.txt", LONG))
    with pytest.raises(ValueError, match="split must be 'train' or 'test'; received 'val'"):
        load_labelled_series("basic_motions", "val")
