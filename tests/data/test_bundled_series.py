"""Tests for the bundled forecasting series: registry, defaults, lengths, provenance."""

import hashlib

import numpy as np
import pytest

from rnnlab.data import bundled_path, list_datasets, load_series, make_windows, time_split

# name -> (default target, points, input columns, first target value, last target value)
EXPECTED = {
    "airline": ("passengers", 144, ("passengers",), 112.0, 432.0),
    "co2": ("co2", 2284, ("co2",), 316.1, 371.5),
    "seattle_weather": ("temp_max", 1461, ("precipitation", "temp_max", "temp_min", "wind"),
                        12.8, 5.6),
}

# sha256 of each bundled CSV as recorded in its SOURCE.md: an edit to the data must update both.
SHA256 = {
    "airline": "d27dd74f3654ab4c688afccf2348870410902f480cea900d872be2ae33184411",
    "co2": "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
    "seattle_weather": "f5ae7dee19d689a4e5294ef3d56d8ba04a58afdde756779b35f671d5ba635e80",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_series_loads_with_default_target(name):
    target, points, columns, first, last = EXPECTED[name]
    series = load_series(name)
    assert series.target == target and series.columns == columns
    assert len(series) == points and series.values.shape == (points, len(columns))
    assert np.isfinite(series.values).all()
    assert series.values[0, series.target_index] == first
    assert series.values[-1, series.target_index] == last
    assert series.times is not None and len(series.times) == points
    assert list(series.times) == sorted(series.times)                 # time order


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_source_md_and_checksum(name):
    folder = bundled_path(name)
    source = (folder / "SOURCE.md").read_text(encoding="utf-8")
    for section in ("## Origin", "## Licence", "## Extraction steps"):
        assert section in source
    csv_files = sorted(folder.glob("*.csv"))
    assert len(csv_files) == 1
    digest = hashlib.sha256(csv_files[0].read_bytes()).hexdigest()
    assert digest == SHA256[name] and digest in source


def test_list_datasets_matches_the_files():
    infos = {info.name: info for info in list_datasets()}
    assert sorted(infos) == sorted(EXPECTED)
    for name, (target, points, columns, _, _) in EXPECTED.items():
        info = infos[name]
        assert (info.target, info.points, info.columns) == (target, points, columns)
        assert info.description
    assert infos["co2"].fill == "interpolate"


def test_co2_gaps_are_interpolated():
    # Rows 8 and 11-14 of co2.csv (data rows 7 and 10-13) are empty in the source.
    series = load_series("co2")
    co2 = series.values[:, 0]
    assert series.times[6] == "19580510"
    assert co2[6] == pytest.approx((co2[5] + co2[7]) / 2)
    np.testing.assert_allclose(np.diff(co2[8:15]), np.diff(co2[8:15]).mean())  # a straight line


def test_seattle_weather_is_multivariate_and_windows():
    series = load_series("seattle_weather", columns=["temp_min", "wind"])
    assert series.columns == ("temp_min", "wind", "temp_max") and series.target_index == 2
    bounds = time_split(len(series))
    X, Y = make_windows(series.values, series.target_index, window=14, horizon=7,
                        targets_from=bounds.val_end)
    assert X.shape[1:] == (14, 3) and Y.shape[1] == 7
    assert len(X) == bounds.n - bounds.val_end - 7 + 1


def test_bundled_data_stays_small():
    # shared/DATASETS.md: everything bundled stays small, "a few MB in all" (text sets are gzipped)
    root = bundled_path("airline").parent
    total = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    assert total < 4_000_000
