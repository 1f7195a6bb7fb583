"""Tests for rnnlab.data.windows: sliding (input, target) windows and mini-batches."""

import importlib.util
import os

import numpy as np
import pytest
import torch

from rnnlab.data import DataError, batches, make_windows, num_batches


def _course_data():
    return np.arange(1, 11, dtype=np.float64)[:, None]               # (10, 1): 1..10


def test_course_example_window3_horizon1():
    X, Y = make_windows(_course_data(), 0, window=3, horizon=1)
    expected_X = np.array([[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6], [5, 6, 7], [6, 7, 8],
                           [7, 8, 9]], dtype=np.float64)[:, :, None]   # (7, 3, 1)
    expected_Y = np.array([[4], [5], [6], [7], [8], [9], [10]], dtype=np.float64)  # (7, 1)
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(Y, expected_Y)
    assert X.dtype == np.float64 and Y.dtype == np.float64


def test_multi_step_horizon():
    X, Y = make_windows(_course_data(), 0, window=3, horizon=2)
    assert X.shape == (6, 3, 1) and Y.shape == (6, 2)
    np.testing.assert_array_equal(X[0, :, 0], [1, 2, 3])
    np.testing.assert_array_equal(Y[0], [4, 5])
    np.testing.assert_array_equal(X[-1, :, 0], [6, 7, 8])
    np.testing.assert_array_equal(Y[-1], [9, 10])


