"""How residuals become scores and flags: the recurrent detectors, the naive baseline, and their calibration.

Every method turns a standardised series x_1..x_N (N, C) into a residual r_t (C,) per point, and
all methods share the same last three steps:

    z_t = (1/C) Σ_c |r_t,c| / s_c                  standardised score, s_c from the training span
    a_t = (1/k) Σ_{j=0}^{k-1} z_{t-j}              causal moving average (k = `smooth`; z_{<1} = 0)
    flag_t = a_t > τ                               τ calibrated on held-out normal points

Residuals of the three methods:

    forecast        r_t = x_t − x̂_t,  x̂_t = W h_{t-1} + b,  h_t = cell(x_t, h_{t-1}), h_0 = 0
                    (a one-step-ahead forecaster run over the whole stream with carried state;
                    r_1 = 0: nothing has been read yet)
    reconstruction  r_t = x_t − x̃_t^{(t)}, where x̃^{(t)} is a sequence autoencoder's reconstruction
                    of the window x_{t-W+1..t} and x̃_t^{(t)} its last step (the newest point);
                    r_t = 0 for the first W − 1 points, which complete no window
    naive           r_t = x_t − x_{t-1} (the residual of the naive forecast x̂_t = x_{t-1}); r_1 = 0

The forecaster and the autoencoder are `rnnlab.tasks.anomaly.model`'s. Everything here works on
whole series (batch mode): `Detector` bundles a method with its calibration (μ, σ, s_c, k, τ) and
scores a raw series; `rnnlab.tasks.anomaly.streaming.ScoreStream` computes the same numbers one
point at a time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.tasks.anomaly.model import NextStepForecaster, SequenceAutoencoder

METHODS = ("forecast", "reconstruction")


def _as_tensor(values: np.ndarray, model: nn.Module) -> Tensor:
    parameter = next(model.parameters())
    return torch.as_tensor(np.asarray(values), dtype=parameter.dtype, device=parameter.device)


def forecast_residuals(model: NextStepForecaster, xs: np.ndarray) -> np.ndarray:
    """r_t = x_t − x̂_t over a whole series, the model run once over it from a zero state.

    Args:
        model: the forecaster, in the dtype to compute in (scoring uses a float64 copy).
        xs: (N, C) standardised series.

    Returns:
        (N, C) float64 residuals; row 0 is zeros (no forecast precedes the first point).
    """
    with torch.no_grad():
        predictions, _ = model.eval()(_as_tensor(xs, model)[None])     # (1, N, C)
    predictions = predictions[0].double().cpu().numpy()
    residuals = np.zeros_like(np.asarray(xs, dtype=np.float64))
    residuals[1:] = xs[1:] - predictions[:-1]
    return residuals


def reconstruction_residuals(model: SequenceAutoencoder, xs: np.ndarray, window: int, *,
                             batch_size: int = 512) -> np.ndarray:
    """r_t = x_t − x̃_t^{(t)}: each point's error as the newest step of the window it completes.

    Args:
        model: the autoencoder, in the dtype to compute in.
        xs: (N, C) standardised series.
        window: W, the width the autoencoder reads.
        batch_size: windows reconstructed per call (memory only; results do not depend on it).

    Returns:
        (N, C) float64 residuals; the first W − 1 rows are zeros.
    """
    xs = np.asarray(xs, dtype=np.float64)
    residuals = np.zeros_like(xs)
    if len(xs) < window:
        return residuals
    windows = np.lib.stride_tricks.sliding_window_view(xs, window, axis=0).transpose(0, 2, 1)  # (N-W+1, W, C)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            chunk = np.ascontiguousarray(windows[start : start + batch_size])
            newest = model(_as_tensor(chunk, model))[:, -1].double().cpu().numpy()   # (b, C)
            rows = slice(window - 1 + start, window - 1 + start + len(chunk))
            residuals[rows] = xs[rows] - newest
    return residuals


def naive_residuals(xs: np.ndarray) -> np.ndarray:
    """r_t = x_t − x_{t-1} (the naive forecast's error); (N, C) → (N, C), row 0 zeros."""
    xs = np.asarray(xs, dtype=np.float64)
    residuals = np.zeros_like(xs)
    residuals[1:] = np.diff(xs, axis=0)
    return residuals


def residual_scale(residuals: np.ndarray) -> np.ndarray:
    """s_c = sqrt(mean_t r_t,c²) over the given (training-span) residuals; 1 where that is 0.

    Args:
        residuals: (M, C), the rows that carry a residual (no leading zero rows).

    Returns:
        (C,) float64.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    if residuals.ndim != 2 or len(residuals) == 0:
        raise ValueError(f"residuals must have shape (M, C) with M >= 1; received {residuals.shape}")
    scale = np.sqrt(np.mean(residuals**2, axis=0))
    return np.where(scale > 0, scale, 1.0)


def point_scores(residuals: np.ndarray, scale: np.ndarray, smooth: int) -> np.ndarray:
    """a_t: the standardised residuals averaged over channels, then over the last `smooth` points.

    Args:
        residuals: (N, C).
        scale: (C,) from `residual_scale`.
        smooth: k ≥ 1, the moving-average width (1: no smoothing). Points before the first count
            as 0, so a_t = (z_1 + ... + z_t) / k for t < k; the same rule streams in O(1).

    Returns:
        (N,) float64 scores.
    """
    check_positive_int("smooth", smooth)
    z = np.mean(np.abs(np.asarray(residuals, dtype=np.float64)) / scale, axis=1)   # (N,)
    return np.convolve(z, np.ones(smooth))[: len(z)] / smooth


def calibrate_threshold(scores: np.ndarray, *, quantile: float = 1.0, margin: float = 1.0) -> float:
    """τ = margin × (the `quantile` quantile of scores on held-out normal points).

    With quantile 1 (the default) τ is the largest normal score times the margin: no held-out
    normal point is flagged when margin ≥ 1.

    Raises:
        ValueError: if `scores` is empty, `quantile` is outside [0, 1] or `margin` is not positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("scores must hold at least one calibration score; received none")
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1]; received {quantile!r}")
    if not margin > 0:
        raise ValueError(f"margin must be positive; received {margin!r}")
    return float(margin * np.quantile(scores, quantile))


