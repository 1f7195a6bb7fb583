"""The batch scoring pipeline: residuals, scales, smoothing, thresholds, calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.tasks.anomaly.detector import (Detector, calibrate_detector, calibrate_threshold, forecast_residuals,
                                           naive_residuals, point_scores, reconstruction_residuals, residual_scale,
                                           scoring_copy)
from rnnlab.tasks.anomaly.model import NextStepForecaster, SequenceAutoencoder


def series(n: int = 60, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return np.sin(2 * np.pi * t / 12 + np.arange(channels)) + 0.1 * rng.standard_normal((n, channels))


def test_forecast_residuals_are_the_error_of_the_previous_steps_forecast():
    torch.manual_seed(1)
    model = NextStepForecaster(2, hidden_size=4).double()
    xs = series(15)
    residuals = forecast_residuals(model, xs)
    with torch.no_grad():
        predictions = model(torch.as_tensor(xs)[None])[0][0].numpy()
    assert np.all(residuals[0] == 0)
    np.testing.assert_allclose(residuals[1:], xs[1:] - predictions[:-1])


def test_reconstruction_residuals_take_the_newest_point_of_each_window():
    torch.manual_seed(2)
    model = SequenceAutoencoder(2, hidden_size=4, latent_size=2).double()
    xs, width = series(12), 4
    residuals = reconstruction_residuals(model, xs, width, batch_size=3)   # several batches
    assert np.all(residuals[: width - 1] == 0)
    with torch.no_grad():
        newest = model(torch.as_tensor(xs[7 - width + 1 : 8])[None])[0, -1].numpy()
    np.testing.assert_allclose(residuals[7], xs[7] - newest)
    np.testing.assert_allclose(reconstruction_residuals(model, xs, width, batch_size=100), residuals)
    assert np.all(reconstruction_residuals(model, xs[:3], width) == 0)   # shorter than one window


def test_naive_residuals_scales_and_smoothed_scores_follow_their_equations():
    xs = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 4.0], [2.0, 2.0]])
    residuals = naive_residuals(xs)
    np.testing.assert_array_equal(residuals, [[0, 0], [2, 0], [-1, 4], [0, -2]])
    scale = residual_scale(residuals[1:])
    np.testing.assert_allclose(scale, [np.sqrt(5 / 3), np.sqrt(20 / 3)])
    assert residual_scale(np.zeros((3, 1)))[0] == 1.0               # a flat channel divides by 1, not 0
    z = np.mean(np.abs(residuals) / scale, axis=1)
    np.testing.assert_allclose(point_scores(residuals, scale, 1), z)
    np.testing.assert_allclose(point_scores(residuals, scale, 2), [z[0] / 2, (z[0] + z[1]) / 2,
                                                                   (z[1] + z[2]) / 2, (z[2] + z[3]) / 2])
    with pytest.raises(ValueError, match="smooth must be a positive integer"):
        point_scores(residuals, scale, 0)


def test_threshold_is_margin_times_a_quantile_of_normal_scores():
    scores = np.arange(11.0)
    assert calibrate_threshold(scores) == 10.0
    assert calibrate_threshold(scores, quantile=0.5, margin=2.0) == 10.0
    for kwargs, message in (({"quantile": 1.5}, "quantile must be in"), ({"margin": 0.0}, "margin must be positive")):
        with pytest.raises(ValueError, match=message):
            calibrate_threshold(scores, **kwargs)
    with pytest.raises(ValueError, match="at least one calibration score"):
        calibrate_threshold(np.array([]))


def test_calibrated_detector_flags_no_calibration_point_and_flags_a_spike():
    values = series(120, channels=1)
    values[100] += 6.0                                              # an obvious spike after the normal prefix
    mean, std = values[:60].mean(axis=0), values[:60].std(axis=0)
    detector = calibrate_detector("naive", None, values, mean, std, train_end=60, normal_until=90, smooth=1,
                                  window=1, quantile=1.0, margin=1.0)
    scores = detector.scores(values)
    assert detector.threshold == pytest.approx(scores[60:90].max())
    assert not detector.flags(scores[60:90]).any()
    assert detector.flags(scores)[100] and int(np.argmax(scores)) in (100, 101)


def test_detector_checks_its_method_and_model():
    ones = np.ones(1)
    with pytest.raises(ValueError, match="method must be one of"):
        Detector("arima", None, ones, ones, ones, 1, 1.0)
    with pytest.raises(ValueError, match="model must be given"):
        Detector("forecast", None, ones, ones, ones, 1, 1.0)


def test_a_separate_calibration_series_sets_the_threshold_from_its_points_with_a_residual():
    values = series(120, channels=1)
    mean, std = values[:60].mean(axis=0), values[:60].std(axis=0)
    other = series(40, channels=1, seed=5)
    options = dict(train_end=90, normal_until=90, smooth=2, window=1, quantile=1.0, margin=1.5)
    detector = calibrate_detector("naive", None, values, mean, std, calibration=other, **options)
    prefix = calibrate_detector("naive", None, values, mean, std, train_end=60, normal_until=90, smooth=2, window=1,
                                quantile=1.0, margin=1.5)
    assert detector.threshold == pytest.approx(1.5 * detector.scores(other)[1:].max())  # point 0 has no residual
    np.testing.assert_allclose(detector.scale, residual_scale(naive_residuals(detector.standardise(values[:90]))[1:]))
    assert detector.threshold != prefix.threshold


def test_a_detector_round_trips_through_its_dict_and_scores_with_a_float64_copy():
    torch.manual_seed(0)
    model = NextStepForecaster(1, hidden_size=4)
    values = series(50, channels=1)
    detector = calibrate_detector("forecast", scoring_copy(model), values, values.mean(axis=0), values.std(axis=0),
                                  train_end=30, normal_until=40, smooth=1, window=1, quantile=1.0, margin=2.0)
    copied = Detector.from_dict(detector.to_dict(), "forecast", scoring_copy(model), smooth=1, window=1)
    np.testing.assert_array_equal(copied.scores(values), detector.scores(values))
    assert next(copied.model.parameters()).dtype == torch.float64 and next(model.parameters()).dtype == torch.float32
