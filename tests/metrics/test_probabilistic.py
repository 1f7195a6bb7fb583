"""Probabilistic metrics against values computed by hand, closed forms and direct loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlab.metrics.probabilistic import (
    coverage,
    crps_from_samples,
    interval_levels,
    msis,
    pinball,
    weighted_quantile_loss,
)

# one series, two steps, quantiles at 0.1, 0.5, 0.9; pinball_τ(e) = max(τ e, (τ − 1) e), e = y − q
ACTUAL = np.array([[2.0, 4.0]])
LEVELS = (0.1, 0.5, 0.9)
PREDICTED = np.array([[[1.0, 3.0, 3.0], [3.0, 4.0, 5.0]]])
# τ = 0.1: e = 1, 1   → 0.1 + 0.1 = 0.2
# τ = 0.5: e = −1, 0  → 0.5 + 0   = 0.5
# τ = 0.9: e = −1, −1 → 0.1 + 0.1 = 0.2


def test_pinball_is_the_mean_over_entries_and_levels():
    assert pinball(ACTUAL, PREDICTED, LEVELS) == pytest.approx((0.2 + 0.5 + 0.2) / 6)


def test_weighted_quantile_loss_by_hand():
    # Σ |y| = 6; per level 2 Σ pinball / 6 = 0.4/6, 1.0/6, 0.4/6; their mean is 0.1
    assert weighted_quantile_loss(ACTUAL, PREDICTED, LEVELS) == pytest.approx(0.1)


def test_weighted_quantile_loss_is_undefined_for_all_zero_actuals():
    with pytest.raises(ValueError, match="actual"):
        weighted_quantile_loss(np.zeros((1, 2)), PREDICTED, LEVELS)


def gaussian_crps(y, mu, sigma):
    """Closed form (Gneiting & Raftery 2007): σ [ω (2Φ(ω) − 1) + 2φ(ω) − 1/√π], ω = (y − μ)/σ."""
    omega = (y - mu) / sigma
    cdf = 0.5 * (1 + np.vectorize(math.erf)(omega / math.sqrt(2)))
    pdf = np.exp(-omega**2 / 2) / math.sqrt(2 * math.pi)
    return sigma * (omega * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def test_crps_of_gaussian_samples_is_the_closed_form():
    rng = np.random.default_rng(0)
    mu, sigma = np.array([[0.0, 1.0, -2.0]]), np.array([[1.0, 0.5, 3.0]])
    actual = np.array([[0.3, 2.5, -2.0]])
    samples = mu + sigma * rng.standard_normal((100_000, 1, 3))
    assert crps_from_samples(actual, samples) == pytest.approx(gaussian_crps(actual, mu, sigma).mean(), rel=1e-2)


def test_crps_equals_the_pairwise_sum_over_draws():
    rng = np.random.default_rng(1)
    actual, samples = rng.normal(size=(3, 4)), rng.normal(size=(7, 3, 4))
    to_actual = np.abs(samples - actual).mean(axis=0)
    between = np.abs(samples[:, None] - samples[None, :]).mean(axis=(0, 1))  # all S² pairs
    assert crps_from_samples(actual, samples) == pytest.approx(np.mean(to_actual - 0.5 * between), abs=1e-10)


def test_crps_of_one_draw_is_the_absolute_error():
    assert crps_from_samples(np.array([[1.0, 2.0]]), np.array([[[4.0, 1.5]]])) == pytest.approx((3 + 0.5) / 2)


def test_coverage_counts_the_bounds_as_inside():
    actual = np.array([[1.0, 2.0, 3.0, 4.0]])
    lower, upper = np.array([[0.0, 2.0, 3.5, 0.0]]), np.array([[2.0, 2.0, 5.0, 3.0]])
    assert coverage(actual, lower, upper) == pytest.approx(0.5)  # 1 and 2 in; 3 below, 4 above


# two series; the scale is the in-sample MAE of the naive forecast (season 1)
MSIS_TRAIN = [np.array([1.0, 2.0, 4.0, 3.0, 5.0]), np.array([10.0, 12.0, 10.0, 12.0, 11.0, 13.0])]
MSIS_ACTUAL = np.array([[6.0, 7.0], [9.0, 14.0]])
MSIS_LOWER = np.array([[5.0, 5.0], [10.0, 12.0]])
MSIS_UPPER = np.array([[7.0, 6.5], [13.0, 15.0]])


def test_msis_by_hand():
    # 2/α = 40. Series 1: scale (1 + 2 + 1 + 2)/4 = 1.5; steps 2 (inside) and 1.5 + 40 · 0.5 = 21.5 → 11.75 / 1.5
    # series 2: scale (2 + 2 + 2 + 1 + 2)/5 = 1.8; steps 3 + 40 · 1 = 43 and 3 (inside) → 23 / 1.8
    expected = (11.75 / 1.5 + 23 / 1.8) / 2
    assert msis(MSIS_ACTUAL, MSIS_LOWER, MSIS_UPPER, train=MSIS_TRAIN, season=1) == pytest.approx(expected)


def msis_by_loop(actual, lower, upper, train, season, alpha):
    scores = []
    for y, l, u, history in zip(actual, lower, upper, train):
        scale = np.mean([abs(history[t] - history[t - season]) for t in range(season, len(history))])
        total = 0.0
        for step in range(len(y)):
            total += u[step] - l[step]
            if y[step] < l[step]:
                total += 2 / alpha * (l[step] - y[step])
            if y[step] > u[step]:
                total += 2 / alpha * (y[step] - u[step])
        scores.append(total / len(y) / scale)
    return np.mean(scores)


@pytest.mark.parametrize("season, alpha", [(1, 0.05), (2, 0.1), (3, 0.2)])
def test_msis_equals_a_direct_loop(season, alpha):
    rng = np.random.default_rng(season)
    train = [rng.normal(size=n) for n in (9, 12, 20)]
    actual, middle = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    lower, upper = middle - 0.6, middle + 0.6
    expected = msis_by_loop(actual, lower, upper, train, season, alpha)
    assert msis(actual, lower, upper, train=train, season=season, alpha=alpha) == pytest.approx(expected)
    stacked = np.stack([t[-9:] for t in train])  # an (N, T) array holds a series per row
    assert msis(actual, lower, upper, train=stacked, season=season, alpha=alpha) == pytest.approx(
        msis_by_loop(actual, lower, upper, stacked, season, alpha))


def test_msis_takes_one_series_history_as_a_1d_array():
    expected = msis(MSIS_ACTUAL[:1], MSIS_LOWER[:1], MSIS_UPPER[:1], train=MSIS_TRAIN[:1], season=1)
    assert msis(MSIS_ACTUAL[:1], MSIS_LOWER[:1], MSIS_UPPER[:1], train=MSIS_TRAIN[0], season=1) == expected
    assert msis(MSIS_ACTUAL[:1], MSIS_LOWER[:1], MSIS_UPPER[:1], train=list(MSIS_TRAIN[0]), season=1) == expected


def test_msis_checks_its_arguments():
    with pytest.raises(ValueError, match=r"train must hold one training series per row of actual \(2\); received 1"):
        msis(MSIS_ACTUAL, MSIS_LOWER, MSIS_UPPER, train=MSIS_TRAIN[:1], season=1)
    with pytest.raises(ValueError, match="alpha must be in"):
        msis(MSIS_ACTUAL, MSIS_LOWER, MSIS_UPPER, train=MSIS_TRAIN, season=1, alpha=1.5)
    with pytest.raises(ValueError, match="season"):
        msis(MSIS_ACTUAL, MSIS_LOWER, MSIS_UPPER, train=MSIS_TRAIN, season=0)


def test_interval_levels_pair_symmetric_levels_widest_first():
    assert interval_levels((0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)) == [(90, 0.05, 0.95), (80, 0.1, 0.9),
                                                                        (50, 0.25, 0.75)]
    assert interval_levels((0.2, 0.5, 0.9)) == []  # no level has its partner
    assert interval_levels((0.1, 1 - 0.1 + 1e-12)) == [(80, 0.1, 1 - 0.1 + 1e-12)]  # compared rounded
    assert interval_levels((0.025, 0.975)) == [(95, 0.025, 0.975)]
    assert interval_levels((0.3, 0.7))[0][0] == 40


def test_interval_levels_check_the_levels():
    with pytest.raises(ValueError, match=r"levels must .*received \(0.5, 1.5\)"):
        interval_levels((0.5, 1.5))


@pytest.mark.parametrize("call, argument", [
    (lambda: pinball(ACTUAL, PREDICTED[..., :2], LEVELS), r"predicted must have shape \(1, 2, 3\).*\(1, 2, 2\)"),
    (lambda: weighted_quantile_loss(ACTUAL[0], PREDICTED[0], LEVELS), r"actual must be \(N, h\); received .*\(2,\)"),
    (lambda: crps_from_samples(ACTUAL, np.zeros((5, 2, 2))), r"samples must have shape \(S, 1, 2\); .*\(5, 2, 2\)"),
    (lambda: crps_from_samples(ACTUAL[0], np.zeros((5, 2))), r"actual must be a non-empty \(N, h\)"),
    (lambda: coverage(ACTUAL, ACTUAL[0], ACTUAL), r"lower must have actual's shape \(1, 2\); received shape \(2,\)"),
    (lambda: msis(MSIS_ACTUAL, MSIS_LOWER, MSIS_UPPER[:1], train=MSIS_TRAIN, season=1), r"upper must have .*\(1, 2\)"),
    (lambda: pinball(ACTUAL, PREDICTED, (0.1, 0.5, 1.0)), r"levels must .*received \(0.1, 0.5, 1.0\)"),
])
def test_shape_errors_name_the_argument_and_the_shape(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()
