"""`rnnlab.data.stream`: anomaly series read whole (from a file or from memory) and line by line, following
a growing file; every problem names the file and the line, or the argument."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.stream import RowReader, follow_lines, load_series, read_header


def test_follow_lines_waits_for_complete_lines(tmp_path):
    path = tmp_path / "grow.csv"
    path.write_text("time,value\n0,1.5\n1,2")                       # the last line is still being written
    arrivals = iter(["5\n", "2,3.0\n3,4", ".0\n"])

    def sleep(_seconds):                                             # each wait lets the writer add a chunk
        chunk = next(arrivals, None)
        if chunk is None:
            raise KeyboardInterrupt
        with path.open("a") as file:
            file.write(chunk)

    lines = []
    with pytest.raises(KeyboardInterrupt):
        for item in follow_lines(path, follow=True, interval=0.01, sleep=sleep):
            lines.append(item)
    assert lines == [(1, "time,value"), (2, "0,1.5"), (3, "1,25"), (4, "2,3.0"), (5, "3,4.0")]
    assert list(follow_lines(path))[-1] == (5, "3,4.0")               # without follow: ends at the end


def test_row_reader_fills_or_refuses_missing_cells(tmp_path):
    header = ["time", "a", "b"]
    reader = RowReader("s.csv", header, ["b", "a"], fill="ffill")
    assert reader.parse(2, "t0,1,2")[1].tolist() == [2.0, 1.0]
    assert reader.parse(3, "t1,,NaN") == ("t1", pytest.approx(np.array([2.0, 1.0])))
    assert reader.parse(4, "  ") is None and reader.count == 2
    zero = RowReader("s.csv", header, ["a"], fill="zero")
    assert zero.parse(2, "t0,,5")[1].tolist() == [0.0]
    cases = [(RowReader("s.csv", header, ["a"], None), "t0,nan,1", "missing \\(NaN\\) at line 7"),
             (RowReader("s.csv", header, ["a"], None), "t0,abc,1", "non-numeric text 'abc' at line 7"),
             (RowReader("s.csv", header, ["a"], None), "t0,1", "line 7 has 2 fields; the header has 3"),
             (RowReader("s.csv", header, ["a"], "ffill"), "t0,,1", "no earlier value to carry forward")]
    for reader, line, message in cases:
        with pytest.raises(DataError, match=message):
            reader.parse(7, line)
    with pytest.raises(DataError, match="'interpolate' needs later points"):
        RowReader("s.csv", header, ["a"], "interpolate")


def test_load_series_reads_the_bundled_series_and_checks_labels(tmp_path):
    bundled = load_series("ucr_135", columns=None, label_column="is_anomaly", fill=None)
    assert bundled.values.shape == (7501, 1) and bundled.channels == ("value",) and bundled.normal_until == 1200
    assert np.flatnonzero(bundled.labels).tolist() == list(range(4187, 4199))
    unlabelled = tmp_path / "u.csv"
    unlabelled.write_text("timestamp,x,y\n0,1,2\n1,3,4\n")
    series = load_series(str(unlabelled), columns=None, label_column="is_anomaly", fill=None)
    assert series.channels == ("x", "y") and series.labels is None and series.normal_until is None
    bad = tmp_path / "bad.csv"
    bad.write_text("time,value,is_anomaly\n0,1,0\n1,2,3\n")
    with pytest.raises(DataError, match="label column 'is_anomaly' must hold 0 or 1; received 3"):
        load_series(str(bad), columns=None, label_column="is_anomaly", fill=None)
    with pytest.raises(DataError, match="neither a bundled anomaly series"):
        load_series(str(tmp_path / "nope.csv"), columns=None, label_column="is_anomaly", fill=None)


READ = dict(columns=None, label_column="is_anomaly", fill=None)


def test_a_frame_reads_as_its_csv_does(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("time,a,b,is_anomaly\nt0,1,2,0\nt1,3,4,1\nt2,5,6,0\n")
    from_file = load_series(str(path), **READ)
    frame = pd.read_csv(path)
    for data in (frame, frame[["b", "time", "is_anomaly", "a"]][["time", "a", "b", "is_anomaly"]]):
        series = load_series(data, **READ)
        np.testing.assert_array_equal(series.values, from_file.values)
        assert series.channels == from_file.channels == ("a", "b") and series.times == from_file.times
        np.testing.assert_array_equal(series.labels, from_file.labels)
    only_b = load_series(frame, **{**READ, "columns": ["b"]}, normal_until=2)
    assert only_b.channels == ("b",) and only_b.values[:, 0].tolist() == [2, 4, 6] and only_b.normal_until == 2


def test_arrays_and_pandas_series_read_as_channels():
    one = load_series(np.arange(4.0), **READ)
    assert one.channels == ("y",) and one.values.shape == (4, 1) and one.labels is None and one.times is None
    two = load_series([[1.0, 2.0], [3.0, 4.0]], **READ)
    assert two.channels == ("x0", "x1") and two.values.tolist() == [[1, 2], [3, 4]]
    named = load_series(pd.Series([1.0, 2.0, 3.0], name="temp", index=pd.date_range("2024-01-01", periods=3)), **READ)
    assert named.channels == ("temp",) and named.times[0].startswith("2024-01-01")
    assert load_series(pd.Series([1.0, 2.0]), **READ).channels == ("y",)


@pytest.mark.parametrize("data, error, message", [
    (42, TypeError, "data must be a CSV file, a bundled anomaly series' name.*received int"),
    ({"a": [1]}, TypeError, "received dict"),
    (np.array([1.0, np.nan]), DataError, "missing"),
    (pd.DataFrame({"v": [1.0, 2.0], "is_anomaly": [0, 2]}), DataError, "label column 'is_anomaly' must hold 0 or 1"),
    (pd.DataFrame({"time": ["t0", "t1"]}), DataError, "no value column"),
    (pd.DataFrame({"v": ["low", "high"]}), DataError, "column 'v' is not numeric"),
])
def test_bad_data_in_memory_is_named(data, error, message):
    with pytest.raises(error, match=message):
        load_series(data, **READ)


def test_a_csv_that_is_not_utf8_names_the_file_and_line_through_every_reader(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("time,value\nt0,1\nt1,2 \xb0C\n".encode("latin-1"))
    message = r"latin\.csv: not UTF-8: byte b'\\xb0' at line 3"
    with pytest.raises(DataError, match=message):
        load_series(str(latin), **READ)
    with pytest.raises(DataError, match=message):
        list(follow_lines(latin))
    header = tmp_path / "header.csv"
    header.write_bytes("time,temp \xb0C\nt0,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"header\.csv: not UTF-8: byte b'\\xb0' at line 1"):
        read_header(header)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("time,value\nt0,1\n".encode("utf-8-sig"))
    assert read_header(bom) == ["time", "value"] and list(follow_lines(bom))[0] == (1, "time,value")
