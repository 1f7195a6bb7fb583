"""Tests for rnnlab.data.bundled: the bundled data sets load and carry their SOURCE.md."""

import pytest
import torch

from rnnlab.data import bundled_path, load_airline


def test_load_airline_values_and_dtype():
    series = load_airline()
    assert series.dtype == torch.float32
    assert series.shape == (144,)
    assert series[0].item() == 112.0
    assert series[-1].item() == 432.0
    # Known summary of the series (R's AirPassengers): sum 40363, min 104, max 622.
    assert series.sum().item() == 40363.0
    assert series.min().item() == 104.0
    assert series.max().item() == 622.0


def test_bundled_path_has_data_and_source():
    folder = bundled_path("airline")
    assert (folder / "airline.csv").is_file()
    assert (folder / "SOURCE.md").is_file()
    assert "Box" in (folder / "SOURCE.md").read_text(encoding="utf-8")


def test_bundled_path_unknown_name():
    with pytest.raises(ValueError) as error:
        bundled_path("foo")
    assert str(error.value) == ("name must be one of ['airline', 'co2', 'seattle_weather', "
                                "'rotten_tomatoes', 'hamlet', 'porttinari', 'kjv_rv']; received 'foo'")
