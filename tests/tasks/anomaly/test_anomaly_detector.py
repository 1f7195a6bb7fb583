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


# --- the peaks-over-threshold rule (SPOT) ---------------------------------------------------------------

def test_probability_weighted_moments_recover_a_pareto_tail_as_scipys_fit_does():
    stats = pytest.importorskip("scipy.stats")
    from rnnlab.tasks.anomaly.detector import gpd_pwm

    sample = stats.genpareto.rvs(0.2, scale=1.5, size=20000, random_state=np.random.default_rng(0))
    xi, sigma = gpd_pwm(sample)
    mle_xi, _, mle_sigma = stats.genpareto.fit(sample, floc=0)
    assert abs(xi - 0.2) < 0.03 and abs(sigma - 1.5) < 0.05
    assert abs(xi - mle_xi) < 0.03 and abs(sigma - mle_sigma) < 0.05


def test_the_pot_threshold_is_the_tail_quantile_and_scales_with_the_scores():
    from rnnlab.tasks.anomaly.detector import pot_threshold

    scores = np.random.default_rng(1).exponential(size=20000)
    tau = pot_threshold(scores, risk=1e-3)
    assert abs(tau - np.log(1e3)) < 0.1 * np.log(1e3)  # the exponential's 99.9% quantile, 6.91
    np.testing.assert_allclose(pot_threshold(scores * 37.0, risk=1e-3), 37.0 * tau, rtol=1e-12)
    assert pot_threshold(scores[:300]) == scores[:300].max()  # too few excesses for a tail: the maximum
    with pytest.raises(ValueError, match=r"risk must be a number in \(0, 1\); received 0"):
        pot_threshold(scores, risk=0)
    with pytest.raises(ValueError, match=r"scores must be one or more finite numbers; received 2 \(1 not finite\)"):
        pot_threshold([1.0, np.nan])


@pytest.mark.parametrize("noise", ["gaussian", "student_t"])
@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_the_pot_rule_flags_known_spikes_and_few_normal_points_whatever_the_scale(noise, scale):
    from rnnlab.tasks.anomaly.detector import calibrate_detector

    rng = np.random.default_rng(2)
    n, prefix = 8000, 4000
    steps = rng.standard_normal(n) if noise == "gaussian" else rng.standard_t(5, n)
    values = np.cumsum(steps * scale)[:, None]
    spikes = np.arange(prefix + 200, n, 400)
    values[spikes] += 12 * scale  # a jump up and straight back: two naive residuals of 12 steps' size
    detector = calibrate_detector("naive", None, values, values[:prefix].mean(0), values[:prefix].std(0),
                                  train_end=2000, normal_until=prefix, smooth=1, window=1, quantile=1.0,
                                  margin=2.0, rule="pot", risk=1e-3)
    flags = detector.flags(detector.scores(values))[prefix:]
    anomalous = np.zeros(n - prefix, dtype=bool)
    anomalous[np.concatenate([spikes, spikes + 1]) - prefix] = True
    assert flags[spikes - prefix].all()
    assert flags[~anomalous].mean() < 0.005
