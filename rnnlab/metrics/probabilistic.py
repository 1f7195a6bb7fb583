"""Probabilistic forecast metrics: quantiles, intervals or sample paths in, a float out.

`actual` is (N, h) for N series' next h values (or any shape where stated), in the series' original
units; quantile forecasts add a trailing axis of Q levels, sample paths a leading axis of S draws.

    pinball     mean max(τ e, (τ − 1) e), e = y − q
    wQL         mean over τ of 2 Σ pinball_τ / Σ |y|  (GluonTS's mean_wQuantileLoss)
    CRPS        E|X − y| − ½ E|X − X'|, X, X' independent draws of the forecast
    coverage    share of y inside [l, u]
    MSIS        mean over h of (u − l) + 2/α (l − y) 1[y < l] + 2/α (y − u) 1[y > u], per series
                divided by its seasonal-naive in-sample MAE, then the mean over series (M4)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnlab.metrics.regression import seasonal_naive_scale


def _levels(levels: Sequence[float]) -> np.ndarray:
    values = np.asarray(levels, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all((values > 0) & (values < 1)):
        raise ValueError(f"levels must be a non-empty 1-D sequence of numbers in (0, 1); received {levels!r}")
    return values


def _same_shape(actual, **others) -> tuple[np.ndarray, ...]:
    """`actual` and each of `others` as float64, checked to share one non-empty shape."""
    actual = np.asarray(actual, dtype=np.float64)
    if actual.size == 0:
        raise ValueError(f"actual must not be empty; received shape {actual.shape}")
    arrays = [actual]
    for name, value in others.items():
        value = np.asarray(value, dtype=np.float64)
        if value.shape != actual.shape:
            raise ValueError(f"{name} must have actual's shape {actual.shape}; received shape {value.shape}")
        arrays.append(value)
    return tuple(arrays)


def _quantile_forecast(actual, predicted, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    levels = _levels(levels)
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.size == 0:
        raise ValueError(f"actual must not be empty; received shape {actual.shape}")
    if predicted.shape != (*actual.shape, len(levels)):
        raise ValueError(f"predicted must have shape {(*actual.shape, len(levels))} (actual's shape and one "
                         f"entry per level); received shape {predicted.shape}")
    return actual, predicted, levels


def _pinball(actual: np.ndarray, predicted: np.ndarray, levels: np.ndarray) -> np.ndarray:
    error = actual[..., None] - predicted  # (..., Q)
    return np.maximum(levels * error, (levels - 1) * error)


def pinball(actual: np.ndarray, predicted: np.ndarray, levels: Sequence[float]) -> float:
    """Mean pinball (quantile) loss over every entry and level.

    Args:
        actual: (...,) observed values.
        predicted: (..., Q) the forecast's quantile at each level.
        levels: (Q,) the levels τ in (0, 1).
    """
    return float(np.mean(_pinball(*_quantile_forecast(actual, predicted, levels))))


def weighted_quantile_loss(actual: np.ndarray, predicted: np.ndarray, levels: Sequence[float]) -> float:
    """GluonTS's mean weighted quantile loss: mean over τ of 2 Σ pinball_τ / Σ |y|.

    Args:
        actual: (N, h) observed values.
        predicted: (N, h, Q) quantiles at `levels`.
        levels: (Q,) the levels τ in (0, 1).

    Raises:
        ValueError: on a shape mismatch, or if Σ |y| is 0 (the weights are undefined).
    """
    actual, predicted, levels = _quantile_forecast(actual, predicted, levels)
    if actual.ndim != 2:
        raise ValueError(f"actual must be (N, h); received shape {actual.shape}")
    total = np.abs(actual).sum()
    if total == 0:
        raise ValueError("actual must not be all zeros (wQL divides by Σ |y|); received Σ |y| = 0")
    per_level = 2 * _pinball(actual, predicted, levels).sum(axis=(0, 1)) / total  # (Q,)
    return float(per_level.mean())


def crps_from_samples(actual: np.ndarray, samples: np.ndarray) -> float:
    """Mean CRPS of the empirical distribution of S draws, E|X − y| − ½ E|X − X'|.

    Both expectations are over the S draws (E|X − X'| averages all S² pairs, the i = j ones
    included), so this is exactly ∫ (F_S(x) − 1[y ≤ x])² dx for the draws' CDF F_S. The pair
    term comes from the sorted draws x₍₁₎ ≤ … ≤ x₍S₎: Σᵢⱼ |xᵢ − xⱼ| = 2 Σᵢ (2i − S − 1) x₍ᵢ₎,
    O(S log S) time and no (S, S) array.

    Args:
        actual: (N, h) observed values.
        samples: (S, N, h) draws of the forecast.
    """
    actual = np.asarray(actual, dtype=np.float64)
    samples = np.asarray(samples, dtype=np.float64)
    if actual.ndim != 2 or actual.size == 0:
        raise ValueError(f"actual must be a non-empty (N, h) array; received shape {actual.shape}")
    if samples.ndim != 3 or samples.shape[1:] != actual.shape or samples.shape[0] == 0:
        raise ValueError(f"samples must have shape (S, {actual.shape[0]}, {actual.shape[1]}); "
                         f"received shape {samples.shape}")
    count = samples.shape[0]
    to_actual = np.abs(samples - actual).mean(axis=0)  # (N, h)
    weights = (2 * np.arange(1, count + 1) - count - 1).reshape(-1, 1, 1)  # (S, 1, 1)
    # E|X − X'| over all S² pairs, (N, h)
    between = 2 * (weights * np.sort(samples, axis=0)).sum(axis=0) / count**2
    return float(np.mean(to_actual - 0.5 * between))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of `actual` inside [lower, upper], all three of one shape."""
    actual, lower, upper = _same_shape(actual, lower=lower, upper=upper)
    return float(np.mean((actual >= lower) & (actual <= upper)))


