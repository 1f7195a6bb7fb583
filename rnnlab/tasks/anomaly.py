"""Anomaly detection on a stream: two recurrent scorers, a naive baseline, and how scores become flags.

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

Everything here works on whole series (batch mode): `Detector` bundles a method with its
calibration (μ, σ, s_c, k, τ) and scores a raw series; `rnnlab.tasks.streaming.ScoreStream`
computes the same numbers one point at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.tasks.parts import ENCODERS

METHODS = ("forecast", "reconstruction")


def _check_cell(cell: str) -> None:
    if cell not in ENCODERS:
        raise ValueError(f"cell must be one of {sorted(ENCODERS)}; received {cell!r}")


class NextStepForecaster(nn.Module):
    """A recurrent language model over values: after reading x_1..x_t it predicts x_{t+1}.

        h_t     = cell(x_t, h_{t-1})       an rnnlab RNN/LSTM/GRU stack, batch-first, one direction
        x̂_{t+1} = W h_t + b                a linear head to the C channels

    Being causal and many-to-many, it is trained on windows (predicting each next step) and then
    run over an unbounded stream with its state carried from point to point.

    Args:
        input_size: channels per time step (C).
        cell: "rnn", "lstm" or "gru".
        hidden_size: features in the hidden state (H).
        num_layers: stacked recurrent layers (L).
        dropout: between recurrent layers only, as in torch.

    Shape:
        xs: (B, T, C). Returns predictions (B, T, C), row t forecasting x_{t+1}, and the final
        state in torch's packing ((L, B, H), or an `LSTMState` of two such tensors).
    """

    def __init__(self, input_size: int, *, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_cell(cell)
        self.input_size = check_positive_int("input_size", input_size)
        self.encoder = ENCODERS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout)
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, xs: Tensor, state=None) -> tuple[Tensor, object]:
        """Runs over `xs` from `state` (zeros when None); returns (predictions, final state)."""
        if xs.dim() != 3 or xs.shape[-1] != self.input_size:
            raise ValueError(f"xs must have shape (B, T, {self.input_size}); received {tuple(xs.shape)}")
        outputs, state = self.encoder(xs, state)   # (B, T, H)
        return self.head(outputs), state           # (B, T, C)

    def step(self, x: Tensor, state=None, *, reset: Tensor | None = None) -> tuple[Tensor, object]:
        """Reads one more point x_t of each stream and forecasts the next, x̂_{t+1}.

        Equal to row t of `forward` over the stream so far; the state is the one `forward`
        takes and returns, so the two can be mixed (read a history whole, then step).

        Args:
            x: (B, C) the newest point of each of B streams.
            state: what the previous call (or `forward`) returned, or None for zeros.
            reset: keyword-only (B,) bool: rows where a new stream starts (see `RecurrentLayer.step`).

        Returns:
            (x̂_{t+1} (B, C), state).
        """
        if x.dim() != 2 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must have shape (B, {self.input_size}), one point per stream; received "
                             f"{tuple(x.shape)}")
        h, state = self.encoder.step(x, state, reset=reset)   # (B, H)
        return self.head(h), state                              # (B, C)


class SequenceAutoencoder(nn.Module):
    """A recurrent sequence autoencoder: window → latent vector → reconstructed window.

        e_t = enc(x_t, e_{t-1}),  t = 1..W       encoder reads the window, e_0 = 0
        z   = W_z e_W + b_z                      latent code, (B, latent_size)
        d_t = dec(z, d_{t-1}),  t = 1..W         decoder reads z at every step, d_0 = 0
        x̃_t = W_o d_t + b_o                      reconstruction, (B, W, C)

    The latent code is narrower than the window, so only the shapes seen in training (normal
    windows) are reconstructed well.

    Args:
        input_size: channels per time step (C).
        cell: "rnn", "lstm" or "gru" (both encoder and decoder).
        hidden_size: features in each hidden state (H).
        latent_size: features in the code z.
        num_layers: stacked layers in the encoder and in the decoder.
        dropout: between recurrent layers only, as in torch.

    Shape:
        windows: (B, W, C). Returns the reconstruction (B, W, C).
    """

    def __init__(self, input_size: int, *, cell: str = "lstm", hidden_size: int = 64, latent_size: int = 8,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        _check_cell(cell)
        self.input_size = check_positive_int("input_size", input_size)
        check_positive_int("latent_size", latent_size)
        layer = ENCODERS[cell]
        self.encoder = layer(input_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.to_latent = nn.Linear(hidden_size, latent_size)
        self.decoder = layer(latent_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, windows: Tensor) -> Tensor:
        if windows.dim() != 3 or windows.shape[-1] != self.input_size:
            raise ValueError(f"windows must have shape (B, W, {self.input_size}); received {tuple(windows.shape)}")
        _, final = self.encoder(windows)
        h_n = final.h if isinstance(final, LSTMState) else final       # (L, B, H)
        z = self.to_latent(h_n[-1])                                     # (B, latent)
        repeated = z.unsqueeze(1).expand(-1, windows.shape[1], -1)      # (B, W, latent)
        outputs, _ = self.decoder(repeated.contiguous())                # (B, W, H)
        return self.head(outputs)                                       # (B, W, C)

    def step(self, x: Tensor, state=None, *, reset: Tensor | None = None):
        """Not available: raises TypeError, because a reconstruction cannot be built one point at a time.

        The decoder starts from the code of the whole window, so no output exists before the
        window's last point, and each new point changes every earlier reconstruction.
        `rnnlab.tasks.streaming.ScoreStream` streams this model with a ring buffer of the last W
        points instead (O(W) work per point).
        """
        raise TypeError("a SequenceAutoencoder cannot step: its reconstruction of a window needs the whole window "
                        "(the decoder reads the code of the last point); received a call to step. Stream it with "
                        "rnnlab.tasks.streaming.ScoreStream, which keeps the last W points")


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


def calibrate_detector(method: str, model: nn.Module | None, values: np.ndarray, mean: np.ndarray, std: np.ndarray, *,
                       train_end: int, normal_until: int, smooth: int, window: int, quantile: float,
                       margin: float) -> Detector:
    """A `Detector` whose scales come from the training span and whose threshold from the calibration span.

    Args:
        method, model, mean, std, smooth, window: as the `Detector` attributes.
        values: (N, C) raw series, N ≥ normal_until; only its first `normal_until` points are read.
        train_end: points [0, train_end) are the training span: s_c = RMS of their residuals
            (those that have one: from point 1, or W − 1 for reconstruction).
        normal_until: points [train_end, normal_until) are the calibration span: τ is
            `calibrate_threshold` of their scores with `quantile` and `margin`.
    """
    detector = Detector(method, model, np.asarray(mean), np.asarray(std), np.ones(len(mean)), smooth, 0.0, window)
    residuals = detector.residuals(detector.standardise(values[:normal_until]))
    first = window - 1 if method == "reconstruction" else 1   # the first point that has a residual
    scale = residual_scale(residuals[first:train_end])
    scores = point_scores(residuals, scale, smooth)
    threshold = calibrate_threshold(scores[train_end:], quantile=quantile, margin=margin)
    return Detector(method, model, detector.mean, detector.std, scale, smooth, threshold, window)


__all__ = ["METHODS", "NextStepForecaster", "SequenceAutoencoder", "forecast_residuals",
           "reconstruction_residuals", "naive_residuals", "residual_scale", "point_scores", "calibrate_threshold",
           "Detector", "calibrate_detector"]