def test_stride():
    X, Y = make_windows(_course_data(), 0, window=3, stride=3)
    np.testing.assert_array_equal(X[:, :, 0], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(Y[:, 0], [4, 7, 10])


def test_multivariate_target_column():
    values = np.stack([np.arange(10.0), 100 + np.arange(10.0)], axis=1)  # (10, 2)
    X, Y = make_windows(values, 1, window=4, horizon=1)
    assert X.shape == (6, 4, 2)
    np.testing.assert_array_equal(X[0], values[0:4])
    np.testing.assert_array_equal(Y[:, 0], 100 + np.arange(4.0, 10.0))


def test_targets_span_reads_context_before_it():
    # Validation span [6, 9): windows may read inputs from before index 6, targets stay inside.
    X, Y = make_windows(_course_data(), 0, window=3, targets_from=6, targets_to=9)
    np.testing.assert_array_equal(X[:, :, 0], [[4, 5, 6], [5, 6, 7], [6, 7, 8]])
    np.testing.assert_array_equal(Y[:, 0], [7, 8, 9])                 # values at indices 6, 7, 8


def test_spans_partition_the_targets():
    values = _course_data()
    spans = [(0, 6), (6, 8), (8, 10)]
    targets = [make_windows(values, 0, window=3, targets_from=a, targets_to=b)[1][:, 0]
               for a, b in spans]
    # Every possible target (4..10) appears exactly once, each in its own span.
    np.testing.assert_array_equal(np.concatenate(targets), np.arange(4.0, 11.0))


@pytest.mark.parametrize("window", [0, -2])
def test_non_positive_window_is_rejected(window):
    with pytest.raises(ValueError, match=rf"window must be a positive integer; received {window}"):
        make_windows(_course_data(), 0, window=window)


@pytest.mark.parametrize("arg", ["horizon", "stride"])
def test_non_positive_horizon_or_stride_is_rejected(arg):
    with pytest.raises(ValueError, match=rf"{arg} must be a positive integer; received 0"):
        make_windows(_course_data(), 0, window=2, **{arg: 0})


def test_too_short_series():
    with pytest.raises(DataError) as error:
        make_windows(_course_data(), 0, window=8, horizon=3)
    assert str(error.value) == ("series of 10 points is too short for window=8 + horizon=3: "
                                "needs at least 11")


def test_span_without_a_window():
    with pytest.raises(DataError, match=r"no window fits: targets in \[8, 9\)"):
        make_windows(_course_data(), 0, window=3, horizon=2, targets_from=8, targets_to=9)


def test_bad_span_and_target_index():
    with pytest.raises(ValueError, match="targets_to=11"):
        make_windows(_course_data(), 0, window=3, targets_to=11)
    with pytest.raises(ValueError, match="target_index must be in \\[0, 1\\); received 1"):
        make_windows(_course_data(), 1, window=3)


def _keras_format():
    """Which keras dataset format can run here: grain or tf; None skips the parity tests."""
    for module, fmt in (("grain", "grain"), ("tensorflow", "tf")):
        if importlib.util.find_spec(module) is not None:
            return fmt
    return None


@pytest.mark.parametrize("window, horizon, stride", [(3, 1, 1), (5, 1, 2), (4, 3, 1), (6, 2, 3)])
def test_parity_with_keras_timeseries_dataset(window, horizon, stride):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    fmt = _keras_format()
    if fmt is None:
        pytest.skip("keras.utils.timeseries_dataset_from_array needs grain or tensorflow")
    rng = np.random.default_rng(0)
    values = rng.normal(size=(40, 2))                                  # (N, C)
    # Keras pairs data[i:i+window] with targets[i]; targets[i] = the horizon block after it.
    blocks = np.lib.stride_tricks.sliding_window_view(values[window:, 1], horizon)  # (N-W-H+1, H)
    dataset = keras.utils.timeseries_dataset_from_array(
        values[:len(values) - horizon], blocks, sequence_length=window, sequence_stride=stride,
        batch_size=None, format=fmt)
    keras_X = np.stack([np.asarray(x) for x, _ in dataset])
    keras_Y = np.stack([np.asarray(y) for _, y in dataset])
    X, Y = make_windows(values, 1, window=window, horizon=horizon, stride=stride)
    np.testing.assert_allclose(X, keras_X)
    np.testing.assert_allclose(Y, keras_Y.reshape(len(keras_Y), horizon))


def test_batches_in_time_order_cover_all_windows():
    X, Y = make_windows(_course_data(), 0, window=3)                   # 7 windows
    pairs = list(batches(X, Y, 3, shuffle=False))
    assert [len(xs) for xs, _ in pairs] == [3, 3, 1] == [len(ys) for _, ys in pairs]
    assert num_batches(len(X), 3) == 3
    xs, ys = pairs[0]
    assert xs.dtype == torch.float32 and ys.dtype == torch.float32
    assert xs.shape == (3, 3, 1) and ys.shape == (3, 1)
    torch.testing.assert_close(torch.cat([ys for _, ys in pairs])[:, 0],
                               torch.arange(4.0, 11.0))


def test_batches_shuffle_follows_the_generator():
    X, Y = make_windows(_course_data(), 0, window=3)
    first = torch.cat([ys for _, ys in batches(X, Y, 2, shuffle=True,
                                               generator=torch.Generator().manual_seed(1))])
    again = torch.cat([ys for _, ys in batches(X, Y, 2, shuffle=True,
                                               generator=torch.Generator().manual_seed(1))])
    expected = torch.tensor(Y, dtype=torch.float32)[torch.randperm(7, generator=torch.Generator().manual_seed(1))]
    torch.testing.assert_close(first, again)
    torch.testing.assert_close(first, expected)
    assert not torch.equal(first, torch.tensor(Y, dtype=torch.float32))  # actually shuffled
    # Inputs stay paired with their targets: the target is the step after the window's last input.
    for xs, ys in batches(X, Y, 2, shuffle=True, generator=torch.Generator().manual_seed(2)):
        torch.testing.assert_close(xs[:, -1, 0] + 1, ys[:, 0])


def test_batches_rejects_bad_batch_size():
    X, Y = make_windows(_course_data(), 0, window=3)
    with pytest.raises(ValueError, match="batch_size must be a positive integer; received 0"):
        batches(X, Y, 0, shuffle=False)
