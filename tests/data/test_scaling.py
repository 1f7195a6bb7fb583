"""Tests for rnnlab.data.scaling's PanelScaler: per-series scaling of a panel (Scaler's tests are in test_series.py)."""

import json

import numpy as np
import pytest

from rnnlab.data.errors import DataError
from rnnlab.data.panel import Panel
from rnnlab.data.scaling import PanelScaler


def _arrays(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(1e-3, 1e3), size=rng.integers(1, 40)) for _ in range(6)]
    return arrays + [np.full(5, 0.1), np.zeros(4), np.array([0.0, 0.0, 0.0, 7.0]), np.array([-3.5])]


@pytest.mark.parametrize("method", ["standard", "robust", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_scalers_invert_exactly(method, seed):
    arrays = _arrays(seed)
    scaler = PanelScaler(method).fit(arrays)
    assert np.all(scaler.scale_ > 0) and np.isfinite(scaler.loc_).all()
    back = scaler.inverse(scaler.transform(arrays))
    for y, z in zip(arrays, back, strict=True):
        np.testing.assert_allclose(z, y, rtol=1e-12, atol=1e-12 * np.abs(y).max())
    rows = np.stack([a[:1] for a in arrays] * 2)                   # (B, 1): with a series index per row
    index = np.tile(np.arange(len(arrays)), 2)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(rows, index), index), rows, rtol=1e-12, atol=1e-9)


def test_scaler_statistics():
    standard = PanelScaler("standard").fit([np.array([1.0, 3.0]), np.full(3, 0.1)])
    np.testing.assert_array_equal(standard.loc_, [2.0, 0.1])
    np.testing.assert_array_equal(standard.scale_, [1.0, 1.0])   # a constant series: scale 1, maps to exactly 0
    np.testing.assert_array_equal(standard.transform([[1.0, 3.0], [0.1, 0.1, 0.1]])[1], [0.0, 0.0, 0.0])
    robust = PanelScaler("robust").fit([np.array([0.0, 1, 2, 3, 4]), np.array([5.0] * 6 + [0, 9]), np.full(3, 2.0)])
    np.testing.assert_array_equal(robust.loc_, [2.0, 5.0, 2.0])
    np.testing.assert_array_equal(robust.scale_, [2.0, 1.0, 1.0])  # the IQR; where it is 0 (so is the MAD), 1
    mean = PanelScaler("mean").fit([np.array([-2.0, 4.0]), np.zeros(3)])
    np.testing.assert_array_equal(mean.loc_, [0.0, 0.0])
    np.testing.assert_array_equal(mean.scale_, [3.0, 1.0])


def test_scaler_fits_a_panel_and_round_trips_through_json():
    panel = Panel.from_arrays([[1.0, 2.0, 3.0], [5.0, 6.0]], ids=["A", "B"])
    scaler = PanelScaler("robust").fit(panel)
    restored = PanelScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored.method == "robust" and restored.ids_ == ("A", "B")
    np.testing.assert_array_equal(restored.loc_, scaler.loc_)
    np.testing.assert_array_equal(restored.scale_, scaler.scale_)
    for a, b in zip(restored.transform(panel), scaler.transform(panel.values)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("state, message", [
    ([1, 2], "state must be a dict"),
    ({"method": "mean", "loc": [0.0]}, r"missing \['scale'\]"),
    ({"method": "minmax", "loc": [0.0], "scale": [1.0]}, "method must be one of"),
    ({"method": "mean", "loc": [0.0], "scale": [0.0]}, r"scale\[0\] must be a positive finite number; received 0.0"),
    ({"method": "mean", "loc": ["1"], "scale": [1.0]}, r"loc\[0\] must be a finite number; received '1'"),
    ({"method": "mean", "loc": [], "scale": []}, "loc must be a non-empty list"),
    ({"method": "mean", "loc": [0.0, 1.0], "scale": [1.0]}, "equal lengths; received 2 and 1"),
    ({"method": "mean", "loc": [0.0], "scale": [1.0], "ids": [3]}, "ids must be None or a list of 1 strings"),
])
def test_scaler_from_dict_checks_its_input(state, message):
    with pytest.raises(ValueError, match=message):
        PanelScaler.from_dict(state)


def test_scaler_refuses_bad_use():
    with pytest.raises(ValueError, match="method must be one of"):
        PanelScaler("minmax")
    with pytest.raises(ValueError, match="not fitted"):
        PanelScaler().transform([np.ones(2)])
    scaler = PanelScaler().fit([np.ones(2), np.arange(3.0)])
    with pytest.raises(ValueError, match="values must hold 2 series, as fitted; received 1"):
        scaler.inverse([np.ones(2)])
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\)"):
        scaler.inverse(np.ones((1, 3)), np.array([2]))
    with pytest.raises(DataError, match="series 1 of shape"):
        PanelScaler().fit([np.ones(2), np.array([1.0, np.nan])])
