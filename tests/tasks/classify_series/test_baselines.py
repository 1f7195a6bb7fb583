"""The series classifier's baselines: resampling, 1-NN-ED, and DTW with 1-NN-DTW, against hand-worked
values, a double loop written from the definition, and dtaidistance where it is installed."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rnnlab.tasks.classify_series import baselines
from rnnlab.tasks.classify_series.baselines import (dtw_distance, dtw_distances, nearest_neighbour,
                                                    nearest_neighbour_dtw, nearest_neighbour_ed, resample)

WINDOWS = [None, 0.0, 0.1, 0.25, 0.5, 1.0]


def reference_dtw(a: np.ndarray, b: np.ndarray, radius: int) -> float:
    """DTW by the definition, one cell at a time: the oracle for the vectorised recurrence."""
    n, m = len(a), len(b)
    below, above = radius + max(n - m, 0), radius + max(m - n, 0)
    D = np.full((n + 1, m + 1), np.inf)  # D[i + 1, j + 1] is the docstring's D[i, j]; row and column 0 are off the grid
    D[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            if -below <= j - i <= above:
                D[i + 1, j + 1] = np.sum((a[i] - b[j]) ** 2) + min(D[i, j], D[i, j + 1], D[i + 1, j])
    return math.sqrt(D[n, m])


def radius(window, n: int, m: int) -> int:
    return max(n, m) if window is None else math.floor(window * max(n, m) + 1e-9)


def random_pairs(count: int, seed: int = 0, *, equal: bool = False):
    generator = np.random.default_rng(seed)
    for _ in range(count):
        n, channels = int(generator.integers(1, 25)), int(generator.integers(1, 4))
        m = n if equal else int(generator.integers(1, 25))
        yield generator.normal(size=(n, channels)), generator.normal(size=(m, channels))


def test_resample_is_linear_interpolation_keeping_the_ends():
    values = np.array([[0.0, 10.0], [2.0, 30.0], [4.0, 20.0]])                    # (T=3, C=2)
    np.testing.assert_allclose(resample(values, 5), [[0, 10], [1, 20], [2, 30], [3, 25], [4, 20]])
    np.testing.assert_allclose(resample(values, 2), values[[0, 2]])
    np.testing.assert_allclose(resample(values, np.int64(3)), values)
    np.testing.assert_allclose(resample(values[:1], 4), np.repeat(values[:1], 4, axis=0))
    with pytest.raises(ValueError, match=r"values must have shape \(T ≥ 1, C\); received \(0, 2\)"):
        resample(np.zeros((0, 2)), 3)
    with pytest.raises(ValueError, match="length must be a positive integer; received 0"):
        resample(values, 0)


def test_nearest_neighbour_ed_takes_the_closest_training_label():
    assert nearest_neighbour is nearest_neighbour_ed  # the exported name from before 1-NN-DTW
    ramp_up = np.linspace(0, 1, 10)[:, None]                                      # (10, 1)
    train = [ramp_up, 1 - ramp_up, np.zeros((6, 1))]
    labels = ["up", "down", "flat"]
    # a shorter up-ramp, a longer down-ramp and small noise around zero: lengths differ from training
    queries = [np.linspace(0, 1, 4)[:, None], np.linspace(1, 0, 25)[:, None], np.full((3, 1), 0.05)]
    for classify in (nearest_neighbour_ed, nearest_neighbour_dtw):
        assert classify(train, labels, queries, length=10).tolist() == ["up", "down", "flat"]
        with pytest.raises(ValueError, match="query_series must have the training sequences' 1 channels; received 2"):
            classify(train, labels, [np.zeros((4, 2))], length=10)
        assert classify(train, labels, [], length=10).shape == (0,)


def test_dtw_of_hand_worked_cases():
    # a repeated step costs nothing: (0,0) (1,0) (2,1) (3,2) aligns [0, 0, 1, 2] with [0, 1, 2] exactly
    assert dtw_distance([0, 1, 2], [0, 0, 1, 2]) == 0.0
    # c = |a_i − b_j|² for a = [1, 2, 3], b = [1, 3]:  rows i, columns j
    #   c = [[0, 4], [1, 1], [4, 0]]
    #   D[0] = [0, 4];  D[1] = [1, 1 + min(0, 4, 1)] = [1, 1];  D[2] = [1 + 4, 0 + min(1, 1, 5)] = [5, 1]
    assert dtw_distance([1, 2, 3], [1, 3]) == pytest.approx(1.0)
    # a = [0, 1, 2, 3], b = [1, 2, 3, 3]: the path (0,0) (1,0) (2,1) (3,2) (3,3) costs 1 + 0 + 0 + 0 + 0; it
    # keeps |i − j| ≤ 1, so a band of r = ⌊0.25·4⌋ = 1 finds it, while r = 0 leaves the diagonal: 1 + 1 + 1 + 0
    a, b = [0, 1, 2, 3], [1, 2, 3, 3]
    assert dtw_distance(a, b) == dtw_distance(a, b, window=0.25) == pytest.approx(1.0)
    assert dtw_distance(a, b, window=0.0) == pytest.approx(math.sqrt(3))
    # the far corner is reachable however narrow the band: a 2 × 1 grid has one path, (0,0) (1,0), costing 1 + 1
    assert dtw_distance([0, 2], [1], window=0.0) == pytest.approx(math.sqrt(2))


def test_dtw_of_several_channels_is_one_path_with_squared_euclidean_costs():
    # (0,0) then (1,0): 0 + (3² + 4²) = 25, and the root of the sum (not a sum of roots per channel: 3 + 4)
    assert dtw_distance([[0, 0], [3, 4]], [[0, 0]]) == pytest.approx(5.0)
    a, b = [[0, 0], [1, 1], [1, 1], [2, 5]], [[0, 0], [1, 1], [2, 5]]
    assert dtw_distance(a, b) == 0.0
    # one path for both channels: each channel alone aligns at no cost ([0, 1, 1] with [0, 0, 1], and [0, 0, 1]
    # with [0, 1, 1]), together they cannot: a[1] = (1, 0) costs ≥ 1 against every b[j], b[1] = (0, 1) against
    # every a[i], and the one cell of both, c[1, 1] = 2, costs as much as the two apart: D = 2
    a, b = np.array([[0, 0], [1, 0], [1, 1]]), np.array([[0, 0], [0, 1], [1, 1]])
    assert dtw_distance(a[:, 0], b[:, 0]) == dtw_distance(a[:, 1], b[:, 1]) == 0.0
    assert dtw_distance(a, b) == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("window", WINDOWS)
def test_dtw_equals_the_definition_cell_by_cell(window):
    for a, b in random_pairs(40, seed=1):
        assert dtw_distance(a, b, window) == pytest.approx(reference_dtw(a, b, radius(window, len(a), len(b))),
                                                           rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("window", WINDOWS)
def test_dtw_is_symmetric(window):
    for a, b in random_pairs(30, seed=2):
        assert dtw_distance(a, b, window) == pytest.approx(dtw_distance(b, a, window), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("window", WINDOWS)
def test_dtw_is_at_most_euclidean_and_a_zero_band_is_euclidean(window):
    for a, b in random_pairs(30, seed=3, equal=True):
        euclidean = np.linalg.norm(a - b)
        assert dtw_distance(a, b, window) <= euclidean * (1 + 1e-12) + 1e-12
        assert dtw_distance(a, b, 0.0) == pytest.approx(euclidean, rel=1e-12)
    assert dtw_distance(a, b, 1.0) == dtw_distance(a, b, None)


def test_dtw_distances_equal_the_pairwise_distance_however_the_pairs_are_blocked(monkeypatch):
    generator = np.random.default_rng(4)
    xs, ys = generator.normal(size=(5, 9, 2)), generator.normal(size=(7, 13, 2))          # (M, n, C), (N, m, C)
    expected = np.array([[dtw_distance(x, y, 0.3) for y in ys] for x in xs])
    np.testing.assert_allclose(dtw_distances(xs, ys, 0.3), expected, rtol=1e-12)
    for cells in (1, 9 * 13 * 3, 9 * 13 * 7 * 2):  # one pair a block; 3 of one row; 2 whole rows
        monkeypatch.setattr(baselines, "_BLOCK_CELLS", cells)
        np.testing.assert_allclose(dtw_distances(xs, ys, 0.3), expected, rtol=1e-12)
    np.testing.assert_allclose(dtw_distances(xs[:, :, 0], ys[:, :, 0]),
                               [[dtw_distance(x, y) for y in ys[:, :, 0]] for x in xs[:, :, 0]], rtol=1e-12)
    assert dtw_distances(xs[:0], ys).shape == (0, 7)


@pytest.mark.parametrize("window", WINDOWS)
def test_dtw_equals_dtaidistance(window):
    """dtaidistance's `dtw_ndim.distance` is the same DTW (squared Euclidean cost over channels, root at the
    end); its `window` w keeps |i − j| < w beside the length difference, so our band of radius r is its w = r + 1."""
    dtw_ndim = pytest.importorskip("dtaidistance.dtw_ndim")
    for a, b in random_pairs(60, seed=5):
        theirs = dtw_ndim.distance(a, b, window=None if window is None else radius(window, len(a), len(b)) + 1)
        assert dtw_distance(a, b, window) == pytest.approx(theirs, rel=1e-10, abs=1e-12)


def shifted_copies(count: int, seed: int, length: int = 60):
    """Two classes, each a prototype at a random shift: a bump then a dip 6 steps later, or the reverse.
    Shifted copies rarely overlap, so Euclidean distance sees noise where warping sees the shape."""
    generator = np.random.default_rng(seed)
    steps = np.arange(length)
    series, labels = [], []
    for k in range(count):
        centre = generator.uniform(10, 45)
        shape = np.exp(-0.5 * ((steps - centre) / 1.5) ** 2) - np.exp(-0.5 * ((steps - centre - 6) / 1.5) ** 2)
        sign, label = ((1, "bump_dip"), (-1, "dip_bump"))[k % 2]
        series.append((sign * shape + 0.05 * generator.normal(size=length))[:, None])         # (T, 1)
        labels.append(label)
    return series, np.array(labels)


def test_1nn_dtw_beats_1nn_ed_on_time_shifted_copies_of_prototypes():
    train, train_labels = shifted_copies(8, seed=0)
    queries, query_labels = shifted_copies(40, seed=100)
    by_ed = (nearest_neighbour_ed(train, train_labels, queries, length=60) == query_labels).mean()
    by_dtw = (nearest_neighbour_dtw(train, train_labels, queries, length=60) == query_labels).mean()
    assert by_dtw == 1.0 and by_ed <= 0.6


def test_bad_input_is_one_error_naming_the_argument_and_the_value():
    for window in (-0.1, 1.5, float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match=rf"window must be a fraction of the length in \[0, 1\], or None; "
                                             rf"received {re.escape(repr(window))}"):
            dtw_distance([0, 1], [1, 2], window)
    with pytest.raises(ValueError, match=r"window must be .*received 2"):
        nearest_neighbour_dtw([np.zeros((3, 1))], ["a"], [np.zeros((3, 1))], length=3, window=2)
    with pytest.raises(ValueError, match=r"a must have shape \(T ≥ 1, C ≥ 1\) or \(T ≥ 1,\); received \(0,\)"):
        dtw_distance([], [1, 2])
    with pytest.raises(ValueError, match=r"b must have shape .*received \(2, 0\)"):
        dtw_distance([1, 2], np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"b must hold finite numbers; received nan at \[1, 0\]"):
        dtw_distance([1, 2], [0, np.nan])
    with pytest.raises(ValueError, match=r"xs must hold finite numbers; received inf at \[0, 2, 1\]"):
        dtw_distances(np.array([[[0, 0], [0, 0], [0, np.inf]]]), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="b must have the 2 channels of a; received 3"):
        dtw_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"ys must have shape \(N, T ≥ 1, C ≥ 1\) or \(N, T ≥ 1\); received \(2,\)"):
        dtw_distances(np.zeros((1, 2)), np.zeros(2))
    train = [np.zeros((3, 2)), np.array([[0.0, 1.0], [np.nan, 0.0]])]
    for classify in (nearest_neighbour_ed, nearest_neighbour_dtw):
        with pytest.raises(ValueError, match=r"train_series\[1\] must hold finite numbers; received nan at \[1, 0\]"):
            classify(train, ["a", "b"], [np.zeros((3, 2))], length=4)
        with pytest.raises(ValueError, match=r"query_series\[0\] must have shape .*received \(0, 2\)"):
            classify(train[:1], ["a"], [np.zeros((0, 2))], length=4)
        with pytest.raises(ValueError, match=r"train_series\[1\] has 1 channels; train_series\[0\] has 2"):
            classify([np.zeros((3, 2)), np.zeros((3, 1))], ["a", "b"], [np.zeros((3, 2))], length=4)
        with pytest.raises(ValueError, match="train_series and train_labels must be non-empty and of the same length; "
                                             "received 1 and 2"):
            classify(train[:1], ["a", "b"], [np.zeros((3, 2))], length=4)


def test_the_dtw_baseline_is_left_out_when_it_would_cost_more_than_its_budget(monkeypatch, tmp_path):
    import rnnlab
    from rnnlab.tasks.classify_series import task as module

    rng = np.random.default_rng(0)
    series = [rng.normal(size=(12, 2)) for _ in range(24)]
    labels = ["a", "b"] * 12
    monkeypatch.setattr(module, "DTW_CELLS", 0)
    fitted = rnnlab.SeriesClassifier(epochs=1, hidden_size=4, batch_size=8).fit(series, labels)
    assert "1nn_dtw" not in fitted.evaluate()["metrics"] and "1nn_ed" in fitted.evaluate()["metrics"]


def test_z_normalisation_centres_and_scales_each_channel_and_leaves_a_constant_one_at_zero():
    from rnnlab.tasks.classify_series.task import znormalised

    values = np.column_stack([np.arange(6.0) * 3 + 10, np.full(6, 4.0)])
    z = znormalised(values)
    np.testing.assert_allclose(z[:, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, 0].std(), 1, rtol=1e-12)
    np.testing.assert_array_equal(z[:, 1], 0.0)  # constant: no division by zero, no NaN
    np.testing.assert_allclose(znormalised(values * 7 - 3)[:, 0], z[:, 0], rtol=1e-12)  # scale and offset free


def test_a_z_normalised_run_classifies_by_shape_alone_and_saves_the_setting(tmp_path):
    import rnnlab

    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 30)
    series, labels = [], []
    for k in range(40):  # the class is the shape; every sequence at its own random offset and scale
        shape = np.sin(t) if k % 2 else np.sign(np.sin(t))
        series.append((rng.uniform(-50, 50) + rng.uniform(0.1, 20) * shape)[:, None] + rng.normal(0, 0.05, (30, 1)))
        labels.append("sine" if k % 2 else "square")
    fitted = rnnlab.SeriesClassifier(znormalise=True, epochs=1, hidden_size=4, batch_size=8).fit(series, labels)
    metrics = fitted.evaluate()["metrics"]
    assert metrics["1nn_ed"]["accuracy"] == 1.0  # z-normalised, the baselines see the shapes only
    loaded = rnnlab.SeriesClassifier.load(fitted.save(tmp_path / "run"))
    assert loaded.get_params()["znormalise"] is True
    np.testing.assert_allclose(loaded.predict_proba(series[:4]), fitted.predict_proba(series[:4]), rtol=1e-6)