def _series_list(train, count: int) -> list[np.ndarray]:
    """`train` as `count` per-series arrays: a sequence of 1-D arrays, a 2-D array (a row per
    series), or, for one series, a 1-D array."""
    if isinstance(train, np.ndarray):
        series = [train] if train.ndim == 1 else list(train)
    elif len(train) and all(np.ndim(value) == 0 for value in train):
        series = [np.asarray(train)]
    else:
        series = list(train)
    if len(series) != count:
        raise ValueError(f"train must hold one training series per row of actual ({count}); "
                         f"received {len(series)}")
    return series


def msis(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, *, train, season: int,
         alpha: float = 0.05) -> float:
    """The M4 competition's mean scaled interval score of (1 − α) intervals.

        IS = mean over h of (u − l) + 2/α (l − y) 1[y < l] + 2/α (y − u) 1[y > u]
        MSIS = mean over series of IS / mean_{t > m} |y_t − y_{t−m}|  (in-sample, per series)

    Args:
        actual, lower, upper: (N, h) values and the interval's bounds, original units.
        train: the N training series (a sequence of 1-D arrays, or an (N, T) array; a 1-D array
            when N is 1).
        season: the seasonal period m of the scale (`seasonal_naive_scale`).
        alpha: the interval's miss rate, 0.05 for 95% intervals.
    """
    actual, lower, upper = _same_shape(actual, lower=lower, upper=upper)
    if actual.ndim != 2:
        raise ValueError(f"actual must be (N, h); received shape {actual.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); received {alpha!r}")
    scales = np.array([seasonal_naive_scale(series, season) for series in _series_list(train, len(actual))])
    score = ((upper - lower) + 2 / alpha * (lower - actual) * (actual < lower)
             + 2 / alpha * (actual - upper) * (actual > upper))  # (N, h)
    return float(np.mean(score.mean(axis=1) / scales))


def interval_levels(levels: Sequence[float]) -> list[tuple[float, float, float]]:
    """Pairs of symmetric quantile levels as central intervals, widest first.

    (0.05, 0.95) gives (90, 0.05, 0.95), (0.25, 0.75) gives (50, 0.25, 0.75); a level without its
    partner 1 − τ (0.5 among them) is skipped. The levels come back as given; the coverage, in
    percent, is an int when it is whole.
    """
    values = [float(q) for q in _levels(levels)]
    by_rounded = {round(q, 6): q for q in values}
    pairs = []
    for q in sorted(values):
        partner = by_rounded.get(round(1 - q, 6))
        if q < 0.5 and partner is not None and round(q, 6) < round(partner, 6):
            percent = round(100 * (partner - q), 6)
            pairs.append((int(percent) if percent.is_integer() else percent, q, partner))
    return pairs