@dataclass(frozen=True, eq=False)
class Detector:
    """A trained, calibrated detector.

    Attributes:
        method: "forecast", "reconstruction" or "naive".
        model: the `NextStepForecaster` or `SequenceAutoencoder` (None for "naive"), in eval mode,
            in the dtype to score in.
        mean, std: (C,) input standardisation, fitted on the training span.
        scale: (C,) residual scales s_c.
        smooth: k, the moving-average width of the scores.
        threshold: τ; a point is flagged when its score exceeds it.
        window: W, the autoencoder's width (reconstruction only).
    """

    method: str
    model: nn.Module | None
    mean: np.ndarray
    std: np.ndarray
    scale: np.ndarray
    smooth: int
    threshold: float
    window: int = 1

    def __post_init__(self) -> None:
        if self.method not in (*METHODS, "naive"):
            raise ValueError(f"method must be one of {[*METHODS, 'naive']}; received {self.method!r}")
        if (self.model is None) != (self.method == "naive"):
            raise ValueError(f"model must be given for method {self.method!r} (and only for a model-based one)")

    def standardise(self, values: np.ndarray) -> np.ndarray:
        """x = (v − μ) / σ, for (..., C) raw values."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def residuals(self, xs: np.ndarray) -> np.ndarray:
        """(N, C) residuals of the standardised series xs (N, C), by this detector's method."""
        if self.method == "forecast":
            return forecast_residuals(self.model, xs)
        if self.method == "reconstruction":
            return reconstruction_residuals(self.model, xs, self.window)
        return naive_residuals(xs)

    def scores(self, values: np.ndarray) -> np.ndarray:
        """Batch mode: the (N,) scores of a whole raw series (N, C)."""
        return point_scores(self.residuals(self.standardise(values)), self.scale, self.smooth)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """(N,) bool: score > τ."""
        return np.asarray(scores) > self.threshold

    def to_dict(self) -> dict:
        """The calibration as JSON-ready lists (the model is saved on its own)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "scale": self.scale.tolist(),
                "threshold": self.threshold}

    @classmethod
    def from_dict(cls, saved: dict, method: str, model: nn.Module | None, *, smooth: int, window: int) -> Detector:
        """The detector whose calibration `to_dict` gave, around `model` (its `scoring_copy`)."""
        arrays = {key: np.asarray(saved[key], dtype=np.float64) for key in ("mean", "std", "scale")}
        return cls(method, model, arrays["mean"], arrays["std"], arrays["scale"], smooth, float(saved["threshold"]),
                   window)


def pot_threshold(scores: np.ndarray, *, risk: float = 1e-3, initial: float = 0.98) -> float:
    """τ from peaks over a threshold (SPOT, Siffer et al. 2017): the score exceeded with
    probability `risk`, from a generalised Pareto tail fitted to the held-out normal scores.

        t   = the `initial` quantile of the n scores;  y = the N_t excesses s − t of the scores above t
        y   ~ GPD(ξ, σ), fitted by probability-weighted moments (Hosking & Wallis 1987):
              a0 = mean(y), a1 = mean((1 − p_i) y_(i)), p_i = (i − 0.35) / N_t for y sorted ascending,
              ξ = 2 − a0 / (a0 − 2 a1),  σ = 2 a0 a1 / (a0 − 2 a1)
        τ   = t + σ/ξ · ((risk · n / N_t)^(−ξ) − 1)      (t − σ log(risk · n / N_t) when ξ = 0)

    Unlike a multiple of the largest normal score, τ follows the tail's shape, so it transfers
    across series whose scores are scaled or spread differently. With fewer than 10 excesses
    (under about 500 scores) no tail can be fitted and τ is the largest score.

    Raises:
        ValueError: if `scores` is empty or not finite, or `risk` or `initial` is outside (0, 1).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError(f"scores must be one or more finite numbers; received {scores.size} "
                         f"({int((~np.isfinite(scores)).sum())} not finite)")
    for name, value in (("risk", risk), ("initial", initial)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be a number in (0, 1); received {value!r}")
    t = float(np.quantile(scores, initial))
    excesses = np.sort(scores[scores > t] - t)
    if excesses.size < 10:
        return float(scores.max())
    xi, sigma = gpd_pwm(excesses)
    ratio = risk * scores.size / excesses.size
    if abs(xi) < 1e-9:
        return t - sigma * np.log(ratio)
    return t + sigma / xi * (ratio ** -xi - 1.0)


def gpd_pwm(excesses: np.ndarray) -> tuple[float, float]:
    """(ξ, σ) of a generalised Pareto distribution by probability-weighted moments (see `pot_threshold`)."""
    y = np.sort(np.asarray(excesses, dtype=np.float64))
    p = (np.arange(1, y.size + 1) - 0.35) / y.size
    a0, a1 = y.mean(), np.mean((1.0 - p) * y)
    return float(2.0 - a0 / (a0 - 2.0 * a1)), float(2.0 * a0 * a1 / (a0 - 2.0 * a1))


def scoring_copy(model: nn.Module) -> nn.Module:
    """A float64 copy on the CPU, in eval mode: scores of batch and streaming agree to rounding."""
    return copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()


def calibrate_detector(method: str, model: nn.Module | None, values: np.ndarray, mean: np.ndarray, std: np.ndarray, *,
                       train_end: int, normal_until: int, smooth: int, window: int, quantile: float,
                       margin: float, calibration: np.ndarray | None = None, rule: str = "quantile",
                       risk: float = 1e-3) -> Detector:
    """A `Detector` whose scales come from the training span and whose threshold from the calibration span.

    Args:
        method, model, mean, std, smooth, window: as the `Detector` attributes.
        values: (N, C) raw series, N ≥ normal_until; only its first `normal_until` points are read.
        train_end: points [0, train_end) are the training span: s_c = RMS of their residuals
            (those that have one: from point 1, or W − 1 for reconstruction).
        normal_until: points [train_end, normal_until) are the calibration span: τ is
            `calibrate_threshold` of their scores with `quantile` and `margin` (rule "quantile"),
            or `pot_threshold` of them with `risk` (rule "pot").
        calibration: (M, C) a normal series of its own to calibrate τ on instead (validation data,
            with train_end = normal_until): its scores from its first point with a residual.
    """
    detector = Detector(method, model, np.asarray(mean), np.asarray(std), np.ones(len(mean)), smooth, 0.0, window)
    residuals = detector.residuals(detector.standardise(values[:normal_until]))
    first = window - 1 if method == "reconstruction" else 1   # the first point that has a residual
    scale = residual_scale(residuals[first:train_end])
    if calibration is None:
        held_out = point_scores(residuals, scale, smooth)[train_end:]
    else:
        held_out = point_scores(detector.residuals(detector.standardise(calibration)), scale, smooth)[first:]
    if rule == "pot":
        threshold = pot_threshold(held_out, risk=risk)
    elif rule == "quantile":
        threshold = calibrate_threshold(held_out, quantile=quantile, margin=margin)
    else:
        raise ValueError(f"rule must be 'quantile' or 'pot'; received {rule!r}")
    return Detector(method, model, detector.mean, detector.std, scale, smooth, threshold, window)


__all__ = ["METHODS", "Detector", "calibrate_detector", "calibrate_threshold", "forecast_residuals", "gpd_pwm",
           "pot_threshold",
           "naive_residuals", "point_scores", "reconstruction_residuals", "residual_scale", "scoring_copy"]
